-- Whether a pipeline is the one the studio's live detector deploys: its unattached
-- operational evidence (drift snapshots, attack-lab runs) and all incidents then count for it.
CREATE TABLE IF NOT EXISTS governance_pipelines (
    pipeline_id   VARCHAR PRIMARY KEY,
    live_detector BOOLEAN NOT NULL,
    updated_at    TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_by    VARCHAR NOT NULL
);
