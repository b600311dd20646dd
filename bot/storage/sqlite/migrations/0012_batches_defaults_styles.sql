-- Batches, members' defaults and server styles.
-- A batch (/imagine count:4) is that many jobs, each its own row in the fair queue, charged and refunded
-- alone; batch_id is the first job's id on every row of it (NULL: a job on its own).
ALTER TABLE jobs ADD COLUMN batch_id INTEGER;
CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;

-- /settings: a member's defaults in one server, one row per value (name: model, aspect_ratio, count,
-- negative_prompt, style, private); value is JSON.
CREATE TABLE member_defaults (
    guild_id INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    name     TEXT    NOT NULL,
    value    TEXT    NOT NULL,
    at       REAL    NOT NULL,
    PRIMARY KEY (guild_id, user_id, name)
) WITHOUT ROWID;

-- Server styles live with the rest of a server's configuration: two new kinds of guild_rules row,
-- 'style' (value: its name; detail: {"template": ...}) and 'style_off' (value: a built-in style the
-- server removed). SQLite cannot change a CHECK in place, so the table is rebuilt.
CREATE TABLE guild_rules_new (
    guild_id INTEGER NOT NULL,
    kind     TEXT    NOT NULL CHECK (kind IN ('channel', 'role', 'blocked', 'model_off', 'word', 'pattern',
                                              'approval', 'setting', 'style', 'style_off')),
    value    TEXT    NOT NULL,
    detail   TEXT,
    actor_id INTEGER NOT NULL,
    at       REAL    NOT NULL,
    PRIMARY KEY (guild_id, kind, value)
) WITHOUT ROWID;
INSERT INTO guild_rules_new (guild_id, kind, value, detail, actor_id, at)
    SELECT guild_id, kind, value, detail, actor_id, at FROM guild_rules;
DROP TABLE guild_rules;
ALTER TABLE guild_rules_new RENAME TO guild_rules;
