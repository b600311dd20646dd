"""Per-server moderation (/config): who may generate where, which models, and what may be asked."""
