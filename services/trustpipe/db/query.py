"""The store as the hour's checks read it: one method, so an Airflow SQL hook and a plain psycopg
connection serve alike."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import psycopg


class Database(Protocol):
    """What the checks need of a database (Airflow's ``DbApiHook`` has exactly this method)."""

    def get_records(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        """Rows of ``sql`` with ``parameters`` (pyformat: ``%(name)s``)."""
        ...


class PostgresDatabase:
    """A ``Database`` on psycopg connections (one per query: the checks are few and short)."""

    def __init__(self, connect: Callable[[], psycopg.Connection[Any]]) -> None:
        self._connect = connect

    def get_records(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Sequence[Sequence[Any]]:
        with self._connect() as conn:
            return conn.execute(sql, parameters).fetchall()
