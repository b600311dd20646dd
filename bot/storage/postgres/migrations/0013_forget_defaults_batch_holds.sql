-- /forget clears a member's /settings defaults in every server: found by the member alone.
CREATE INDEX member_defaults_user ON member_defaults (user_id);

-- Every process keeps the defaults of the members it serves (bot/services/imagine.py). A change made by
-- another process (/forget runs on the shard of the server or DM it was used in, and clears every
-- server's) tells them all at its COMMIT: NOTIFY member_defaults '<user_id>'. A trigger rather than
-- the store's methods, so no writer of member_defaults can forget it.
CREATE FUNCTION member_defaults_changed() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('member_defaults', (CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END)::text);
    RETURN NULL;
END $$;

CREATE TRIGGER member_defaults_changed AFTER INSERT OR UPDATE OR DELETE ON member_defaults
    FOR EACH ROW EXECUTE FUNCTION member_defaults_changed();

-- A batch's one message is edited by one writer at a time, across every process sharing the ledger:
-- a hold names who edits it now (a process's lease owner and the edit's own token) until when; a
-- hold whose writer died passes at `until`. No row: nobody is editing that batch's message.
CREATE TABLE batch_holds (
    batch_id BIGINT PRIMARY KEY,
    holder   TEXT   NOT NULL,
    until    DOUBLE PRECISION NOT NULL
);
