"""Storage: what Amends decided and granted, in SQLite (embedded default) or PostgreSQL."""
