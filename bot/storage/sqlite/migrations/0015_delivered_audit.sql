-- A delivered job's audit row is written by its settle's own statement: the settle leaves the row in
-- audit_entry (JSON: actor, action, target, detail, and whether the server's audit channel will post it),
-- and this trigger adds it to admin_actions and empties audit_entry again: one statement and one commit
-- for the success and its row, as one statement does it on PostgreSQL. audit_entry is NULL at rest.
ALTER TABLE jobs ADD COLUMN audit_entry TEXT;
CREATE TRIGGER jobs_audit_entry AFTER UPDATE OF audit_entry ON jobs WHEN NEW.audit_entry IS NOT NULL BEGIN
    INSERT INTO admin_actions (guild_id, actor_id, action, target_id, detail, at, posted_at)
        VALUES (NEW.guild_id, json_extract(NEW.audit_entry, '$.actor'), json_extract(NEW.audit_entry, '$.action'),
                json_extract(NEW.audit_entry, '$.target'), json_extract(NEW.audit_entry, '$.detail'), NEW.finished_at,
                CASE WHEN json_extract(NEW.audit_entry, '$.post') THEN NULL ELSE NEW.finished_at END);
    UPDATE jobs SET audit_entry = NULL WHERE id = NEW.id;
END;
