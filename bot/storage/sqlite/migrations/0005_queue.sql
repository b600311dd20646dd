-- The durable queue (issue 9 part 5): a queued job is a row with everything needed to run and deliver
-- it, so it survives a restart. SQLite cannot change a CHECK in place, so the table is rebuilt;
-- the triggers and indexes go with the old table and are made again below.
CREATE TABLE jobs_new (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER,
    model       TEXT    NOT NULL,
    params      TEXT    NOT NULL,            -- JSON: the body sent to Pixazo
    cost        INTEGER NOT NULL CHECK (cost >= 0),
    day         TEXT    NOT NULL,            -- the UTC date whose allowance the credits count against
    state       TEXT    NOT NULL CHECK (state IN ('reserved', 'queued', 'running', 'succeeded', 'failed', 'cancelled')),
    created_at  REAL    NOT NULL,
    started_at  REAL,
    finished_at REAL,
    result_url  TEXT,
    error       TEXT,
    inputs      TEXT,
    delivery    TEXT,                        -- JSON: where and how to deliver (application id, prompt, ...)
    interaction_token TEXT,                  -- a credential: cleared when the job ends, never logged
    attempts    INTEGER NOT NULL DEFAULT 0,  -- Pixazo calls started; a second interrupted one fails the job
    rank        INTEGER NOT NULL DEFAULT 0,  -- the member's open jobs when it was queued (fair order)
    cancelled_by INTEGER
);
INSERT INTO jobs_new (id, user_id, guild_id, channel_id, model, params, cost, day, state, created_at, started_at,
                      finished_at, result_url, error, inputs)
    SELECT id, user_id, guild_id, channel_id, model, params, cost, day, state, created_at, started_at,
           finished_at, result_url, error, inputs FROM jobs;
DROP TABLE jobs;
ALTER TABLE jobs_new RENAME TO jobs;

CREATE INDEX jobs_member_day ON jobs (guild_id, user_id, day);
CREATE INDEX jobs_open_user ON jobs (user_id) WHERE state IN ('reserved', 'queued', 'running');
-- The claim and the positions walk this in order: the next job is its first row.
CREATE INDEX jobs_queue ON jobs (rank, id) WHERE state = 'queued';

CREATE TRIGGER jobs_spend AFTER INSERT ON jobs WHEN NEW.state NOT IN ('failed', 'cancelled') BEGIN
    INSERT INTO usage (guild_id, user_id, day, credits) VALUES (NEW.guild_id, NEW.user_id, NEW.day, NEW.cost)
        ON CONFLICT (guild_id, user_id, day) DO UPDATE SET credits = credits + excluded.credits;
    INSERT INTO usage_global (day, credits) VALUES (NEW.day, NEW.cost)
        ON CONFLICT (day) DO UPDATE SET credits = credits + excluded.credits;
END;

CREATE TRIGGER jobs_release AFTER UPDATE OF state ON jobs
WHEN OLD.state NOT IN ('failed', 'cancelled') AND NEW.state IN ('failed', 'cancelled') BEGIN
    UPDATE usage SET credits = credits - OLD.cost
        WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND day = OLD.day;
    UPDATE usage_global SET credits = credits - OLD.cost WHERE day = OLD.day;
    UPDATE usage_resets SET forgiven = forgiven - OLD.cost
        WHERE guild_id = OLD.guild_id AND user_id = OLD.user_id AND day = OLD.day AND OLD.id <= last_job_id;
END;
