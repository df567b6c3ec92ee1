"""Store: SQLite schema and migrations, the content-addressed evidence vault, the custody log."""
