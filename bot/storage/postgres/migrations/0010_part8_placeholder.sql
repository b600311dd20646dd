-- Placeholder for part 8's migration 0010 (issue 12, another branch): the numbers must run 1..N with no gap,
-- so part 9's 0011 needs it here. When merging, the real 0010 replaces this file.
SELECT 1;
