-- Governance workspace: role profiles (display name, responsibility, people), per-pipeline
-- RACI rows that replace the default row, compliance mapping edits, and a history of every
-- governance change (also recorded in the audit trail).
CREATE TABLE IF NOT EXISTS governance_roles (
    role_id        VARCHAR PRIMARY KEY,
    name           VARCHAR NOT NULL,
    responsibility VARCHAR NOT NULL,
    people         VARCHAR NOT NULL DEFAULT '[]',
    updated_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_by     VARCHAR NOT NULL
);
CREATE TABLE IF NOT EXISTS governance_raci (
    pipeline_id VARCHAR NOT NULL,
    row_type    VARCHAR NOT NULL,          -- stage | control
    row_id      VARCHAR NOT NULL,
    cells       VARCHAR NOT NULL,          -- JSON {role_id: letters}
    updated_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_by  VARCHAR NOT NULL,
    PRIMARY KEY (pipeline_id, row_type, row_id)
);
CREATE TABLE IF NOT EXISTS governance_mappings (
    framework_id   VARCHAR NOT NULL,
    requirement_id VARCHAR NOT NULL,
    controls       VARCHAR NOT NULL,       -- JSON list of control ids (replaces the shipped list)
    updated_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_by     VARCHAR NOT NULL,
    PRIMARY KEY (framework_id, requirement_id)
);
CREATE SEQUENCE IF NOT EXISTS governance_history_seq;
CREATE TABLE IF NOT EXISTS governance_history (
    change_id   BIGINT PRIMARY KEY DEFAULT nextval('governance_history_seq'),
    pipeline_id VARCHAR,
    area        VARCHAR NOT NULL,          -- role | raci | control | mapping | provenance | gates
    subject     VARCHAR NOT NULL,
    before      VARCHAR,
    after       VARCHAR,
    changed_by  VARCHAR NOT NULL,
    changed_at  TIMESTAMP NOT NULL DEFAULT current_timestamp
);
