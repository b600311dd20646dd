-- Daily totals kept by triggers in the same transaction as the job rows they sum, so a reservation
-- reads one row instead of summing the day's ledger. The jobs table stays the source of truth:
-- Store.audit() recomputes these from it.
CREATE TABLE usage (
    guild_id INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    day      TEXT    NOT NULL,
    credits  INTEGER NOT NULL,            -- cost of the day's jobs that are not failed
    PRIMARY KEY (guild_id, user_id, day)
) WITHOUT ROWID;

CREATE TABLE usage_global (
    day     TEXT    PRIMARY KEY,
    credits INTEGER NOT NULL
) WITHOUT ROWID;

-- What a reset forgave: the member's usage at reset time, less what has failed since among those jobs.
-- Jobs up to last_job_id were forgiven; ids, unlike timestamps, cannot tie.
ALTER TABLE usage_resets ADD COLUMN forgiven INTEGER NOT NULL DEFAULT 0;
ALTER TABLE usage_resets ADD COLUMN last_job_id INTEGER NOT NULL DEFAULT 0;

INSERT INTO usage (guild_id, user_id, day, credits)
    SELECT guild_id, user_id, day, SUM(cost) FROM jobs WHERE state != 'failed' GROUP BY guild_id, user_id, day;
INSERT INTO usage_global (day, credits)
    SELECT day, SUM(cost) FROM jobs WHERE state != 'failed' GROUP BY day;
UPDATE usage_resets SET forgiven = (
    SELECT COALESCE(SUM(cost), 0) FROM jobs AS j
    WHERE j.guild_id = usage_resets.guild_id AND j.user_id = usage_resets.user_id AND j.day = usage_resets.day
      AND j.state != 'failed' AND j.created_at <= usage_resets.reset_at);
UPDATE usage_resets SET last_job_id = (
    SELECT COALESCE(MAX(id), 0) FROM jobs AS j WHERE j.created_at <= usage_resets.reset_at);

CREATE TRIGGER jobs_spend AFTER INSERT ON jobs WHEN NEW.state != 'failed' BEGIN
    INSERT INTO usage (guild_id, user_id, day, credits) VALUES (NEW.guild_id, NEW.user_id, NEW.day, NEW.cost)
        ON CONFLICT (guild_id, user_id, day) DO UPDATE SET credits = credits + excluded.credits;
    INSERT INTO usage_global (day, credits) VALUES (NEW.day, NEW.cost)
        ON CONFLICT (day) DO UPDATE SET credits = credits + excluded.credits;
END;

CREATE TRIGGER jobs_release AFTER UPDATE OF state ON jobs
WHEN OLD.state != 'failed' AND NEW.state = 'failed' BEGIN
    UPDATE usage SET credits = credits - OLD.cost
        WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND day = OLD.day;
    UPDATE usage_global SET credits = credits - OLD.cost WHERE day = OLD.day;
    UPDATE usage_resets SET forgiven = forgiven - OLD.cost
        WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND day = OLD.day AND OLD.id <= last_job_id;
END;

-- The in-flight cap counts one member's open jobs; this keeps that to an index lookup.
CREATE INDEX jobs_open_user ON jobs (user_id) WHERE state IN ('reserved', 'running');

-- Every index is written on each reservation: keep only those a query uses. The daily sums no longer
-- scan by day, and recovery finds open jobs through jobs_open_user's partial index.
DROP INDEX jobs_day;
DROP INDEX jobs_open;
