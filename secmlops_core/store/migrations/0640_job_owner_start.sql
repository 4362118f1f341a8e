-- When the owning process started, so a job whose process died is recognised even when another
-- process has since been given the same process id.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS owner_started DOUBLE;
