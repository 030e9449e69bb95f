"""The sensors in stream mode: each enterprise's sensor sends its messages about once a second
(slide 63), Confluent-framed with the registry id of its schema version, through the ingestion
front door (``trustpipe_sensors.frontdoor``), which puts them on the raw Kinesis stream stamped
with the enterprise whose sensor credentials signed the request.

Every message is also counted and its ground truth kept, as in batch, so a stream run can be
reconciled: the run's manifest and labels land in the archive bucket under
``layout.stream_run_key``.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

from trustpipe import contracts, layout
from trustpipe.codec import FramedEncoder, container_bytes
from trustpipe.errors import UserError
from trustpipe.progress import Progress, quiet
from trustpipe_sensors.frontdoor import Item, Producer
from trustpipe_sensors.generator import Labelled, MessageFactory
from trustpipe_sensors.sensor import label, to_version
from trustpipe_sensors.world import Enterprise, World
from trustpipe_stream.put import KINESIS_MAX_RECORD_BYTES

TICK_SECONDS = 1.0


class StreamOptionsError(UserError, ValueError):
    """A stream run needs a positive rate and a bound (a duration or a count)."""


@dataclass
class StreamRun:
    """What a stream run produced, per enterprise."""

    run_id: str
    stream_name: str
    seed: int
    schema_ids: dict[str, int]
    produced: Counter[str] = field(default_factory=Counter)
    malicious: Counter[str] = field(default_factory=Counter)
    put_calls: int = 0
    retried: int = 0
    started: str = ""
    ended: str = ""

    @property
    def total(self) -> int:
        return sum(self.produced.values())

    def manifest(self) -> dict[str, Any]:
        data = asdict(self)
        data["produced"], data["malicious"] = dict(self.produced), dict(self.malicious)
        return data


@dataclass
class Sensors:
    """The enterprises' sensors, each with its schema version's encoder and a factory seeded by
    (seed, run id): a run is reproducible from both, and two runs never share a message id."""

    world: World
    enterprises: list[Enterprise]
    encoders: dict[int, FramedEncoder]
    seed: int
    run_id: str

    def __post_init__(self) -> None:
        self._factories = {
            e.enterprise_id: MessageFactory(self.world, e, _rng(self.seed, self.run_id, e.enterprise_id))
            for e in self.enterprises
        }
        self._pick = _rng(self.seed, self.run_id, "pick")
        self._weights = [e.messages_per_quarter for e in self.enterprises]

    def messages(self, n: int, now: datetime) -> list[tuple[Enterprise, Labelled, bytes]]:
        """``n`` messages received at ``now``, shared among the enterprises by their volume."""
        out = []
        for ent in self._pick.choices(self.enterprises, self._weights, k=n):
            m = self._factories[ent.enterprise_id].make(now)
            data = self.encoders[ent.sensor_version].encode(to_version(m.record, ent.sensor_version))
            out.append((ent, m, data))
        return out


STREAM_PROGRESS = "records put on the raw stream"


def run_stream(
    producer: Producer,
    stream_name: str,
    register: Callable[[str, contracts.Schema], int],
    sensors_of: Callable[[dict[int, FramedEncoder], str], Sensors],
    *,
    rate: float,
    run_id: str | None = None,
    duration: float | None = None,
    count: int | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
    progress: Progress = quiet,
) -> tuple[StreamRun, dict[str, list[Labelled]]]:
    """Send ``rate`` messages a second through ``producer`` until ``duration`` seconds passed or
    ``count`` were sent (``stream_name`` is where they land, for the manifest); the run and each
    enterprise's messages (for their ground truth)."""
    if rate <= 0 or (duration is None and count is None):
        raise StreamOptionsError("a stream run needs --rate > 0 and --duration or --count")
    ids = contracts.register_sensor_history(register)
    encoders = {
        v: FramedEncoder(ids[v], contracts.email_metadata(v), max_bytes=KINESIS_MAX_RECORD_BYTES)
        for v in contracts.SENSOR_VERSIONS
    }
    sensors = sensors_of(encoders, run_id or uuid.uuid4().hex[:12])
    run = StreamRun(sensors.run_id, stream_name, sensors.seed, {f"v{v}": i for v, i in ids.items()})
    run.started = now().isoformat()
    labelled: dict[str, list[Labelled]] = {e.enterprise_id: [] for e in sensors.enterprises}
    began = clock()
    ticks = 0
    while (count is None or run.total < count) and (duration is None or clock() - began < duration):
        due = int(rate * (ticks + 1)) - int(rate * ticks)
        n = due if count is None else min(due, count - run.total)
        messages = sensors.messages(n, now())
        by_enterprise: dict[str, list[Item]] = defaultdict(list)
        for ent, m, data in messages:
            by_enterprise[ent.enterprise_id].append((data, m.record["message_id"]))
        for enterprise_id, items in by_enterprise.items():
            producer.put(enterprise_id, items)
        for ent, m, _ in messages:
            run.produced[ent.enterprise_id] += 1
            run.malicious[ent.enterprise_id] += m.is_malicious
            labelled[ent.enterprise_id].append(m)
        ticks += 1
        progress(STREAM_PROGRESS, run.total, count)
        sleep(max(0.0, began + ticks * TICK_SECONDS - clock()))
    run.put_calls, run.retried, run.ended = producer.calls, producer.retried, now().isoformat()
    return run, labelled


def record_run(
    upload: Callable[[str, str, bytes], Any], bucket: str, run: StreamRun, labelled: dict[str, list[Labelled]]
) -> None:
    """The run's ground truth per enterprise and its manifest, in ``bucket`` (the archive)."""
    schema = contracts.load(contracts.GROUND_TRUTH_LABEL)
    for enterprise_id, messages in labelled.items():
        if messages:
            body = container_bytes(schema, map(label, messages))
            upload(bucket, layout.stream_labels_key(run.run_id, enterprise_id), body)
    upload(bucket, layout.stream_run_key(run.run_id), json.dumps(run.manifest(), indent=2).encode())


def _rng(seed: int, run_id: str, name: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}:stream:{run_id}:{name}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))
