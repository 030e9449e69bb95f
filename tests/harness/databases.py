"""A database of a test's own on a shared PostgreSQL server, dropped when the test ends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def own_database(server_url: str, prefix: str) -> Iterator[tuple[str, psycopg.Connection]]:
    """A new, empty database on the server of ``server_url``: its URL, and the server's admin
    connection (autocommit) that made it; the database is dropped, sessions and all, at the end."""
    name = f"{prefix}_{uuid.uuid4().hex[:8]}"
    base = server_url.rsplit("/", 1)[0]
    with psycopg.connect(f"{base}/postgres", autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
        try:
            yield f"{base}/{name}", admin
        finally:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
