"""The Avro contracts in ``schemas/``: loading, versions, and Apache Avro's compatibility rules."""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import cache
from hashlib import sha256
from pathlib import Path
from typing import Any

from fastavro.schema import parse_schema, to_parsing_canonical_form

from trustpipe import compat
from trustpipe.compat import Compatibility
from trustpipe.errors import UserError

Schema = dict[str, Any]
SchemaJson = Any
"""Any parsed Avro schema: a record dict, a union list or a primitive name."""

SENSOR_VERSIONS = (1, 2, 3)
"""Versions sensors write with; each is read through READER_VERSION."""
READER_VERSION = 4

EMAIL_METADATA = "email_metadata"
SCORED_MESSAGE = "scored_message"
SCORING_STATS = "scoring_stats"
ACTION = "action"
GROUND_TRUTH_LABEL = "ground_truth_label"
REVIEW_LABEL = "review_label"
"""A reviewer's decision as a label (``trustpipe.review_labels``). Like the simulator's ground
truth it lives only in container files, whose header carries the writer schema: no registry
subject. It evolves as the others do, by changes Apache Avro's rules hold compatible both ways."""

STATS_COUNTERS = {"QUARANTINE": "quarantined", "LABEL": "labelled", "PASS_THROUGH": "passed"}
"""Each verdict (ScoredMessage.verdict) and the ScoringStats field that counts it."""
SCORE_HISTOGRAM_BINS = 20
"""ScoringStats.score_histogram: equal bins of the trust score over [0, 1], 1.0 in the last."""
ACTIONABLE_VERDICTS = frozenset({"QUARANTINE", "LABEL"})
"""Verdicts the alerters act on (ScoredMessage.verdict); PASS_THROUGH stops at the database."""

# Registry subjects of the framed records (TopicNameStrategy: "<topic>-value").
EMAIL_METADATA_SUBJECT = "email-metadata-value"
"""The sensors' writer schemas (v1-v3) on the raw stream."""
SCORED_MESSAGE_SUBJECT = "scored-message-value"
"""ScoredMessage on the scored and imported streams."""
ACTION_SUBJECT = "action-value"
"""Action on the enterprises' action queues."""


class ContractError(UserError, LookupError):
    """A contract is missing or malformed."""


def schema_dir() -> Path:
    """Where the .avsc files live: bundled in the wheel, or the repository's schemas/ folder."""
    bundled = Path(__file__).parent / "_schemas"
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[2] / "schemas"


@cache
def _load(relative: str) -> str:
    path = schema_dir() / f"{relative}.avsc"
    try:
        return path.read_text()
    except FileNotFoundError as err:
        raise ContractError(f"no Avro contract {relative!r} at {path}") from err


def load(relative: str) -> Schema:
    """A fresh copy of the contract at ``schemas/<relative>.avsc``, as JSON (not parsed)."""
    loaded: Schema = json.loads(_load(relative))
    return loaded


def email_metadata(version: int) -> Schema:
    """EmailMetadata as written by sensors (1..3) or read by the pipeline (4)."""
    if version not in (*SENSOR_VERSIONS, READER_VERSION):
        raise ContractError(f"no EmailMetadata schema version {version}")
    return load(f"{EMAIL_METADATA}/v{version}")


def register_sensor_history(register: Callable[[str, Schema], int]) -> dict[int, int]:
    """Register every EmailMetadata version under its subject, oldest first; each version's id.

    The registry checks a new schema against the subject's latest only: a v1 sensor that first
    registers after a v3 one would be refused. A deployment registers the whole history once
    when it stands up, so every sensor, old or new, finds its schema already there."""
    versions = (*SENSOR_VERSIONS, READER_VERSION)
    return {v: register(EMAIL_METADATA_SUBJECT, email_metadata(v)) for v in versions}


def reader_schema() -> Schema:
    """The schema the pipeline reads every sensor version with."""
    return email_metadata(READER_VERSION)


def fingerprint(schema: SchemaJson) -> str:
    """SHA-256 of the schema's parsing canonical form (what makes two schemas 'the same')."""
    return sha256(canonical_form(schema).encode()).hexdigest()


def canonical_form(schema: SchemaJson) -> str:
    """Avro's parsing canonical form of a (parsed JSON) schema."""
    return str(to_parsing_canonical_form(parse_schema(schema)))


@cache
def _sensor_fingerprints() -> dict[str, int]:
    return {fingerprint(email_metadata(v)): v for v in (*SENSOR_VERSIONS, READER_VERSION)}


def email_metadata_version_of(schema: SchemaJson) -> int | None:
    """Which EmailMetadata version a writer schema is, or None when it is none of ours."""
    return _sensor_fingerprints().get(fingerprint(schema))


def check(reader: SchemaJson, writer: SchemaJson) -> Compatibility:
    """Can data written with ``writer`` be read with ``reader``? Apache Avro's own rules decide."""
    return compat.check(reader, writer)
