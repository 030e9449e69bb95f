"""Which writer schemas let a few bytes claim unbounded work, judged once per schema.

An Avro count says how many items follow, and a decoder believes it: when an item can encode in
zero bytes (``null``, an empty record, a record of only such fields, a ``fixed`` of size 0), a
count of 2^62 costs the writer nine bytes and the reader for ever. The same holds for a container
block's record count when the record itself can be empty. A named type that holds itself lets the
data nest as deep as it has bytes, and fastavro's compiled reader recurses on the native stack:
about 100,000 levels (100 KB) crash the process. None of the pipeline's contracts needs either, so
such schemas are refused by the codec's decoders (a writer schema from a container header or
the registry), and the registry refuses an array of zero-size items outright (``count_refusal``):
it keeps accepting a ``null`` or empty record and a recursive record, which Confluent's registry
accepts and Apache Avro's compatibility vectors register, and which a decoder refuses itself.

With those refused, every item costs at least one byte, so a count can claim no more items than
its bytes hold and decoding time and memory are bounded by the bytes decoded.

Imports Apache Avro alone, so the registry's Lambda ships it with ``compat``.
"""

from __future__ import annotations

from typing import Any

import avro.schema

_FIXED_SIZE = {"boolean": 1, "int": 1, "long": 1, "float": 4, "double": 8, "bytes": 1, "string": 1}
"""Fewest bytes a value of each primitive takes (a varint or a length is at least one byte)."""
_RECORDS = ("record", "error", "request")


class UnboundedSchema(ValueError):
    """The schema lets a count or a nesting claim work its bytes do not pay for."""


def min_record_bytes(schema: avro.schema.Schema) -> int:
    """The fewest bytes one value of ``schema`` encodes in (at least 1 for an admissible schema);
    raises UnboundedSchema naming what makes decoding unbounded."""
    try:
        size = _min_bytes(schema, path=(), seen={}, recursion=False)
    except RecursionError as err:
        raise UnboundedSchema("the schema nests too deeply to be checked") from err
    if size == 0:
        raise UnboundedSchema(
            f"a value of {_name(schema)} encodes in zero bytes: a block could claim any number of them"
        )
    return size


def refusal(schema: avro.schema.Schema) -> str | None:
    """Why ``schema`` may not be decoded (one sentence), or None when it may."""
    try:
        min_record_bytes(schema)
    except UnboundedSchema as err:
        return str(err)
    return None


def count_refusal(schema: avro.schema.Schema) -> str | None:
    """Why ``schema`` may not be registered: an array whose items encode in zero bytes (one
    sentence), or None."""
    try:
        _min_bytes(schema, path=(), seen={}, recursion=True)
    except UnboundedSchema as err:
        return str(err)
    except RecursionError:
        return "the schema nests too deeply to be checked"
    return None


def _min_bytes(schema: Any, path: tuple[str, ...], seen: dict[int, int], recursion: bool) -> int:
    kind = schema.type
    if kind == "null":
        return 0
    if kind in _FIXED_SIZE or kind in ("enum", "map", "union", "error_union"):
        _check_children(schema, path, seen, recursion)
        return _FIXED_SIZE.get(kind, 1)
    if kind == "fixed":
        return int(schema.size)
    if kind == "array":
        items = _min_bytes(schema.items, (*path, "items"), seen, recursion)
        if items == 0:
            raise UnboundedSchema(
                f"array {_where(path)} has items of {_name(schema.items)}, which encode in zero "
                "bytes: its count could claim any number of them"
            )
        return 1
    if kind in _RECORDS:
        return _record_min_bytes(schema, path, seen, recursion)
    raise UnboundedSchema(f"unknown Avro type {kind!r} at {_where(path)}")


def _record_min_bytes(schema: Any, path: tuple[str, ...], seen: dict[int, int], recursion: bool) -> int:
    key = id(schema)
    if key in seen:
        if seen[key] < 0 and recursion:  # sized as at least one byte: only a union can hold it
            return 1
        if seen[key] < 0:  # still being sized: the record holds itself
            raise UnboundedSchema(
                f"record {schema.fullname} holds itself ({_where(path)}): its data could nest "
                "as deep as it has bytes"
            )
        return seen[key]
    seen[key] = -1
    total = sum(_min_bytes(f.type, (*path, f.name), seen, recursion) for f in schema.fields)
    seen[key] = total
    return total


def _check_children(schema: Any, path: tuple[str, ...], seen: dict[int, int], recursion: bool) -> None:
    """Sizes what a map's values or a union's branches hold, for the arrays and records inside."""
    if schema.type == "map":
        _min_bytes(schema.values, (*path, "values"), seen, recursion)
    elif schema.type in ("union", "error_union"):
        for branch in schema.schemas:
            _min_bytes(branch, (*path, _name(branch)), seen, recursion)


def _name(schema: Any) -> str:
    return str(getattr(schema, "fullname", None) or schema.type)


def _where(path: tuple[str, ...]) -> str:
    return "at " + ".".join(path) if path else "at the top"
