-- Per-server moderation (issue 11 part 7): each server's /config entries, its daily budget, and the
-- per-server daily total a reservation checks the budget against.

-- One row per list entry or setting; kind's list is RuleKind's values (bot/domain/rules.py), and a
-- test puts a row of every kind, so the two cannot drift apart unnoticed.
CREATE TABLE guild_rules (
    guild_id BIGINT NOT NULL,
    kind     TEXT   NOT NULL CHECK (kind IN ('channel', 'role', 'blocked', 'model_off', 'word', 'pattern',
                                             'approval', 'setting')),
    value    TEXT   NOT NULL,
    detail   TEXT,                            -- JSON: a block's reason, a setting's value
    actor_id BIGINT NOT NULL,
    at       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, kind, value)
);

-- /quotas budget: what all of a server's members together may spend per UTC day. A reservation in a
-- server with a budget locks this row (FOR UPDATE) before it reads the server's total, so that
-- server's reservations take turns; servers without a budget have no row and no such wait.
CREATE TABLE guild_budgets (
    guild_id      BIGINT  PRIMARY KEY,
    daily_credits INTEGER NOT NULL CHECK (daily_credits >= 0)
);

-- Kept like usage, by the same triggers; a reset forgives a member, not the server.
CREATE TABLE usage_guild (
    guild_id BIGINT  NOT NULL,
    day      TEXT    NOT NULL,
    credits  INTEGER NOT NULL,
    PRIMARY KEY (guild_id, day)
);

INSERT INTO usage_guild (guild_id, day, credits)
    SELECT guild_id, day, SUM(cost) FROM jobs WHERE state NOT IN ('failed', 'cancelled') GROUP BY guild_id, day;

-- usage_guild before usage, on spend and on release alike: every transaction takes a server's row
-- before any of its members' rows, so a settle of many jobs (expiry, recovery) and a reservation
-- cannot each hold the row the other waits for.
CREATE OR REPLACE FUNCTION jobs_spend() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO usage_guild (guild_id, day, credits) VALUES (NEW.guild_id, NEW.day, NEW.cost)
        ON CONFLICT (guild_id, day) DO UPDATE SET credits = usage_guild.credits + excluded.credits;
    INSERT INTO usage (guild_id, user_id, day, credits) VALUES (NEW.guild_id, NEW.user_id, NEW.day, NEW.cost)
        ON CONFLICT (guild_id, user_id, day) DO UPDATE SET credits = usage.credits + excluded.credits;
    RETURN NULL;
END $$;

-- 0005 taught jobs_release about cancelled jobs but left this WHEN as 0004 wrote it: a row inserted
-- already cancelled (only plain SQL does that) counted. Now the same as SQLite's trigger.
DROP TRIGGER jobs_spend ON jobs;
CREATE TRIGGER jobs_spend AFTER INSERT ON jobs
    FOR EACH ROW WHEN (NEW.state NOT IN ('failed', 'cancelled')) EXECUTE FUNCTION jobs_spend();

CREATE OR REPLACE FUNCTION jobs_release() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE usage_guild SET credits = credits - OLD.cost WHERE guild_id = OLD.guild_id AND day = OLD.day;
    UPDATE usage SET credits = credits - OLD.cost
        WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND day = OLD.day;
    UPDATE usage_resets SET forgiven = forgiven - OLD.cost
        WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND day = OLD.day AND OLD.id <= last_job_id;
    RETURN NULL;
END $$;
-- Made again as 0005 wrote it, so this migration holds both triggers in force, as SQLite's 0007 does.
DROP TRIGGER jobs_release ON jobs;
CREATE TRIGGER jobs_release AFTER UPDATE OF state ON jobs
    FOR EACH ROW WHEN (OLD.state NOT IN ('failed', 'cancelled') AND NEW.state IN ('failed', 'cancelled'))
    EXECUTE FUNCTION jobs_release();

-- Both functions gain the server's total and budget; their OUT columns change, so they are made anew.
DROP FUNCTION reserve_job(BIGINT, BIGINT, BIGINT[], TEXT, TEXT[], BIGINT, BIGINT, BIGINT, INTEGER, BIGINT, TEXT,
                          TEXT, TEXT, DOUBLE PRECISION, TEXT);
DROP FUNCTION quota_snapshot(BIGINT, BIGINT, BIGINT[], TEXT, TEXT[]);

CREATE FUNCTION quota_snapshot(p_guild BIGINT, p_user BIGINT, p_roles BIGINT[], p_day TEXT, p_open TEXT[],
    OUT by_member INTEGER, OUT by_role INTEGER, OUT by_guild INTEGER, OUT granted BIGINT, OUT used BIGINT,
    OUT in_flight BIGINT, OUT global_used BIGINT, OUT guild_used BIGINT, OUT guild_budget INTEGER)
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
      (SELECT COALESCE(SUM(credits), 0) FROM usage WHERE day = p_day),
      COALESCE((SELECT credits FROM usage_guild WHERE guild_id = p_guild AND day = p_day), 0),
      (SELECT daily_credits FROM guild_budgets WHERE guild_id = p_guild)
    INTO by_member, by_role, by_guild, granted, used, in_flight, global_used, guild_used, guild_budget;
END $$;

-- As in 0004, with the server's budget checked first (the issue's gate order: server budget, then the
-- member's quota) and under the budget row's lock. Locks are always taken in one order (the member's,
-- the server's, its budget row, the cap's), so two reservations never wait for each other's locks. refused is NULL,
-- 'budget', 'jobs', 'credits' or 'global'.
CREATE FUNCTION reserve_job(p_guild BIGINT, p_user BIGINT, p_roles BIGINT[], p_day TEXT, p_open TEXT[],
    p_default_allowance BIGINT, p_max_jobs BIGINT, p_global_cap BIGINT, p_cost INTEGER, p_channel BIGINT,
    p_model TEXT, p_params TEXT, p_state TEXT, p_created DOUBLE PRECISION, p_inputs TEXT,
    OUT job_id BIGINT, OUT refused TEXT, OUT by_member INTEGER, OUT by_role INTEGER, OUT by_guild INTEGER,
    OUT granted BIGINT, OUT used BIGINT, OUT in_flight BIGINT, OUT global_used BIGINT, OUT guild_used BIGINT,
    OUT guild_budget INTEGER)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    allowance BIGINT;
BEGIN
    PERFORM pg_advisory_xact_lock(p_user);
    -- Shared, so reservations never wait for each other on it; set_budget takes it exclusively, so a
    -- budget appears between reservations, never under one that found no budget row to lock.
    PERFORM pg_advisory_xact_lock_shared(28794, hashtext(p_guild::text));
    PERFORM FROM guild_budgets WHERE guild_id = p_guild FOR UPDATE;
    IF p_global_cap IS NOT NULL THEN
        PERFORM pg_advisory_xact_lock(28792, 2);  -- 0x7078: beside MIGRATION_LOCK's (0x7078, 1)
    END IF;
    SELECT * INTO by_member, by_role, by_guild, granted, used, in_flight, global_used, guild_used, guild_budget
        FROM quota_snapshot(p_guild, p_user, p_roles, p_day, p_open);
    allowance := COALESCE(by_member, by_role, by_guild, p_default_allowance);
    IF guild_budget IS NOT NULL AND guild_used + p_cost > guild_budget THEN
        refused := 'budget';
    ELSIF in_flight >= p_max_jobs THEN
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
