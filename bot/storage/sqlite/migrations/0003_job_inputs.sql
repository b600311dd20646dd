-- Inpainting records what it was given (names and sizes, never the bytes).
ALTER TABLE jobs ADD COLUMN inputs TEXT;
