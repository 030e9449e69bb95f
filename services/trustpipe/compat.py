"""Apache Avro's reader/writer compatibility rules, with nothing else imported.

Kept apart from ``contracts`` so the registry Lambda ships with ``avro`` alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import avro.schema
from avro.compatibility import ReaderWriterCompatibilityChecker, SchemaCompatibilityType

ParsedSchema = avro.schema.Schema


@dataclass(frozen=True)
class Compatibility:
    """Outcome of a reader/writer check."""

    compatible: bool
    messages: tuple[str, ...] = ()


def parse(schema: Any) -> ParsedSchema:
    """An Avro schema from its parsed JSON (a dict, a union list or a primitive name)."""
    return avro.schema.parse(json.dumps(schema))


def check_parsed(reader: ParsedSchema, writer: ParsedSchema) -> Compatibility:
    """Can data written with ``writer`` be read with ``reader``? Apache Avro's own rules decide."""
    checker = ReaderWriterCompatibilityChecker()  # type: ignore[no-untyped-call]
    result = checker.get_compatibility(reader, writer)
    if result.compatibility is SchemaCompatibilityType.compatible:
        return Compatibility(True)
    messages = tuple(
        f"{kind.name} at {location}: {message}"
        for kind, message, location in zip(
            result.incompatibilities, result.messages, result.locations, strict=False
        )
    )
    return Compatibility(False, messages)


def check(reader: Any, writer: Any) -> Compatibility:
    """``check_parsed`` on schemas given as parsed JSON."""
    return check_parsed(parse(reader), parse(writer))
