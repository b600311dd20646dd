-- Daily totals kept by triggers in the same transaction as the job rows they sum, so a reservation
-- reads one row instead of summing the day's ledger. The jobs table stays the source of truth:
-- PostgresStore.audit() recomputes these from it.
--
-- Unlike SQLite there is no whole-day total row: every reservation would update that one row and
-- hold its lock until commit, queueing all members behind each other. The day's global use is the
-- sum of the members' rows instead (usage_day index), read only where a reservation needs it.
CREATE TABLE usage (
    guild_id BIGINT  NOT NULL,
    user_id  BIGINT  NOT NULL,
    day      TEXT    NOT NULL,
    credits  INTEGER NOT NULL,            -- cost of the day's jobs that are not failed
    PRIMARY KEY (guild_id, user_id, day)
);
CREATE INDEX usage_day ON usage (day);

-- What a reset forgave: the member's usage at reset time, less what has failed since among those jobs.
-- Jobs up to last_job_id were forgiven; ids, unlike timestamps, cannot tie.
ALTER TABLE usage_resets ADD COLUMN forgiven INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_resets ADD COLUMN last_job_id BIGINT NOT NULL DEFAULT 0;

INSERT INTO usage (guild_id, user_id, day, credits)
    SELECT guild_id, user_id, day, SUM(cost) FROM jobs WHERE state != 'failed' GROUP BY guild_id, user_id, day;
UPDATE usage_resets SET forgiven = (
    SELECT COALESCE(SUM(cost), 0) FROM jobs AS j
    WHERE j.guild_id = usage_resets.guild_id AND j.user_id = usage_resets.user_id AND j.day = usage_resets.day
      AND j.state != 'failed' AND j.created_at <= usage_resets.reset_at);
UPDATE usage_resets SET last_job_id = (
    SELECT COALESCE(MAX(id), 0) FROM jobs AS j WHERE j.created_at <= usage_resets.reset_at);

CREATE FUNCTION jobs_spend() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage (guild_id, user_id, day, credits) VALUES (NEW.guild_id, NEW.user_id, NEW.day, NEW.cost)
        ON CONFLICT (guild_id, user_id, day) DO UPDATE SET credits = usage.credits + excluded.credits;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_spend AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.state != 'failed') EXECUTE FUNCTION jobs_spend();

CREATE FUNCTION jobs_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE usage SET credits = credits - OLD.cost
        WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND day = OLD.day;
    UPDATE usage_resets SET forgiven = forgiven - OLD.cost
        WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND day = OLD.day AND OLD.id <= last_job_id;
    RETURN NULL;
END $$;
CREATE TRIGGER jobs_release AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state != 'failed' AND NEW.state = 'failed') EXECUTE FUNCTION jobs_release();

-- The in-flight cap counts one member's open jobs; this keeps that to an index lookup.
CREATE INDEX jobs_open_user ON jobs (user_id) WHERE state IN ('reserved', 'running');

-- Every index is written on each reservation: keep only those a query uses.
DROP INDEX jobs_day;
DROP INDEX jobs_open;
