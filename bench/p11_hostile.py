"""P11: peak memory of bounded decoding on hostile input, against ordinary input of the same size
in the same run: ``landing.judge`` on hostile landing objects (P11), the scorer's decoder on
hostile framed records (P11s).

Peaks are Python allocations (tracemalloc: fastavro's objects, zlib's output, the reader's
buffers), taken over one judgement or one decode with the input already in memory, so the figure
is what reading costs beyond holding the bytes. Value: the largest peak over the hostile kinds;
baseline: the largest over ordinary inputs of the same stored sizes (drops of the simulator's
records; for the scorer, whose ordinary records are a few hundred bytes, a record of the same
size as the largest hostile one that it decodes, its bytes one long display name).

The bound: a hostile object costs at most what one block at the cap (256 KiB decompressed)
decodes to, whatever it claims; the worst shape accepted is a block of minimal attachments (three
bytes each, a dict apiece). A framed record costs at most what the scorer's 256 KiB cap decodes
to, the same. Before the caps, the issue's 3 KB bzip2 object reached 622 MiB and its array<null>
never ended.
"""

from __future__ import annotations

import gc
import itertools
import tracemalloc
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bench.harness import NOTHING, Result, Shared
from bench.p1a_codec import sample
from trustpipe import contracts, landing, layout
from trustpipe.codec import (
    LANDING_LIMITS,
    CodecError,
    FramedDecoder,
    FramedEncoder,
    InMemorySchemas,
    container_bytes,
)
from trustpipe_scorer.worker import MAX_MESSAGE_BYTES
from trustpipe_sensors import hostile

NEEDS: tuple[str, ...] = ()
MiB = 1024 * 1024
KEY = layout.landing_key("acme", datetime(2026, 11, 26, 13, tzinfo=UTC))
HOSTILE_ID, V3_ID = 90, 3


@dataclass(frozen=True)
class Size:
    string_bytes: int
    """The long string's length (the issue's: 200 MB)."""
    fill: float
    """How much of a cap the worst accepted shapes fill (1.0: all of it)."""


FULL = Size(string_bytes=200 * MiB, fill=1.0)
SMOKE = Size(string_bytes=2 * MiB, fill=0.02)


def peak_mib(work: Callable[[], Any]) -> tuple[float, Any]:
    """Peak Python allocation (MiB) while ``work`` runs, and what it returned."""
    gc.collect()
    tracemalloc.start()
    try:
        out = work()
        return tracemalloc.get_traced_memory()[1] / MiB, out
    finally:
        tracemalloc.stop()


def _v3_record_bytes(**changes: Any) -> bytes:
    return hostile.record_bytes({**hostile.record(), **changes})


def at_the_cap(cap: int, fill: float) -> bytes:
    """A legal v3 record whose attachments (3 bytes each, the least an attachment takes) fill
    ``fill`` of ``cap``: the most Python objects the cap's bytes decode to."""
    n = max(1, int((cap - 256) * fill) // 3)
    return _v3_record_bytes(attachments=[{"filename": "", "content_type": "", "size_bytes": 0}] * n)


def hostile_objects(size: Size) -> dict[str, bytes]:
    cap = LANDING_LIMITS.max_block_bytes
    n_blocks = max(2, int(8 * size.fill))
    padding = int((cap - 4096) * size.fill)
    one = hostile.record_bytes() + hostile.long_bytes(padding) + b"x" * padding
    return {
        "bzip2 long string": hostile.long_string(size.string_bytes, "bzip2"),
        "deflate long string": hostile.long_string(size.string_bytes),
        "array<null> of 2^62": hostile.null_array(),
        "block claiming 2^40 records": hostile.huge_count(),
        "blocks each near the cap": hostile.container(
            hostile.with_field(hostile.PADDING), [(1, [one])] * n_blocks, "deflate"
        ),
        "attachments filling the block cap": hostile.container(
            contracts.email_metadata(3), [(1, [at_the_cap(cap, size.fill)])], "deflate"
        ),
    }


def ordinary_of_size(n_bytes: int, records: list[dict]) -> bytes:
    """A sensor's ordinary drop (the simulator's v3 records, repeated as needed) of about
    ``n_bytes`` stored."""
    n = 16
    while True:
        chosen = list(itertools.islice(itertools.cycle(records), n))
        body = container_bytes(contracts.email_metadata(3), chosen)
        if len(body) >= n_bytes or n > 10_000_000:
            return body
        n = int(n * max(1.2, n_bytes / len(body)))


def judge_figures(size: Size) -> tuple[dict[str, tuple[float, str]], dict[str, float]]:
    records = sample(0.2)[3]
    bad, good = {}, {}
    for name, body in hostile_objects(size).items():
        peak, verdict = peak_mib(lambda body=body: landing.judge(KEY, body))
        bad[name] = (peak, getattr(verdict, "reason", "read").split(":")[0])
        ordinary = ordinary_of_size(len(body), records)
        good[name] = peak_mib(lambda ordinary=ordinary: landing.judge(KEY, ordinary))[0]
    return bad, good


def scorer_figures(size: Size) -> tuple[dict[str, tuple[float, str]], float]:
    schema, null_array = hostile.framed_null_array(HOSTILE_ID)
    lookup = InMemorySchemas({V3_ID: contracts.email_metadata(3), HOSTILE_ID: schema})
    decoder = FramedDecoder(lookup, contracts.reader_schema(), max_bytes=MAX_MESSAGE_BYTES)
    header = FramedEncoder(V3_ID, contracts.email_metadata(3)).encode(hostile.record())[:5]
    framed = {
        "array<null> of 2^62": null_array,
        "over the cap": header + bytes(MAX_MESSAGE_BYTES + 1),
        "attachments filling the cap": header + at_the_cap(MAX_MESSAGE_BYTES - 5, size.fill),
    }
    bad = {}
    for name, data in framed.items():
        peak, outcome = peak_mib(lambda data=data: _decode(decoder, data))
        bad[name] = (peak, outcome)
    attachments = framed["attachments filling the cap"]
    padding = len(attachments) - len(header + _v3_record_bytes()) - 3
    plain = header + _v3_record_bytes(from_display_name="x" * padding)
    return bad, peak_mib(lambda: decoder.decode(plain))[0]


def _decode(decoder: FramedDecoder, data: bytes) -> str:
    try:
        decoder.decode(data)
    except CodecError as err:
        return type(err).__name__
    return "decoded"


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    judged, ordinary = judge_figures(size)
    decoded, ordinary_batch = scorer_figures(size)
    return [
        Result(
            "P11",
            "landing.judge peak memory, the worst of six hostile objects vs ordinary drops of the same size",
            max(p for p, _ in judged.values()),
            max(ordinary.values()),
            "ratio <= 120",
            "MiB",
            {
                "hostile_mib": {k: round(p, 2) for k, (p, _) in judged.items()},
                "outcome": {k: o for k, (_, o) in judged.items()},
                "ordinary_mib": {k: round(p, 2) for k, p in ordinary.items()},
                "block_cap_mib": LANDING_LIMITS.max_block_bytes / MiB,
            },
        ),
        Result(
            "P11s",
            "scorer decode peak memory, the worst of three hostile framed records vs a record of the "
            "same size whose bytes are one long string",
            max(p for p, _ in decoded.values()),
            ordinary_batch,
            "ratio <= 40",
            "MiB",
            {
                "hostile_mib": {k: round(p, 2) for k, (p, _) in decoded.items()},
                "outcome": {k: o for k, (_, o) in decoded.items()},
                "record_cap_kib": MAX_MESSAGE_BYTES // 1024,
            },
        ),
    ]
