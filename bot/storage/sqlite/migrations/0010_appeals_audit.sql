-- Appeals and the audit feed (issue 12 part 8).

-- An appeal is stored with the refusal it answers, so the Ask a moderator button (whose custom_id
-- carries the id) still works after a restart, and a decision runs exactly what was asked.
-- The statuses are AppealStatus's (bot/domain/appeals.py); a test holds the two together.
CREATE TABLE appeals (
    id                INTEGER PRIMARY KEY,
    guild_id          INTEGER NOT NULL,
    channel_id        INTEGER NOT NULL,          -- where the member asked: an allowed result is posted there
    user_id           INTEGER NOT NULL,
    model             TEXT    NOT NULL,
    request           TEXT    NOT NULL,          -- JSON: the request as prepared (prompt, body, shown values, ...)
    rule              TEXT    NOT NULL,          -- JSON: the server's word or pattern that refused it
    status            TEXT    NOT NULL CHECK (status IN ('offered', 'pending', 'allowed', 'denied')),
    created_at        REAL    NOT NULL,
    expires_at        REAL    NOT NULL,          -- the button works until then (APPEAL_WINDOW_SECONDS)
    asked_at          REAL,
    review_channel_id INTEGER,
    review_message_id INTEGER,
    decided_by        INTEGER,
    decided_at        REAL,
    reason            TEXT,                      -- a denial's reason, as the moderator typed it
    job_id            INTEGER                    -- the job Allow once queued
);
CREATE INDEX appeals_guild ON appeals (guild_id, id);

-- The audit channel: a row is posted once. posted_at NULL means not yet; a poster claims rows for
-- a lease (claimed_until) so that two processes never post the same row at once, and a row whose
-- poster died is taken again once the lease has passed.
ALTER TABLE admin_actions ADD COLUMN posted_at REAL;
ALTER TABLE admin_actions ADD COLUMN claimed_until REAL;
-- What was recorded before there was an audit channel to post to is history, not news.
UPDATE admin_actions SET posted_at = at;
CREATE INDEX admin_actions_unposted ON admin_actions (guild_id, id) WHERE posted_at IS NULL;
-- /config audit: one server's rows, newest first.
CREATE INDEX admin_actions_recent ON admin_actions (guild_id, id);
