-- Buttons, /history and /forget (issue 10 part 6): where a job's result was posted, so the buttons and
-- /history can find it again, and when its details were forgotten (/forget or HISTORY_RETENTION_DAYS).
-- Forgetting clears the prompt, parameters, input names and result URL; cost, day and state stay.
ALTER TABLE jobs ADD COLUMN result_channel_id BIGINT;
ALTER TABLE jobs ADD COLUMN result_message_id BIGINT;
ALTER TABLE jobs ADD COLUMN forgotten_at DOUBLE PRECISION;
-- /history walks one member's jobs in one server, newest first.
CREATE INDEX jobs_history ON jobs (guild_id, user_id, id);
-- Retention looks only at rows not yet forgotten.
CREATE INDEX jobs_remembered ON jobs (created_at) WHERE forgotten_at IS NULL;
