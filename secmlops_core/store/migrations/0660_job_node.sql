-- Where a job ran when a Ray cluster ran it: the node (host, address, Ray node id) and the device
-- (cpu, or cuda with the card's name). NULL: the job ran in the app's own process.
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS node VARCHAR;
ALTER TABLE jobs ADD COLUMN IF NOT EXISTS device VARCHAR;
