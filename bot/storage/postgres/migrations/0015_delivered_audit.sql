-- Nothing to change: SQLite's 0015 lets its settle write a delivered job's audit row in the same statement,
-- which PostgreSQL's settle already does (a data-modifying WITH). The number keeps both backends' in step.
SELECT 1;
