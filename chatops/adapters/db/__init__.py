"""Storage: SQLAlchemy tables, repositories and the unit of work."""
