-- Job leases (issue 13 part 9): a running job is held by one process (lease_owner) until lease_until,
-- which that process keeps pushing forward while the Pixazo call runs. Once it lies in the past the
-- process is presumed dead and any claim may take the job over. On SQLite only one process runs (the
-- DATA_DIR lock), but the columns and rules are the same as PostgreSQL's so the store behaves alike.
ALTER TABLE jobs ADD COLUMN lease_owner TEXT;
ALTER TABLE jobs ADD COLUMN lease_until REAL;
-- The claim counts live leases (the cluster's bound) and looks for expired ones on every call.
CREATE INDEX jobs_running_lease ON jobs (lease_until) WHERE state = 'running';
