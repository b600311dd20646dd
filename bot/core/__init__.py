"""Process-wide plumbing every layer may use: settings, logs, redaction, health, the DATA_DIR lock,
the offload pool, memory, start-up checks, text helpers and image helpers. Discord-free."""
