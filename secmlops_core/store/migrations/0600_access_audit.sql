-- Local accounts (OIDC users appear here by e-mail with no password), kiosk tokens, failed
-- sign-in attempts for throttling, and the tamper-evident audit trail (a SHA-256 hash chain).
CREATE TABLE IF NOT EXISTS users (
    username      VARCHAR PRIMARY KEY,
    display_name  VARCHAR NOT NULL DEFAULT '',
    password_hash VARCHAR,
    roles         VARCHAR NOT NULL,
    pipelines     VARCHAR,
    disabled      BOOLEAN NOT NULL DEFAULT false,
    created_at    TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS kiosk_tokens (
    token_hash  VARCHAR PRIMARY KEY,
    label       VARCHAR NOT NULL,
    created_at  TIMESTAMP NOT NULL DEFAULT current_timestamp,
    revoked     BOOLEAN NOT NULL DEFAULT false
);
CREATE TABLE IF NOT EXISTS sign_in_failures (
    username  VARCHAR NOT NULL,
    failed_at TIMESTAMP NOT NULL DEFAULT current_timestamp
);
CREATE TABLE IF NOT EXISTS audit_log (
    seq       BIGINT PRIMARY KEY,
    recorded_at VARCHAR NOT NULL,
    actor     VARCHAR NOT NULL,
    action    VARCHAR NOT NULL,
    subject   VARCHAR NOT NULL,
    before    VARCHAR,
    after     VARCHAR,
    prev_hash VARCHAR NOT NULL,
    hash      VARCHAR NOT NULL
);
