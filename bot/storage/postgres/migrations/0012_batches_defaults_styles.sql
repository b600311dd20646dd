-- Batches, members' defaults and server styles.
-- A batch (/imagine count:4) is that many jobs, each its own row in the fair queue, charged and refunded
-- alone; batch_id is the first job's id on every row of it (NULL: a job on its own).
ALTER TABLE jobs ADD COLUMN batch_id BIGINT;
CREATE INDEX jobs_batch ON jobs (batch_id) WHERE batch_id IS NOT NULL;

-- /settings: a member's defaults in one server, one row per value (name: model, aspect_ratio, count,
-- negative_prompt, style, private); value is JSON.
CREATE TABLE member_defaults (
    guild_id BIGINT NOT NULL,
    user_id  BIGINT NOT NULL,
    name     TEXT   NOT NULL,
    value    TEXT   NOT NULL,
    at       DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (guild_id, user_id, name)
);

-- Server styles live with the rest of a server's configuration: two new kinds of guild_rules row,
-- 'style' (value: its name; detail: {"template": ...}) and 'style_off' (value: a built-in style the
-- server removed).
ALTER TABLE guild_rules DROP CONSTRAINT guild_rules_kind_check;
ALTER TABLE guild_rules ADD CONSTRAINT guild_rules_kind_check
    CHECK (kind IN ('channel', 'role', 'blocked', 'model_off', 'word', 'pattern', 'approval', 'setting', 'style',
                    'style_off'));
