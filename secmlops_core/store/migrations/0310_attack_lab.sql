-- Attack-lab runs (replayable: parameters, device, durations, metrics, thumbnails), robustness
-- evaluations (the trade-off table) and candidate models produced by fine-tunes (poisoned or
-- adversarially trained), which never serve live unless an operator promotes them.
CREATE TABLE IF NOT EXISTS attack_runs (
    run_id        VARCHAR PRIMARY KEY,
    job_id        VARCHAR,
    attack        VARCHAR NOT NULL,
    params        VARCHAR NOT NULL DEFAULT '{}',
    image_ref     VARCHAR NOT NULL,
    model_id      VARCHAR NOT NULL,
    model_sha256  VARCHAR NOT NULL,
    device        VARCHAR NOT NULL,
    status        VARCHAR NOT NULL,          -- succeeded | failed | cancelled
    durations     VARCHAR NOT NULL DEFAULT '{}',
    metrics       VARCHAR NOT NULL DEFAULT '{}',
    result        VARCHAR NOT NULL DEFAULT '{}',
    thumbnails    VARCHAR NOT NULL DEFAULT '{}',
    pipeline_id   VARCHAR,
    threat_id     VARCHAR,
    error         VARCHAR,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS robustness_evaluations (
    evaluation_id VARCHAR PRIMARY KEY,
    job_id        VARCHAR,
    params        VARCHAR NOT NULL DEFAULT '{}',
    basis         VARCHAR NOT NULL,          -- labels | clean-model
    device        VARCHAR NOT NULL,
    result        VARCHAR NOT NULL,
    gate_passed   BOOLEAN,
    pipeline_id   VARCHAR,
    threat_id     VARCHAR,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS model_candidates (
    candidate_id  VARCHAR PRIMARY KEY,
    kind          VARCHAR NOT NULL,          -- poisoned-backdoor | poisoned-label-flip | adversarial-training
    sha256        VARCHAR NOT NULL,
    path          VARCHAR NOT NULL,
    base_model_id VARCHAR NOT NULL,
    base_sha256   VARCHAR NOT NULL,
    params        VARCHAR NOT NULL DEFAULT '{}',
    metrics       VARCHAR NOT NULL DEFAULT '{}',
    job_id        VARCHAR,
    promoted_at   TIMESTAMP,
    promoted_by   VARCHAR,
    promotion_reason VARCHAR,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);
