"""Alembic migrations, run programmatically (`trustpipe db upgrade`), and the URL forms the
store accepts."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import sqlalchemy.exc
from alembic import command
from alembic.config import Config

from trustpipe.errors import DatabaseUnreachableError
from trustpipe.settings import SettingsError

MIGRATIONS = Path(__file__).parent / "migrations"
MIGRATION_LOCK = 0x7472757374  # "trust": the advisory lock concurrent upgrades queue on
DRIVERS = ("postgresql", "postgresql+psycopg", "postgresql+psycopg2")
"""The URL forms `trustpipe db url` prints: libpq's, SQLAlchemy's psycopg 3 and psycopg2 (Airflow's)."""
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


def with_driver(database_url: str, driver: str, database: str | None = None) -> str:
    """``database_url`` in another of ``DRIVERS``' forms, optionally naming another database on
    the same server (its query, e.g. ``sslmode``, kept)."""
    if driver not in DRIVERS:
        raise SettingsError(f"driver must be one of {', '.join(DRIVERS)}; got {driver!r}")
    parts = urlsplit(f"{driver}://{_rest(database_url)}")
    return urlunsplit(parts._replace(path=f"/{database}")) if database else parts.geturl()


def create_database(database_url: str, name: str, owner: str | None = None) -> bool:
    """Create database ``name`` on ``database_url``'s server unless it exists, owned by ``owner``
    (a role, e.g. Airflow's) or the connecting user; True when created."""
    import psycopg
    from psycopg import errors, sql

    try:
        with psycopg.connect(libpq_url(database_url), autocommit=True, connect_timeout=5) as conn:
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
                return False
            try:
                create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
                if owner:
                    create += sql.SQL(" OWNER {}").format(sql.Identifier(owner))
                conn.execute(create)
            except (errors.DuplicateDatabase, errors.UniqueViolation):
                return False  # another instance's unit created it a moment ago
            except errors.UndefinedObject as err:
                raise SettingsError(f"cannot create database {name}: {err}") from err
            return True
    except psycopg.OperationalError as err:
        raise unreachable(database_url, err) from err


def config(database_url: str) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", sqlalchemy_url(database_url).replace("%", "%%"))
    return cfg


def where(database_url: str) -> str:
    """host:port of a database URL, for messages (never its credentials)."""
    parts = urlsplit(libpq_url(database_url))
    return f"{parts.hostname or 'localhost'}:{parts.port or 5432}"


def unreachable(database_url: str, err: BaseException) -> DatabaseUnreachableError:
    """One line for a database that did not answer: where, and the driver's first line of why."""
    reason = next((line.strip() for line in str(err).splitlines() if line.strip()), type(err).__name__)
    return DatabaseUnreachableError(f"cannot reach the database at {where(database_url)}: {reason}")


def upgrade(database_url: str, revision: str = "head") -> None:
    """Apply the migrations up to ``revision`` (idempotent)."""
    try:
        command.upgrade(config(database_url), revision)
    except sqlalchemy.exc.OperationalError as err:
        raise unreachable(database_url, err.orig or err) from err
