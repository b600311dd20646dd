-- The job ledger: every generation is one row, and usage is always summed from it.
CREATE TABLE jobs (
    id          INTEGER PRIMARY KEY,
    user_id     INTEGER NOT NULL,
    guild_id    INTEGER NOT NULL,
    channel_id  INTEGER,
    model       TEXT    NOT NULL,
    params      TEXT    NOT NULL,            -- JSON: the body sent to Pixazo
    cost        INTEGER NOT NULL CHECK (cost >= 0),
    day         TEXT    NOT NULL,            -- the UTC date whose allowance the credits count against
    state       TEXT    NOT NULL CHECK (state IN ('reserved', 'running', 'succeeded', 'failed')),
    created_at  REAL    NOT NULL,
    started_at  REAL,
    finished_at REAL,
    result_url  TEXT,
    error       TEXT
);
CREATE INDEX jobs_member_day ON jobs (guild_id, user_id, day);
CREATE INDEX jobs_day ON jobs (day);
CREATE INDEX jobs_open ON jobs (state) WHERE state IN ('reserved', 'running');
