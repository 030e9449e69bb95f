"""The sensor simulator: deterministic, labelled, realistic enough that no field gives it away."""

from __future__ import annotations

import io
from collections import Counter

import fastavro
import pytest

from trustpipe import contracts, layout
from trustpipe.codec import ContainerReader
from trustpipe_sensors.sensor import (
    UnknownEnterpriseError,
    generate_quarter,
    land_hour,
    select_enterprises,
    to_version,
)
from trustpipe_sensors.world import ENTERPRISES, World

HOUR = layout.parse_hour("2026-11-26T13")


def land(seed: int, scale: float = 0.3) -> dict[tuple[str, str], bytes]:
    store: dict[tuple[str, str], bytes] = {}
    world = World.build(seed)
    land_hour(
        lambda b, k, body: store.__setitem__((b, k), body),
        "landing",
        "archive",
        HOUR,
        seed=seed,
        enterprises=select_enterprises(world, None),
        world=world,
        scale=scale,
    )
    return store


@pytest.fixture(scope="module")
def hour_of_messages() -> list:
    world = World.build(5)
    return [
        m
        for ent in world.enterprises.values()
        for start in layout.quarter_starts(HOUR)
        for m in generate_quarter(world, ent, start, seed=5)
    ]


def test_same_seed_same_bytes_other_seed_other_bytes() -> None:
    first, again, other = land(1), land(1), land(2)
    assert first == again
    assert first.keys() == other.keys()
    assert first != other


def test_one_file_per_enterprise_per_quarter_with_partitioned_keys() -> None:
    store = land(3)
    landing = sorted(k for b, k in store if b == "landing")
    assert len(landing) == len(ENTERPRISES) * layout.QUARTERS
    assert "messages/enterprise=acme/date=2026-11-26/hour=13/quarter=2/acme-20261126T1330.avro" in landing
    assert all(k.startswith(layout.LABELS_PREFIX) for b, k in store if b == "archive")


def test_each_enterprise_writes_its_own_sensor_version_and_labels_match() -> None:
    store = land(4)
    for ent in ENTERPRISES:
        key = layout.landing_key(ent.enterprise_id, HOUR)
        reader = ContainerReader(io.BytesIO(store[("landing", key)]))
        assert contracts.email_metadata_version_of(reader.writer_schema) == ent.sensor_version
        ids = [r["message_id"] for r in reader]
        labels = list(
            fastavro.reader(io.BytesIO(store[("archive", layout.labels_key(ent.enterprise_id, HOUR))]))
        )
        assert [lab["message_id"] for lab in labels] == ids
        assert "is_malicious" not in reader.writer_schema["fields"]


def test_projection_validates_against_each_version(hour_of_messages: list) -> None:
    for m in hour_of_messages[:300]:
        for version in contracts.SENSOR_VERSIONS:
            schema = fastavro.parse_schema(contracts.email_metadata(version))
            assert fastavro.validate(to_version(m.record, version), schema, raise_errors=True)


def test_malicious_mail_is_a_labelled_minority_of_several_kinds(hour_of_messages: list) -> None:
    malicious = [m for m in hour_of_messages if m.is_malicious]
    share = len(malicious) / len(hour_of_messages)
    assert 0.02 < share < 0.1
    assert len(Counter(m.attack_type for m in malicious)) == 6
    assert all(m.attack_type is None for m in hour_of_messages if not m.is_malicious)


def test_risk_signals_also_appear_in_legitimate_mail(hour_of_messages: list) -> None:
    legit = [m.record for m in hour_of_messages if not m.is_malicious]
    bad = [m.record for m in hour_of_messages if m.is_malicious]

    def rate(records: list, signal) -> float:  # type: ignore[no-untyped-def]
        return sum(1 for r in records if signal(r)) / len(records)

    signals = {
        "spf not pass": lambda r: r["spf"] != "PASS",
        "dmarc fail": lambda r: r["dmarc"] == "FAIL",
        "reply-to set": lambda r: r["reply_to"] is not None,
        "shortener url": lambda r: any(
            u.startswith(("https://bit.ly", "https://tinyurl", "https://t.co")) for u in r["urls"]
        ),
        "archive or script attachment": lambda r: any(
            a["filename"].endswith((".zip", ".iso", ".exe", ".js", ".html", ".docm"))
            for a in r["attachments"]
        ),
    }
    for name, signal in signals.items():
        legit_rate, bad_rate = rate(legit, signal), rate(bad, signal)
        assert 0 < legit_rate < bad_rate, name
    # and some attacks pass every authentication check
    assert rate(bad, lambda r: r["spf"] == r["dkim"] == r["dmarc"] == "PASS") > 0.1


def test_older_sensor_cannot_name_new_symbols() -> None:
    record = {
        "spf": "TEMPERROR",
        "dkim": "PASS",
        "dmarc": "PERMERROR",
        "sending_ip": "192.0.2.1",
        "in_known_thread": True,
        "reply_to": None,
        "dkim_domain": None,
        "urls": [],
        "attachments": [],
    }
    v1 = to_version(record, 1)
    assert (v1["spf"], v1["dmarc"], v1["client_ip"]) == ("UNKNOWN", "UNKNOWN", "192.0.2.1")
    assert "urls" not in v1 and "in_known_thread" not in v1
    assert to_version(record, 3) == record


def test_unknown_enterprise_is_a_clear_error() -> None:
    with pytest.raises(
        UnknownEnterpriseError, match="unknown enterprise hooli; known: acme, globex, initech"
    ):
        select_enterprises(World.build(1), ["acme", "hooli"])
