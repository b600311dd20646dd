-- What each server gives its members, and what its admins did about it.
CREATE TABLE allowances (
    guild_id      INTEGER NOT NULL,
    scope         TEXT    NOT NULL CHECK (scope IN ('default', 'role', 'member')),
    target_id     INTEGER NOT NULL,          -- 0 for the server default
    daily_credits INTEGER NOT NULL CHECK (daily_credits >= 0),
    PRIMARY KEY (guild_id, scope, target_id)
);

-- Extra credits for one member, valid on the UTC day they were given.
CREATE TABLE grants (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    user_id    INTEGER NOT NULL,
    day        TEXT    NOT NULL,
    credits    INTEGER NOT NULL CHECK (credits > 0),
    granted_by INTEGER NOT NULL,
    created_at REAL    NOT NULL
);
CREATE INDEX grants_member_day ON grants (guild_id, user_id, day);

-- "Reset today's usage" keeps the ledger whole: jobs before the reset simply stop counting.
CREATE TABLE usage_resets (
    guild_id INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    day      TEXT    NOT NULL,
    reset_at REAL    NOT NULL,
    PRIMARY KEY (guild_id, user_id, day)
);

CREATE TABLE admin_actions (
    id        INTEGER PRIMARY KEY,
    guild_id  INTEGER NOT NULL,
    actor_id  INTEGER NOT NULL,
    action    TEXT    NOT NULL,
    target_id INTEGER,
    detail    TEXT    NOT NULL,              -- JSON
    at        REAL    NOT NULL
);
CREATE INDEX admin_actions_guild ON admin_actions (guild_id, at);
