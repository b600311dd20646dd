-- Approval mode and reports (issue 12 part 8): one row per result waiting for a moderator, and one per
-- member's report of a posted result. The buttons carry the row's id, so a decision made after a
-- restart finds everything here; the first decision wins (a conditional UPDATE on `status`).
CREATE TABLE reviews (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    guild_id          INTEGER NOT NULL,
    job_id            INTEGER NOT NULL REFERENCES jobs (id),
    kind              TEXT    NOT NULL CHECK (kind IN ('approval', 'report')),
    status            TEXT    NOT NULL DEFAULT 'pending',  -- a ReviewState value
    user_id           INTEGER NOT NULL,  -- the requester (approval) or the reporter (report)
    channel_id        INTEGER,           -- where the result was asked for, or where it is posted
    reason            TEXT,              -- the reporter's reason, or the moderator's for a rejection
    review_channel_id INTEGER,
    review_message_id INTEGER,
    application_id    INTEGER,
    interaction_token TEXT,              -- a credential: the request's, until decided or expired
    token_expires_at  REAL,
    detail            TEXT,              -- JSON: the result's embed, to post it or show it again
    created_at        REAL    NOT NULL,
    decided_by        INTEGER,
    decided_at        REAL,
    CHECK ((kind = 'approval' AND status IN ('pending', 'approved', 'rejected'))
        OR (kind = 'report' AND status IN ('pending', 'kept', 'removed'))),
    CHECK ((status = 'pending') = (decided_by IS NULL))
);
-- One approval per job; one report per member per result.
CREATE UNIQUE INDEX reviews_one_approval ON reviews (job_id) WHERE kind = 'approval';
CREATE UNIQUE INDEX reviews_one_report ON reviews (job_id, user_id) WHERE kind = 'report';
-- A result's open reports: counted to hide it, settled together by one decision.
CREATE INDEX reviews_open ON reviews (job_id, kind) WHERE status = 'pending';
