"""P1a: codec decode rates on the simulator's records against bare fastavro, in the same run."""

from __future__ import annotations

import io
from dataclasses import dataclass

import fastavro
from fastavro.schema import parse_schema

from bench.harness import NOTHING, Result, Shared, rates
from trustpipe import contracts, layout
from trustpipe.codec import (
    LANDING_LIMITS,
    ContainerReader,
    FramedDecoder,
    FramedEncoder,
    InMemorySchemas,
    container_bytes,
)
from trustpipe_sensors.sensor import generate_quarter, to_version
from trustpipe_sensors.world import World

HOUR = "2026-11-26T13"
NEEDS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Size:
    scale: float
    """Of a quarter's traffic per enterprise (1.0: about 3,000 records in all)."""
    repeats: int
    min_seconds: float
    """Each candidate's shortest timed round."""


FULL = Size(scale=1.0, repeats=5, min_seconds=0.2)
SMOKE = Size(scale=0.1, repeats=1, min_seconds=0.0)


def sample(scale: float = 1.0) -> dict[int, list[dict]]:
    """A quarter of each enterprise's traffic (``scale`` of it), as its sensor version writes it."""
    world = World.build(1)
    start = layout.parse_hour(HOUR)
    return {
        ent.sensor_version: [
            to_version(m.record, ent.sensor_version)
            for m in generate_quarter(world, ent, start, seed=1, scale=scale)
        ]
        for ent in world.enterprises.values()
    }


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    records = sample(size.scale)
    schemas = {v: contracts.email_metadata(v) for v in records}
    framed = [FramedEncoder(v, schemas[v]).encode(r) for v, rs in records.items() for r in rs]
    ours = FramedDecoder(InMemorySchemas(schemas), contracts.reader_schema())
    parsed_reader = parse_schema(contracts.reader_schema())
    parsed = {v: parse_schema(s) for v, s in schemas.items()}

    def bare_framed() -> int:
        for data in framed:
            fastavro.schemaless_reader(io.BytesIO(data[5:]), parsed[data[4]], parsed_reader)
        return len(framed)

    def our_framed() -> int:
        for data in framed:
            ours.decode(data)
        return len(framed)

    files = [container_bytes(schemas[v], rs) for v, rs in records.items()]
    n_records = sum(len(rs) for rs in records.values())

    def bare_container() -> int:
        for body in files:
            for _ in fastavro.reader(io.BytesIO(body), reader_schema=parsed_reader):
                pass
        return n_records

    def our_container() -> int:
        for body in files:
            for _ in ContainerReader(io.BytesIO(body), contracts.reader_schema()):
                pass
        return n_records

    def our_landing() -> int:
        for body in files:
            for _ in ContainerReader(io.BytesIO(body), contracts.reader_schema(), LANDING_LIMITS):
                pass
        return n_records

    encoders = {v: FramedEncoder(v, schemas[v]) for v in records}

    def our_encode() -> int:
        for v, rs in records.items():
            for r in rs:
                encoders[v].encode(r)
        return n_records

    measured = rates(
        {
            "bare_framed": bare_framed,
            "our_framed": our_framed,
            "bare_container": bare_container,
            "our_container": our_container,
            "our_landing": our_landing,
            "our_encode": our_encode,
        },
        size.repeats,
        size.min_seconds,
    )
    return [
        Result(
            "P1a",
            "framed decode (Confluent header, v1-v3 -> v4) vs bare fastavro",
            measured["our_framed"],
            measured["bare_framed"],
            ">= 0.8",
            "records/s",
            {"encode_records_per_s": round(measured["our_encode"])},
        ),
        Result(
            "P1b",
            "container decode through v4 vs bare fastavro reader",
            measured["our_container"],
            measured["bare_container"],
            ">= 0.9",
            "records/s",
            {"landing_ratio": round(measured["our_landing"] / measured["bare_container"], 3)},
        ),
    ]
