"""The schema revision this code expects (kept equal to the migrations' head by a test);
imported without SQLAlchemy or Alembic."""

HEAD = "0006_reason"
