-- The server usage view (/quotas usage without a member, issue 12 part 8) sums one server's jobs
-- since a UTC day. jobs_member_day starts with guild_id but then user_id, and the planner falls back
-- to scanning every server's jobs; with this, it reads only the days the view shows.
CREATE INDEX IF NOT EXISTS jobs_guild_day ON jobs (guild_id, day);
