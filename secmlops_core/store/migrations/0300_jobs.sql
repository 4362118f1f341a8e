-- Background jobs (attack runs, patch training, fine-tunes; reusable by monitoring and governance).
-- Every job is persisted from submission to its end; a job whose owning process died is marked
-- failed by the next process that starts a job manager.
CREATE TABLE IF NOT EXISTS jobs (
    job_id            VARCHAR PRIMARY KEY,
    kind              VARCHAR NOT NULL,
    title             VARCHAR NOT NULL,
    resource          VARCHAR NOT NULL,          -- 'cpu' | 'gpu'
    status            VARCHAR NOT NULL,          -- queued | running | succeeded | failed | cancelled
    params            VARCHAR NOT NULL DEFAULT '{}',
    progress          DOUBLE NOT NULL DEFAULT 0,
    message           VARCHAR NOT NULL DEFAULT '',
    eta_s             DOUBLE,
    time_limit_s      DOUBLE NOT NULL,
    cancel_requested  BOOLEAN NOT NULL DEFAULT false,
    owner_pid         INTEGER NOT NULL,
    ref               VARCHAR,
    result            VARCHAR,
    error             VARCHAR,
    created_at        TIMESTAMP NOT NULL DEFAULT current_timestamp,
    started_at        TIMESTAMP,
    finished_at       TIMESTAMP
);
CREATE INDEX IF NOT EXISTS jobs_by_status ON jobs (status);
