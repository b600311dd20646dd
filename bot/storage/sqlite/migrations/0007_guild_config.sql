-- Per-server moderation (issue 11 part 7): each server's /config entries, its daily budget, and the
-- per-server daily total a reservation checks the budget against.

-- One row per list entry or setting; kind's list is RuleKind's values (bot/domain/rules.py), and a
-- test puts a row of every kind, so the two cannot drift apart unnoticed.
CREATE TABLE guild_rules (
    guild_id INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('channel', 'role', 'blocked', 'model_off', 'word', 'pattern',
                                              'approval', 'setting')),
    value    TEXT    NOT NULL,
    detail   TEXT,                            -- JSON: a block's reason, a setting's value
    actor_id INTEGER NOT NULL,
    at       REAL    NOT NULL,
    PRIMARY KEY (guild_id, kind, value)
) WITHOUT ROWID;

-- /quotas budget: what all of a server's members together may spend per UTC day.
CREATE TABLE guild_budgets (
    guild_id      INTEGER PRIMARY KEY,
    daily_credits INTEGER NOT NULL CHECK (daily_credits >= 0)
);

-- Kept like usage and usage_global, by the same triggers; a reset forgives a member, not the server.
CREATE TABLE usage_guild (
    guild_id INTEGER NOT NULL,
    day      TEXT    NOT NULL,
    credits  INTEGER NOT NULL,
    PRIMARY KEY (guild_id, day)
) WITHOUT ROWID;

INSERT INTO usage_guild (guild_id, day, credits)
    SELECT guild_id, day, SUM(cost) FROM jobs WHERE state NOT IN ('failed', 'cancelled') GROUP BY guild_id, day;

DROP TRIGGER jobs_spend;
CREATE TRIGGER jobs_spend AFTER INSERT ON jobs WHEN NEW.state NOT IN ('failed', 'cancelled') BEGIN
    INSERT INTO usage (guild_id, user_id, day, credits) VALUES (NEW.guild_id, NEW.user_id, NEW.day, NEW.cost)
        ON CONFLICT (guild_id, user_id, day) DO UPDATE SET credits = credits + excluded.credits;
    INSERT INTO usage_guild (guild_id, day, credits) VALUES (NEW.guild_id, NEW.day, NEW.cost)
        ON CONFLICT (guild_id, day) DO UPDATE SET credits = credits + excluded.credits;
    INSERT INTO usage_global (day, credits) VALUES (NEW.day, NEW.cost)
        ON CONFLICT (day) DO UPDATE SET credits = credits + excluded.credits;
END;

DROP TRIGGER jobs_release;
CREATE TRIGGER jobs_release AFTER UPDATE OF state ON jobs
WHEN OLD.state NOT IN ('failed', 'cancelled') AND NEW.state IN ('failed', 'cancelled') BEGIN
    UPDATE usage SET credits = credits - OLD.cost
        WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND day = OLD.day;
    UPDATE usage_guild SET credits = credits - OLD.cost WHERE guild_id = OLD.guild_id AND day = OLD.day;
    UPDATE usage_global SET credits = credits - OLD.cost WHERE day = OLD.day;
    UPDATE usage_resets SET forgiven = forgiven - OLD.cost
        WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND day = OLD.day AND OLD.id <= last_job_id;
END;
