-- Threat register (risk tracking): one row per threat ever generated for a pipeline.
-- A threat id is stable across re-generation (hash of rule id and element id); `present`
-- is false once a threat has vanished from the latest generation, and decisions are kept.
CREATE TABLE IF NOT EXISTS threat_register (
    pipeline_id           VARCHAR NOT NULL,
    threat_id             VARCHAR NOT NULL,
    rule_id               VARCHAR NOT NULL,
    element_type          VARCHAR NOT NULL,
    element_id            VARCHAR NOT NULL,
    title                 VARCHAR NOT NULL,
    status                VARCHAR NOT NULL DEFAULT 'open',
    justification         VARCHAR NOT NULL DEFAULT '',
    owner_role            VARCHAR NOT NULL,
    ticket                VARCHAR NOT NULL DEFAULT '',
    due_date              DATE,
    present               BOOLEAN NOT NULL DEFAULT TRUE,
    first_seen_generation INTEGER NOT NULL,
    last_seen_generation  INTEGER NOT NULL,
    first_seen_at         TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_at            TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_by            VARCHAR NOT NULL DEFAULT 'system',
    PRIMARY KEY (pipeline_id, threat_id)
);
-- Each re-generation that changed the set of threats.
CREATE TABLE IF NOT EXISTS threat_generations (
    pipeline_id      VARCHAR NOT NULL,
    generation       INTEGER NOT NULL,
    pipeline_version INTEGER,
    generated_at     TIMESTAMP NOT NULL DEFAULT current_timestamp,
    threat_count     INTEGER NOT NULL,
    new_count        INTEGER NOT NULL,
    vanished_count   INTEGER NOT NULL,
    PRIMARY KEY (pipeline_id, generation)
);
-- Implementation status of controls, per pipeline.
CREATE TABLE IF NOT EXISTS control_status (
    pipeline_id VARCHAR NOT NULL,
    control_id  VARCHAR NOT NULL,
    status      VARCHAR NOT NULL,
    note        VARCHAR NOT NULL DEFAULT '',
    updated_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    updated_by  VARCHAR NOT NULL DEFAULT 'local',
    PRIMARY KEY (pipeline_id, control_id)
);
-- Full history of register and control-status changes (one row per changed field).
CREATE SEQUENCE IF NOT EXISTS register_history_seq;
CREATE TABLE IF NOT EXISTS register_history (
    change_id    BIGINT PRIMARY KEY DEFAULT nextval('register_history_seq'),
    pipeline_id  VARCHAR NOT NULL,
    subject_type VARCHAR NOT NULL,
    subject_id   VARCHAR NOT NULL,
    field        VARCHAR NOT NULL,
    old_value    VARCHAR,
    new_value    VARCHAR,
    changed_by   VARCHAR NOT NULL,
    changed_at   TIMESTAMP NOT NULL DEFAULT current_timestamp
);
