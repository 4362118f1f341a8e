-- The audit trail's head (newest sequence number and hash), signed with a key kept outside the
-- store file: deleting the newest entries or recomputing the whole chain no longer verifies.
CREATE TABLE IF NOT EXISTS audit_head (
    id   INTEGER PRIMARY KEY,
    seq  BIGINT NOT NULL,
    hash VARCHAR NOT NULL,
    mac  VARCHAR NOT NULL
);
