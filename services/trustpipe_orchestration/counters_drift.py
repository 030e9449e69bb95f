"""The nightly drift check of the counters (``trustpipe.counters``): a sample of yesterday's
online ``seen`` tiles, each against the store's exact count of the stream's messages of that day
that counted towards the same entity. The worst relative difference is the ``CountersDrift``
metric (alarmed): a HyperLogLog errs by about 1%, so more says the stream lost or double-counted
writes, or the store lost verdicts."""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from trustpipe import counters
from trustpipe.model.suffixes import SuffixList

SAMPLE = 200
"""Tiles compared per night: each costs one indexed query on one day's partition."""
CANDIDATES_SQL = """
SELECT enterprise_id, message_id, from_address, sending_ip FROM scored_messages
WHERE source = 'STREAM' AND received_at >= %(start)s AND received_at < %(end)s
  AND {column} ILIKE %(pattern)s ESCAPE '\\'
"""


@dataclass(frozen=True)
class Drift:
    """The sampled tiles' online and exact counts, and the worst relative difference."""

    day: date
    compared: list[tuple[str, str, int, int]]
    """(aggregate, entity, online, exact)."""

    @property
    def worst(self) -> float:
        return max((relative(online, exact) for _, _, online, exact in self.compared), default=0.0)

    def summary(self) -> dict[str, Any]:
        return {"day": self.day.isoformat(), "compared": len(self.compared), "worst": round(self.worst, 6)}


def relative(online: int, exact: int) -> float:
    return abs(online - exact) / max(exact, 1)


def _like(text: str) -> str:
    """``text`` anywhere in a LIKE pattern, its wildcards and escape taken literally."""
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def exact(rows: Iterable[Sequence[Any]], aggregate: str, entity: str, suffixes: SuffixList) -> int:
    """How many distinct (enterprise, message id) of ``rows`` (enterprise, message id, from
    address, sending IP) count towards ``entity``, as the scorer keys them."""
    found = set()
    for enterprise, message_id, from_address, sending_ip in rows:
        record = {"from_address": from_address, "sending_ip": sending_ip}
        if counters.entities(record, suffixes)[aggregate] == entity:
            found.add((enterprise, message_id))
    return len(found)


def check(
    client: Any, conn: Any, day: date, suffixes: SuffixList, size: int = SAMPLE, seed: int = 0
) -> Drift:
    """Compare ``size`` sampled ``seen`` tiles of ``day`` (Redis ``client``) with the store
    (psycopg ``conn``): candidates by a LIKE on the entity, counted exactly in Python."""
    start = datetime(day.year, day.month, day.day, tzinfo=UTC)
    compared = []
    for aggregate, entity in counters.sample_seen(client, day, size, random.Random(seed)):
        column = "from_domain" if aggregate == counters.ORG else "sending_ip"
        params = {"start": start, "end": start + timedelta(days=1), "pattern": _like(entity)}
        rows = conn.execute(CANDIDATES_SQL.format(column=column), params).fetchall()
        online = int(client.pfcount(counters.seen_key(aggregate, entity, day)))
        compared.append((aggregate, entity, online, exact(rows, aggregate, entity, suffixes)))
    return Drift(day, compared)
