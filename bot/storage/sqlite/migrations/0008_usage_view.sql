-- The server usage view (/quotas usage without a member, issue 12 part 8) sums one server's jobs
-- since a UTC day. jobs_member_day starts with guild_id but then user_id, so without this the view
-- walks the server's whole history; with it, only the days it shows.
CREATE INDEX IF NOT EXISTS jobs_guild_day ON jobs (guild_id, day);
