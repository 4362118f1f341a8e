-- Who launched each job: per-person attack-lab quotas count by it, and the audit trail names it.
ALTER TABLE jobs ADD COLUMN submitted_by VARCHAR DEFAULT '';
CREATE INDEX IF NOT EXISTS jobs_by_submitter ON jobs (submitted_by, created_at);
