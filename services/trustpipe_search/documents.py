"""How a scored message is a search document: its id, its version, its index, its fields; and
the index template every daily index is made from. Pure: no client, no I/O.

- **id**: ``<enterprise>/<message id>``, or ``<enterprise>/sha256:<hex of the message id>`` when
  the message id is too long for an ``_id`` (512 bytes), holds a control character (NUL among
  them), or itself starts with ``sha256:`` (so the two forms never meet: unambiguous).
- **version**: external, a number that orders verdicts as the store does
  (``trustpipe_importer.load``: the model's promotion first, then the verdict's time): the
  promotion in the high bits, ``scored_at`` in milliseconds in the low 42. A document the index
  holds in a newer version refuses an older one (409), whichever path brings it first.
- **index**: one per day of the message's own time (``received_at``, UTC), all behind one read
  alias; retention deletes whole days.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from trustpipe.tenants import KEY_SEPARATOR

INDEX_PREFIX = "trustpipe-messages-"
INDEX_DAY_FORMAT = "%Y.%m.%d"
READ_ALIAS = "trustpipe-messages"
"""Every query reads through it (all the daily indices)."""
TEMPLATE_NAME = "trustpipe-messages"
MAX_ID_BYTES = 512
"""OpenSearch refuses an ``_id`` longer than 512 bytes."""
HASHED = "sha256:"
SCORED_AT_BITS = 42
"""Milliseconds since 1970 fit in 42 bits until 2109."""
MAX_PROMOTION = (1 << (63 - SCORED_AT_BITS)) - 1
"""External versions are signed 64-bit: 2^21 - 1 promotions above the time's bits."""
KEYWORD_MAX = 1024
"""Characters of a keyword kept for terms and sorting (``ignore_above``): Lucene refuses a term
over 32 KiB; the records' own bounds (``trustpipe.records``) are far below either."""


class UnindexableError(ValueError):
    """A scored row that cannot be a document (a promotion or time outside the version's range)."""


def doc_id(enterprise_id: str, message_id: str) -> str:
    """The document's id: one per (enterprise, message id), never two for one, never one for two."""
    readable = (
        len(message_id.encode("utf-8", "surrogatepass")) + len(enterprise_id) + 1 <= MAX_ID_BYTES
        and message_id.isprintable()
        and not message_id.startswith(HASHED)
    )
    if readable:
        return f"{enterprise_id}{KEY_SEPARATOR}{message_id}"
    digest = hashlib.sha256(message_id.encode("utf-8", "surrogatepass")).hexdigest()
    return f"{enterprise_id}{KEY_SEPARATOR}{HASHED}{digest}"


def version(model_promotion: int, scored_at: datetime) -> int:
    """The external version that orders verdicts as the store does (promotion, then time)."""
    millis = int(scored_at.timestamp() * 1000)
    if not 0 <= model_promotion <= MAX_PROMOTION:
        raise UnindexableError(f"model_promotion {model_promotion} is outside 0..{MAX_PROMOTION}")
    if not 0 <= millis < 1 << SCORED_AT_BITS:
        raise UnindexableError(f"scored_at {scored_at.isoformat()} is outside 1970..2109")
    return (model_promotion << SCORED_AT_BITS) | millis


def index_name(received_at: datetime) -> str:
    """The daily index of a message's own time."""
    return INDEX_PREFIX + received_at.astimezone(UTC).strftime(INDEX_DAY_FORMAT)


def index_day(name: str) -> datetime | None:
    """The day a daily index holds (None: not one of ours)."""
    if not name.startswith(INDEX_PREFIX):
        return None
    try:
        return datetime.strptime(name.removeprefix(INDEX_PREFIX), INDEX_DAY_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None


def _millis(value: datetime) -> int:
    return int(value.timestamp() * 1000)


def source(row: Mapping[str, Any]) -> dict[str, Any]:
    """A scored row (``ScoredMessage`` as decoded) as the document's fields."""
    return {
        "enterprise_id": row["enterprise_id"],
        "message_id": row["message_id"],
        "received_at": _millis(row["received_at"]),
        "scored_at": _millis(row["scored_at"]),
        "from_address": row["from_address"],
        "from_display_name": row["from_display_name"],
        "from_domain": row["from_domain"],
        "reply_to": row.get("reply_to"),
        "sending_ip": row["sending_ip"],
        "score": float(row["score"]),
        "verdict": row["verdict"],
        "reasons": list(row.get("reasons") or []),
        "model_version": row["model_version"],
        "model_promotion": int(row.get("model_promotion") or 0),
        "source": row["source"],
        "source_ref": row["source_ref"],
        "sensor_schema_version": int(row["sensor_schema_version"]),
    }


def action(row: Mapping[str, Any]) -> dict[str, Any]:
    """The bulk action that indexes ``row`` (UnindexableError when it cannot be one)."""
    try:
        return {
            "_op_type": "index",
            "_index": index_name(row["received_at"]),
            "_id": doc_id(row["enterprise_id"], row["message_id"]),
            "version": version(int(row.get("model_promotion") or 0), row["scored_at"]),
            "version_type": "external",
            "_source": source(row),
        }
    except (KeyError, TypeError, AttributeError, OverflowError, OSError, ValueError) as err:
        if isinstance(err, UnindexableError):
            raise
        raise UnindexableError(f"not a scored message: {type(err).__name__}: {err}") from err


def _keyword() -> dict[str, Any]:
    return {"type": "keyword", "ignore_above": KEYWORD_MAX}


def _searchable_keyword() -> dict[str, Any]:
    """Exact (terms, sort) and, under ``.text``, searched by words."""
    return {**_keyword(), "fields": {"text": {"type": "text"}}}


def _date() -> dict[str, Any]:
    return {"type": "date", "format": "strict_date_optional_time||epoch_millis"}


REVIEW_MAPPINGS: dict[str, Any] = {
    "decision": _keyword(),
    "decided_at": _date(),
    "decided_by": _keyword(),
}
"""The fields a review decision adds to a document: put on indices made before them too
(``engine.ensure_template``), the template staying strict."""

MAPPINGS: dict[str, Any] = {
    "dynamic": "strict",
    "properties": {
        "enterprise_id": _keyword(),
        "message_id": _keyword(),
        "received_at": _date(),
        "scored_at": _date(),
        "from_address": _searchable_keyword(),
        "from_display_name": {"type": "text", "fields": {"raw": _keyword()}},
        "from_domain": _keyword(),
        "reply_to": _searchable_keyword(),
        # keyword, not ip: a sensor's hostile string must not cost the document its index
        "sending_ip": _keyword(),
        "score": {"type": "double"},
        "verdict": _keyword(),
        "reasons": _keyword(),
        "model_version": _keyword(),
        "model_promotion": {"type": "long"},
        "source": _keyword(),
        "source_ref": _keyword(),
        "sensor_schema_version": {"type": "integer"},
        # a reviewer's decision (the review API, ``queries.record_decision``); absent until one
        **REVIEW_MAPPINGS,
    },
}


def template(shards: int = 1, replicas: int = 1) -> dict[str, Any]:
    """The index template every daily index is created from: its mappings and the read alias."""
    return {
        "index_patterns": [f"{INDEX_PREFIX}*"],
        "template": {
            "settings": {"number_of_shards": shards, "number_of_replicas": replicas},
            "aliases": {READ_ALIAS: {}},
            "mappings": MAPPINGS,
        },
    }
