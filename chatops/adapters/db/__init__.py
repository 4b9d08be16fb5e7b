"""Storage: SQLAlchemy tables, repositories and the unit of work."""

SQLITE_BUSY_TIMEOUT_MS = 30_000  # how long a SQLite connection waits for another's lock
