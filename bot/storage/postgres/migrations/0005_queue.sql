-- The durable queue (issue 9 part 5): a queued job is a row with everything needed to run and deliver
-- it, so it survives a restart.
ALTER TABLE jobs ADD COLUMN delivery TEXT;                     -- JSON: where and how to deliver
ALTER TABLE jobs ADD COLUMN interaction_token TEXT;            -- a credential: cleared when the job ends
ALTER TABLE jobs ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;  -- Pixazo calls started
ALTER TABLE jobs ADD COLUMN rank INTEGER NOT NULL DEFAULT 0;   -- the member's open jobs when queued (fair order)
ALTER TABLE jobs ADD COLUMN cancelled_by BIGINT;
ALTER TABLE jobs DROP CONSTRAINT jobs_state_check;
ALTER TABLE jobs ADD CONSTRAINT jobs_state_check
    CHECK (state IN ('reserved', 'queued', 'running', 'succeeded', 'failed', 'cancelled'));

DROP INDEX jobs_open_user;
CREATE INDEX jobs_open_user ON jobs (user_id) WHERE state IN ('reserved', 'queued', 'running');
-- The claim and the positions walk this in order: the next job is its first row.
CREATE INDEX jobs_queue ON jobs (rank, id) WHERE state = 'queued';

DROP TRIGGER jobs_release ON jobs;
CREATE TRIGGER jobs_release AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state NOT IN ('failed', 'cancelled') AND NEW.state IN ('failed', 'cancelled'))
    EXECUTE FUNCTION jobs_release();
