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

-- What a member has today, as a reservation sees it: the one copy of that query on PostgreSQL.
-- p_open is the list of open job states, passed in by the store from JobState. PL/pgSQL rather than
-- SQL: a SQL function that cannot be inlined is planned again on every call, PL/pgSQL keeps its plan.
CREATE FUNCTION quota_snapshot(p_guild BIGINT, p_user BIGINT, p_roles BIGINT[], p_day TEXT, p_open TEXT[],
    OUT by_member INTEGER, OUT by_role INTEGER, OUT by_guild INTEGER, OUT granted BIGINT, OUT used BIGINT,
    OUT in_flight BIGINT, OUT global_used BIGINT)
LANGUAGE plpgsql STABLE AS $$
BEGIN
    SELECT
      (SELECT daily_credits FROM allowances WHERE guild_id = p_guild AND scope = 'member' AND target_id = p_user),
      (SELECT MAX(daily_credits) FROM allowances
         WHERE guild_id = p_guild AND scope = 'role' AND target_id = ANY(p_roles)),
      (SELECT daily_credits FROM allowances WHERE guild_id = p_guild AND scope = 'default' AND target_id = 0),
      (SELECT COALESCE(SUM(credits), 0) FROM grants WHERE guild_id = p_guild AND user_id = p_user AND day = p_day),
      COALESCE((SELECT credits FROM usage WHERE guild_id = p_guild AND user_id = p_user AND day = p_day), 0)
        - COALESCE((SELECT forgiven FROM usage_resets
                      WHERE guild_id = p_guild AND user_id = p_user AND day = p_day), 0),
      (SELECT COUNT(*) FROM jobs WHERE user_id = p_user AND state = ANY(p_open)),
      (SELECT COALESCE(SUM(credits), 0) FROM usage WHERE day = p_day)
    INTO by_member, by_role, by_guild, granted, used, in_flight, global_used;
END $$;

-- A reservation's check-and-spend in one call, so one round trip and one implicit transaction.
-- The member's advisory lock (and the cap's, when there is a cap) is taken first and held to the
-- end of the transaction; the function is VOLATILE, so the snapshot read after it sees every
-- reservation committed before the lock was granted. The rules are those of SqliteStore.reserve,
-- and the store tests hold both backends to them. refused is NULL, 'jobs', 'credits' or 'global'.
CREATE FUNCTION reserve_job(p_guild BIGINT, p_user BIGINT, p_roles BIGINT[], p_day TEXT, p_open TEXT[],
    p_default_allowance BIGINT, p_max_jobs BIGINT, p_global_cap BIGINT, p_cost INTEGER, p_channel BIGINT,
    p_model TEXT, p_params TEXT, p_state TEXT, p_created DOUBLE PRECISION, p_inputs TEXT,
    OUT job_id BIGINT, OUT refused TEXT, OUT by_member INTEGER, OUT by_role INTEGER, OUT by_guild INTEGER,
    OUT granted BIGINT, OUT used BIGINT, OUT in_flight BIGINT, OUT global_used BIGINT)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    allowance BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(p_user);
    IF p_global_cap IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(28792, 2);  -- 0x7078: beside MIGRATION_LOCK's (0x7078, 1)
    END IF;
    SELECT * INTO by_member, by_role, by_guild, granted, used, in_flight, global_used
        FROM quota_snapshot(p_guild, p_user, p_roles, p_day, p_open);
    allowance := COALESCE(by_member, by_role, by_guild, p_default_allowance);
    IF in_flight >= p_max_jobs THEN
        refused := 'jobs';
    ELSIF p_cost > GREATEST(0, allowance + granted - used) THEN
        refused := 'credits';
    ELSIF p_global_cap IS NOT NULL AND global_used + p_cost > p_global_cap THEN
        refused := 'global';
    ELSE
        INSERT INTO jobs (user_id, guild_id, channel_id, model, params, cost, day, state, created_at, inputs)
            VALUES (p_user, p_guild, p_channel, p_model, p_params, p_cost, p_day, p_state, p_created, p_inputs)
            RETURNING id INTO job_id;
    END IF;
END $$;
