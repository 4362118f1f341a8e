-- The designer's unsaved working copy of each pipeline, so that a closed tab or a
-- restarted app loses no edits. One shared draft per pipeline; saving a version clears it.
CREATE TABLE IF NOT EXISTS pipeline_drafts (
    pipeline_id VARCHAR PRIMARY KEY,
    document    VARCHAR NOT NULL,
    base_version INTEGER,
    updated_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
