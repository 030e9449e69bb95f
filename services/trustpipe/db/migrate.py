"""Alembic migrations, run programmatically (`trustpipe db upgrade`), and the URL forms the
store accepts."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from trustpipe.settings import SettingsError

MIGRATIONS = Path(__file__).parent / "migrations"
POSTGRES_SCHEMES = ("postgresql", "postgres", "postgresql+psycopg", "postgresql+psycopg2")
"""libpq's own schemes and SQLAlchemy's (Airflow writes connections as ``postgresql+psycopg2``)."""


def _rest(database_url: str) -> str:
    scheme, sep, rest = database_url.partition("://")
    if not sep or scheme not in POSTGRES_SCHEMES:
        raise SettingsError(
            f"database URL must start with one of {', '.join(s + '://' for s in POSTGRES_SCHEMES)}; "
            f"got {scheme + '://' if sep else 'no scheme'}"
        )
    return rest


def libpq_url(database_url: str) -> str:
    """``postgresql://...`` as psycopg (libpq) takes it, from any accepted scheme."""
    return f"postgresql://{_rest(database_url)}"


def sqlalchemy_url(database_url: str) -> str:
    """``postgresql+psycopg://...`` as SQLAlchemy's psycopg 3 dialect wants it."""
    return f"postgresql+psycopg://{_rest(database_url)}"


def config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return cfg


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(config(database_url), revision)
