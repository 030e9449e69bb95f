"""P5: registry requests a consumer makes while decoding 100,000 framed messages of 4 versions.

The goal is one request per schema id, whatever the number of messages: value = requests
counted at the registry's HTTP server, baseline = distinct schema ids (4).
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from dataclasses import dataclass

from bench.harness import NOTHING, Result, Shared
from bench.p1a_codec import sample
from schema_registry_lambda.api import create_app
from schema_registry_lambda.local_server import make_server
from schema_registry_lambda.registry import Registry
from schema_registry_lambda.store import InMemoryStore
from trustpipe import contracts
from trustpipe.codec import FramedDecoder, FramedEncoder
from trustpipe.registry_client import RegistryClient
from trustpipe_sensors.sensor import to_version

SUBJECT = "email-metadata-value"
NEEDS: tuple[str, ...] = ()


@dataclass(frozen=True)
class Size:
    messages: int
    scale: float
    """Of the simulator's quarter the messages are drawn from (see P1a's sample)."""


FULL = Size(messages=100_000, scale=1.0)
SMOKE = Size(messages=2_000, scale=0.1)


def run(size: Size = FULL, shared: Shared = NOTHING) -> list[Result]:
    hits: Counter[str] = Counter()
    app = create_app(Registry(InMemoryStore()), observe=lambda route, _status, _seconds: hits.update([route]))
    server = make_server(app, "127.0.0.1", 0)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        return [_measure(f"http://127.0.0.1:{server.server_port}", hits, size)]
    finally:
        server.shutdown()
        server.server_close()


def _measure(url: str, hits: Counter[str], size: Size) -> Result:
    # Producers: v1..v3 from the sensors, v4 written by a pipeline component.
    producer = RegistryClient(url)
    by_version = sample(size.scale)
    by_version[4] = [to_version(r, 3) | {"x_mailer": "bench"} for r in by_version[3][:500]]
    encoders = {
        v: FramedEncoder(producer.register(SUBJECT, contracts.email_metadata(v)), contracts.email_metadata(v))
        for v in (1, 2, 3, 4)
    }
    pool = [encoders[v].encode(r) for v, records in by_version.items() for r in records]
    messages = [pool[i % len(pool)] for i in range(size.messages)]
    hits.clear()
    # Consumer: a fresh process-wide client, as a worker starting up would have.
    consumer = RegistryClient(url)
    decoder = FramedDecoder(consumer, contracts.reader_schema())
    began = time.perf_counter()
    for data in messages:
        decoder.decode(data)
    elapsed = time.perf_counter() - began
    fetches = hits["schema_by_id"]
    distinct = len({data[1:5] for data in messages})
    return Result(
        "P5",
        f"registry requests while consuming {size.messages:,} framed messages",
        fetches,
        distinct,
        "== 1.0 (one request per schema id)",
        "requests",
        {
            "messages": size.messages,
            "client_requests": consumer.requests,
            "decode_records_per_s": round(size.messages / elapsed),
        },
    )
