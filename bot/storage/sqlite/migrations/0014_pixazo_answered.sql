-- A running job whose Pixazo call has answered is being delivered: it no longer holds one of
-- PIXAZO_MAX_CONCURRENCY's slots, so the claim's bound counts only running jobs without answered_at.
-- A claim clears it (a job taken over runs its call again).
ALTER TABLE jobs ADD COLUMN answered_at REAL;
