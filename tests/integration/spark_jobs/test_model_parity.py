"""One model, two engines: the Spark job's native expressions and the Python scorer agree on
every message of every sensor version, and on the edge cases."""

from __future__ import annotations

import io
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from spark_jobs import counters_read, trust_columns
from spark_jobs.score_messages import read_v4
from tests.harness.factories import email_v1, email_v2, email_v3
from tests.harness.psl_cases import ORG_DOMAINS
from tests.harness.redis_server import client_of, own_redis
from trustpipe import contracts, counters, layout
from trustpipe.codec import ContainerReader, container_bytes
from trustpipe.model.features import domain_of
from trustpipe.model.scorer import TrustModel
from trustpipe.model.suffixes import SuffixList
from trustpipe_scorer.fresh import FreshCounters
from trustpipe_sensors.handmade_model import artifact
from trustpipe_sensors.sensor import generate_quarter, to_version
from trustpipe_sensors.world import World


def edge_cases() -> dict[int, list[dict[str, Any]]]:
    """Hand-made corners: empty and odd fields, every auth symbol, look-alikes, spoofs."""
    v1 = [
        email_v1(message_id="<e1>", from_display_name="", spf="UNKNOWN", dkim="UNKNOWN", dmarc="UNKNOWN"),
        email_v1(message_id="<e2>", from_address="no-at-sign", return_path="", client_ip=""),
        email_v1(message_id="<e3>", from_address="X@ACME-CORP.COM", client_ip="185.100.1.1", url_count=40),
        email_v1(message_id="<e4>", from_address="a@acme-c0rp.com", recipient_count=0, attachment_count=2),
        # edit distances from acme-corp at the look-alike threshold (2) and just beyond it (3)
        email_v1(message_id="<e10>", from_address="a@acne-c0rp.com"),
        email_v1(message_id="<e11>", from_address="a@acne-c0rq.com"),
        email_v1(message_id="<e12>", from_address="a@acmecorp-x.com"),
    ]
    v2 = [
        email_v2(message_id="<e5>", reply_to="", dkim_domain="", urls=[], attachments=[]),
        email_v2(message_id="<e6>", urls=["http://10.0.0.1:8080/x", "https://a.b.top", "HTTPS://BIT.LY/z"]),
        email_v2(message_id="<e7>", from_address="a@mail.globex.co.uk", reply_to="b@other.co.uk"),
        email_v2(message_id="<e9>", dkim_domain="sendgrid.net"),
    ]
    v3 = [
        email_v3(message_id=f"<s{n}>", spf=s, dkim=s, dmarc=s)
        for n, s in enumerate(
            ["PASS", "FAIL", "SOFTFAIL", "NEUTRAL", "NONE", "UNKNOWN", "TEMPERROR", "PERMERROR"]
        )
    ] + [email_v3(message_id="<e8>", enterprise_id="unknown-enterprise", from_display_name="  Wile Coyote ")]
    # Every Public Suffix List corner as sender, reply-to, return path and DKIM domain at once.
    addresses = [a for a, _ in ORG_DOMAINS]
    v3 += [
        email_v3(
            message_id=f"<psl{n}>",
            from_address=address,
            reply_to=addresses[n - 1],
            return_path=addresses[n - 2],
            dkim_domain=domain_of(addresses[n - 3]).upper(),
        )
        for n, address in enumerate(addresses)
    ]
    return {1: v1, 2: v2, 3: v3}


@pytest.fixture(scope="module")
def landed(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Simulated traffic of every version (thousands of messages) plus the edge cases, as files."""
    world = World.build(42)
    hour = layout.parse_hour("2026-11-26T10")
    by_version = edge_cases()
    for ent in world.enterprises.values():
        for start in layout.quarter_starts(hour)[:2]:
            by_version[ent.sensor_version] += [
                to_version(m.record, ent.sensor_version) for m in generate_quarter(world, ent, start, seed=42)
            ]
    folder = tmp_path_factory.mktemp("parity")
    paths = []
    for version, records in by_version.items():
        path = folder / f"v{version}.avro"
        path.write_bytes(container_bytes(contracts.email_metadata(version), records))
        paths.append(path)
    return paths


def test_spark_and_python_agree(spark: Any, landed: list[Path]) -> None:
    model = artifact()
    # GIVEN the same files read by each engine's own path to v4
    python_records = [
        r for p in landed for r in ContainerReader(io.BytesIO(p.read_bytes()), contracts.reader_schema())
    ]
    assert len(python_records) > 3000
    # WHEN each engine scores them
    expected = {r["message_id"]: TrustModel(model).score(r) for r in python_records}
    rows = (
        trust_columns.score(read_v4(spark, [str(p) for p in landed]), model)
        .select("message_id", "score", "verdict", "reasons")
        .collect()
    )
    # THEN every message gets the same verdict, reasons, and score within 1e-9
    assert len(rows) == len(expected)
    verdicts = set()
    for row in rows:
        want = expected[row["message_id"]]
        assert abs(row["score"] - want.score) <= 1e-9, row["message_id"]
        assert row["verdict"] == want.verdict, row["message_id"]
        assert list(row["reasons"]) == want.reasons, row["message_id"]
        verdicts.add(row["verdict"])
    assert verdicts == {"QUARANTINE", "LABEL", "PASS_THROUGH"}


def test_every_feature_fires_somewhere(spark: Any, landed: list[Path]) -> None:
    # A parity test is only as good as its coverage: each feature must be non-zero on some row.
    from pyspark.sql import functions as F

    from trustpipe.model.features import FEATURES

    featured = trust_columns.with_features(read_v4(spark, [str(p) for p in landed]), artifact())
    maxima = featured.agg(*[F.max(f).alias(f) for f in FEATURES]).first()
    assert maxima is not None
    silent = [f for f in FEATURES if not maxima[f]]
    assert not silent


def _names_under_every_rule(suffixes: SuffixList) -> list[str]:
    """For each rule of the list, names at, under and two under it (wildcards filled in)."""
    names = []
    for rule in suffixes.rules:
        name = rule.lstrip("!").replace("*", "w")
        names += [name, f"x.{name}", f"y.x.{name}", f"Y.X.{name.upper()}."]
    return names


def test_registrable_domains_agree_on_every_rule_of_the_list(spark: Any) -> None:
    from pyspark.sql import functions as F

    suffixes = SuffixList.bundled()
    addresses = [a for a, _ in ORG_DOMAINS] + [f"a@{n}" for n in _names_under_every_rule(suffixes)]
    # GIVEN every rule's names as addresses, in both engines
    frame = spark.createDataFrame([(a,) for a in addresses], "address string")
    # WHEN Spark's expressions and the Python list answer
    domains = {"org": trust_columns.domain_of(F.col("address"))}
    rows = trust_columns.with_org_domains(frame, domains, suffixes).collect()
    # THEN they agree on every one, and on the known answers
    got = {r["address"]: r["org"] for r in rows}
    differ = [
        (a, got[a], suffixes.org_domain(domain_of(a)))
        for a in addresses
        if got[a] != suffixes.org_domain(domain_of(a))
    ]
    assert not differ, differ[:20]
    assert [got[a] for a, _ in ORG_DOMAINS] == [org for _, org in ORG_DOMAINS]
    assert len(got) > 40_000


def test_both_engines_score_alike_on_shared_counters(spark: Any, landed: list[Path], tmp_path: Path) -> None:
    model = artifact()
    day = datetime.now(UTC).date()  # the tiles expire at absolute times
    records = [
        r for p in landed for r in ContainerReader(io.BytesIO(p.read_bytes()), contracts.reader_schema())
    ]
    # GIVEN counters on a real redis-server: a build's window through yesterday and today's tiles,
    # for every sender domain and /24 of the traffic (some under the minimum, some all malicious)
    rng = random.Random(7)
    wanted = sorted({pair for r in records for pair in counters.entities(r, model.suffixes).items()})
    with own_redis(tmp_path / "redis") as server:
        client = client_of(server)
        pipe = client.pipeline()
        counters.write_days(pipe, [(a, e, day, rng.randrange(0, 4), rng.randrange(0, 2)) for a, e in wanted])
        windows = []
        for a, e in wanted:
            n = rng.choice([0, 1, 5, 40, 300])
            windows.append((a, e, n, rng.randrange(0, n + 1)))
        counters.write_windows(pipe, day - timedelta(days=1), windows)
        pipe.execute()
        # WHEN the stream scorer reads them for the messages as one batch, and the batch job for the hour
        fresh = FreshCounters(client).reputation(model, [(r["enterprise_id"], r) for r in records], day)
        hour_model = counters_read.with_counters(read_v4(spark, [str(p) for p in landed]), model, client, day)
    assert fresh is not None
    expected = {r["message_id"]: TrustModel(model).score(r, fresh) for r in records}
    snapshot = {r["message_id"]: TrustModel(model).score(r).score for r in records}
    rows = (
        trust_columns.score(read_v4(spark, [str(p) for p in landed]), hour_model)
        .select("message_id", "score", "verdict", "reasons")
        .collect()
    )
    # THEN both engines give every message the same score, verdict and reasons
    assert len(rows) == len(expected)
    for row in rows:
        want = expected[row["message_id"]]
        assert abs(row["score"] - want.score) <= 1e-9, row["message_id"]
        assert (row["verdict"], list(row["reasons"])) == (want.verdict, want.reasons), row["message_id"]
    # and the counters, not the snapshot, made those scores
    assert sum(abs(expected[m].score - s) > 1e-6 for m, s in snapshot.items()) > len(snapshot) // 2
