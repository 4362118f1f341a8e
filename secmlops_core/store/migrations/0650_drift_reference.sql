-- The drift reference of each camera: the window every drift comparison measures against.
-- kind 'pinned': chosen by an operator (who and when); kind 'settled': the camera's first settled
-- stretch of normal operation, found by the alert rules once and kept. A pinned one wins.
CREATE TABLE IF NOT EXISTS drift_references (
    camera_id       VARCHAR NOT NULL,
    kind            VARCHAR NOT NULL,
    reference_start TIMESTAMP NOT NULL,
    reference_end   TIMESTAMP NOT NULL,
    set_by          VARCHAR NOT NULL,
    set_at          TIMESTAMP NOT NULL,
    note            VARCHAR NOT NULL DEFAULT '',
    PRIMARY KEY (camera_id, kind)
);

-- A drift incident's episode: what caused it and when its drift ended (a later drift start is a
-- new incident, not a repeat of an ended one).
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS cause VARCHAR;
ALTER TABLE incidents ADD COLUMN IF NOT EXISTS ended_at TIMESTAMP;
