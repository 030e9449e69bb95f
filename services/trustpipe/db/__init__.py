"""The web app's store in PostgreSQL: tables (SQLAlchemy), migrations (Alembic), connections."""
