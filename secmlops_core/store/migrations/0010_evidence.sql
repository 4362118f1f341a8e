-- Evidence produced by the product itself (attack-lab runs, evaluations, drift snapshots,
-- incidents, gate results), optionally attached to a threat of a pipeline's register.
CREATE TABLE IF NOT EXISTS evidence (
    evidence_id VARCHAR PRIMARY KEY,
    kind        VARCHAR NOT NULL,
    source_ref  VARCHAR NOT NULL,
    summary     VARCHAR NOT NULL,
    pipeline_id VARCHAR,
    threat_id   VARCHAR,
    outcome     VARCHAR NOT NULL DEFAULT 'info',
    metrics     VARCHAR NOT NULL DEFAULT '{}',
    created_by  VARCHAR NOT NULL DEFAULT 'system',
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX IF NOT EXISTS evidence_by_threat ON evidence (pipeline_id, threat_id);
