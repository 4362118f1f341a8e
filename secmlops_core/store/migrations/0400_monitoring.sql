-- Drift snapshots: one row per drift comparison with its windows and per-column results.
CREATE TABLE IF NOT EXISTS drift_snapshots (
    snapshot_id     VARCHAR PRIMARY KEY,
    camera_id       VARCHAR,
    reference_start TIMESTAMP NOT NULL,
    reference_end   TIMESTAMP NOT NULL,
    current_start   TIMESTAMP NOT NULL,
    current_end     TIMESTAMP NOT NULL,
    reference_rows  BIGINT NOT NULL,
    current_rows    BIGINT NOT NULL,
    mode            VARCHAR NOT NULL,
    drift_share     DOUBLE NOT NULL,
    dataset_drift   BOOLEAN NOT NULL,
    result          VARCHAR NOT NULL,
    trigger         VARCHAR NOT NULL DEFAULT 'manual',
    created_at      TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE INDEX IF NOT EXISTS drift_snapshots_by_time ON drift_snapshots (current_end);

-- Incidents raised by alert rules (or by hand), with their lifecycle timestamps.
CREATE TABLE IF NOT EXISTS incidents (
    incident_id      VARCHAR PRIMARY KEY,
    rule_id          VARCHAR NOT NULL,
    dedup_key        VARCHAR NOT NULL,
    title            VARCHAR NOT NULL,
    severity         VARCHAR NOT NULL,
    status           VARCHAR NOT NULL DEFAULT 'open',
    owner_role       VARCHAR NOT NULL,
    camera_id        VARCHAR,
    signal           VARCHAR,
    window_start     TIMESTAMP,
    window_end       TIMESTAMP,
    details          VARCHAR NOT NULL DEFAULT '{}',
    threat_links     VARCHAR NOT NULL DEFAULT '[]',
    occurrences      INTEGER NOT NULL DEFAULT 1,
    opened_at        TIMESTAMP NOT NULL,
    last_seen_at     TIMESTAMP NOT NULL,
    acknowledged_at  TIMESTAMP,
    investigating_at TIMESTAMP,
    resolved_at      TIMESTAMP
);
CREATE INDEX IF NOT EXISTS incidents_by_key ON incidents (rule_id, dedup_key);

-- The timeline of each incident: opened, repeats, status changes, owner changes, notes.
CREATE SEQUENCE IF NOT EXISTS incident_events_seq;
CREATE TABLE IF NOT EXISTS incident_events (
    event_id    BIGINT PRIMARY KEY DEFAULT nextval('incident_events_seq'),
    incident_id VARCHAR NOT NULL,
    event_at    TIMESTAMP NOT NULL,
    kind        VARCHAR NOT NULL,
    actor       VARCHAR NOT NULL,
    text        VARCHAR NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS incident_events_by_incident ON incident_events (incident_id, event_at);

-- Alert evaluation bookkeeping: when each rule/key last fired (cooldown) and when rules last ran.
CREATE TABLE IF NOT EXISTS alert_state (
    rule_id       VARCHAR NOT NULL,
    dedup_key     VARCHAR NOT NULL,
    last_fired_at TIMESTAMP,
    last_value    DOUBLE,
    PRIMARY KEY (rule_id, dedup_key)
);
CREATE TABLE IF NOT EXISTS alert_runs (
    run_id       BIGINT PRIMARY KEY,
    started_at   TIMESTAMP NOT NULL,
    seconds      DOUBLE NOT NULL,
    fired        INTEGER NOT NULL,
    problems     VARCHAR NOT NULL DEFAULT '[]'
);
