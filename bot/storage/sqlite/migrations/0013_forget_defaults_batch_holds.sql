-- /forget clears a member's /settings defaults in every server: found by the member alone.
CREATE INDEX member_defaults_user ON member_defaults (user_id);

-- A batch's one message is edited by one writer at a time, across every process sharing the ledger:
-- a hold names who edits it now (a process's lease owner and the edit's own token) until when; a
-- hold whose writer died passes at `until`. No row: nobody is editing that batch's message.
CREATE TABLE batch_holds (
    batch_id INTEGER PRIMARY KEY,
    holder   TEXT    NOT NULL,
    until    REAL    NOT NULL
);
