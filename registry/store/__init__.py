"""SQLite state: the anchoring outbox, the index read model, API tokens. No network calls."""
