"""Sensors: each enterprise's sensor writes its drops with its own schema version."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from trustpipe import contracts, layout
from trustpipe.codec import container_bytes
from trustpipe.errors import UserError
from trustpipe_sensors.generator import Labelled, MessageFactory, Record, spread
from trustpipe_sensors.world import Enterprise, World

_V3_ONLY_SYMBOLS = {"TEMPERROR", "PERMERROR"}
_V2_FIELDS = ("reply_to", "dkim_domain", "urls", "attachments")


class UnknownEnterpriseError(UserError, ValueError):
    """An enterprise id the simulated world (the deployment's tenant map) does not hold."""


def select_enterprises(world: World, ids: list[str] | None) -> list[Enterprise]:
    """The world's enterprises named (all when ``ids`` is empty), or a clear error."""
    if not ids:
        return list(world.enterprises.values())
    unknown = [i for i in ids if i not in world.enterprises]
    if unknown:
        raise UnknownEnterpriseError(
            f"unknown enterprise {', '.join(unknown)}; known: {', '.join(world.enterprises)}"
        )
    return [world.enterprises[i] for i in ids]


def to_version(record: Record, version: int) -> Record:
    """Project a full (v3-shaped) record onto what a sensor of ``version`` can write."""
    out = dict(record)
    if version >= 3:
        return out
    out["client_ip"] = out.pop("sending_ip")
    out.pop("in_known_thread", None)
    for auth_field in ("spf", "dkim", "dmarc"):
        if out[auth_field] in _V3_ONLY_SYMBOLS:
            out[auth_field] = "UNKNOWN"  # older sensors cannot name the error
    if version == 1:
        for name in _V2_FIELDS:
            out.pop(name, None)
    return out


def _rng(seed: int, enterprise_id: str, start: datetime) -> random.Random:
    digest = hashlib.sha256(f"{seed}:{enterprise_id}:{start.isoformat()}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def _volume(ent: Enterprise, start: datetime, rng: random.Random, scale: float) -> int:
    # Office hours carry most mail; nights keep a trickle of newsletters and attacks.
    diurnal = 0.35 + 0.65 * math.exp(-(((start.hour + start.minute / 60) - 13.0) ** 2) / 18)
    return max(1, round(ent.messages_per_quarter * scale * diurnal * rng.uniform(0.9, 1.1)))


def generate_quarter(
    world: World, ent: Enterprise, start: datetime, seed: int, scale: float = 1.0
) -> list[Labelled]:
    """One sensor drop's messages (full shape, labelled); deterministic for the seed."""
    rng = _rng(seed, ent.enterprise_id, start)
    factory = MessageFactory(world, ent, rng)
    count = _volume(ent, start, rng, scale)
    return [factory.make(at) for at in spread(start, layout.QUARTER, count, rng)]


@dataclass(frozen=True)
class Drop:
    """One uploaded sensor file."""

    key: str
    enterprise_id: str
    schema_version: int
    records: int
    bytes: int
    malicious: int


Uploader = Callable[[str, str, bytes], Any]
"""(bucket, key, body) -> anything; the S3 put, passed in."""


def land_hour(
    upload: Uploader,
    landing_bucket: str,
    labels_bucket: str,
    hour: datetime,
    *,
    seed: int,
    enterprises: list[Enterprise],
    world: World,
    scale: float = 1.0,
    on_drop: Callable[[Drop], None] | None = None,
) -> list[Drop]:
    """Write an hour of sensor traffic: a container file per enterprise per quarter, plus labels."""
    drops = []
    label_schema = contracts.load(contracts.GROUND_TRUTH_LABEL)
    for start in layout.quarter_starts(hour):
        for ent in enterprises:
            messages = generate_quarter(world, ent, start, seed, scale)
            schema = contracts.email_metadata(ent.sensor_version)
            key = layout.landing_key(ent.enterprise_id, start)
            records = (to_version(m.record, ent.sensor_version) for m in messages)
            body = container_bytes(schema, records, sync_marker=_sync_marker(seed, key))
            upload(landing_bucket, key, body)
            labels_key = layout.labels_key(ent.enterprise_id, start)
            labels = container_bytes(
                label_schema, map(label, messages), sync_marker=_sync_marker(seed, labels_key)
            )
            upload(labels_bucket, labels_key, labels)
            drop = Drop(
                key,
                ent.enterprise_id,
                ent.sensor_version,
                len(messages),
                len(body),
                sum(m.is_malicious for m in messages),
            )
            drops.append(drop)
            if on_drop:
                on_drop(drop)
    return drops


def _sync_marker(seed: int, key: str) -> bytes:
    # Reproducible files: a rerun of the same hour and seed writes the same bytes (and ETags).
    return hashlib.sha256(f"{seed}:{key}".encode()).digest()[:16]


def label(m: Labelled) -> Record:
    """The ground truth of one message."""
    return {
        "message_id": m.record["message_id"],
        "enterprise_id": m.record["enterprise_id"],
        "received_at": m.record["received_at"],
        "is_malicious": m.is_malicious,
        "attack_type": m.attack_type,
    }
