-- Pipelines drawn in the designer and their saved versions (the document is the
-- canonical JSON form of the pipeline file format).
CREATE TABLE IF NOT EXISTS pipelines (
    pipeline_id VARCHAR PRIMARY KEY,
    name        VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS pipeline_versions (
    pipeline_id VARCHAR NOT NULL,
    version     INTEGER NOT NULL,
    label       VARCHAR NOT NULL,
    document    VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    author      VARCHAR NOT NULL DEFAULT 'local',
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    PRIMARY KEY (pipeline_id, version)
);
