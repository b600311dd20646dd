-- Inpainting records what it was given (names and sizes, never the bytes), as JSON text like SQLite.
ALTER TABLE jobs ADD COLUMN inputs TEXT;
