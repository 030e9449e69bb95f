"""Properties at the stream workers' edge (hypothesis, on the workers' real code with fakes for
AWS): any record decodable under a writer schema the registry would accept is either scored
(acted on) or set aside by the worker with its reason; none escapes as an error that would stop
the batch, and none is lost. ``bounded`` keeps each property to a few seconds in ``make test``;
``make fuzz`` runs them longer. The stream importer's property needs PostgreSQL and lives with its
integration tests; the Spark job's is the rules' parity (tests/integration/spark_jobs)."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Sequence
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.harness.alerter import AlerterOnFakes
from tests.harness.hostile import REFERENCE, bounded, scored_messages, v4_records
from tests.harness.models import artifact
from trustpipe import contracts, tenants
from trustpipe.codec import FramedDecoder, FramedEncoder, InMemorySchemas
from trustpipe.model.features import FEATURES
from trustpipe_scorer.model_source import CurrentModel
from trustpipe_scorer.worker import ScorerWorker, sensor_version_of
from trustpipe_sensors.sensor import to_version
from trustpipe_stream.processor import Rejected, StreamRecord
from trustpipe_stream.put import Entry

SERVED = ["acme", "globex"]
SCORED = contracts.load(contracts.SCORED_MESSAGE)
EXTENDED = 5
"""The registry id of a v3 writer with one field more (with its default: BACKWARD accepts it)."""


def extended_v3() -> contracts.Schema:
    schema = copy.deepcopy(contracts.email_metadata(3))
    schema["fields"].append({"name": "x_extra", "type": "string", "default": ""})
    return schema


WRITERS = {**{v: contracts.email_metadata(v) for v in (1, 2, 3, 4)}, EXTENDED: extended_v3()}


def framed(record: dict[str, Any], writer: int, extra: str) -> bytes:
    version = 3 if writer in (4, EXTENDED) else writer
    shaped = {**to_version(record, version), "x_extra": extra}
    if writer == 4:
        shaped["x_mailer"] = record["x_mailer"]
    return FramedEncoder(writer, WRITERS[writer]).encode(shaped)


class Scorer:
    def __init__(self) -> None:
        self.put: list[Entry] = []
        schemas = InMemorySchemas(dict(WRITERS))
        schemas.add(10, SCORED)
        self.worker = ScorerWorker(
            decoder=FramedDecoder(schemas, contracts.reader_schema()),
            writer_version=sensor_version_of(schemas),
            model=CurrentModel(lambda: "t", lambda _v: artifact(**dict.fromkeys(FEATURES, 1.0)), 30),
            encoder=FramedEncoder(10, SCORED),
            put=self._put,
            keep_aside=lambda _shard, _rejected: None,
            enterprises=frozenset(SERVED),
            clock=lambda: REFERENCE,
        )
        self.decoder = FramedDecoder(schemas, SCORED)

    def _put(self, entries: Iterable[Entry]) -> None:
        self.put.extend(entries)


@st.composite
def raw_batches(draw: st.DrawFn) -> list[StreamRecord]:
    """A batch on the raw stream: hostile records of any sensor writer, on served channels or
    not, claiming their channel's enterprise or anything."""
    batch = []
    for n in range(draw(st.integers(1, 6))):
        channel = draw(st.sampled_from([*SERVED, "umbrella"]))
        claim = draw(st.one_of(st.just(channel), st.text(max_size=8)))
        record = draw(v4_records(enterprise=claim))
        data = framed(record, draw(st.sampled_from(sorted(WRITERS))), draw(st.text(max_size=8)))
        batch.append(StreamRecord(data, tenants.partition_key(channel, f"m{n}"), str(n), 0, 0, "shard-0"))
    return batch


@bounded(100)
@given(batch=raw_batches())
def test_the_scorer_scores_or_sets_aside_every_decodable_record(batch: list[StreamRecord]) -> None:
    # GIVEN any batch of decodable raw records, WHEN the scorer processes it, THEN it returns
    scorer = Scorer()
    rejected = scorer.worker.process(batch)
    # and each record is scored once or set aside with a reason, never both, none lost
    scored = [scorer.decoder.decode(data)["source_ref"].split(":")[1] for data, _ in scorer.put]
    aside = [x.record.sequence_number for x in rejected]
    assert sorted(scored + aside, key=int) == [r.sequence_number for r in batch]
    assert all(x.reason for x in rejected)


@bounded(150)
@given(verdicts=st.lists(scored_messages(SERVED), min_size=1, max_size=6))
def test_the_alerter_acts_on_or_sets_aside_every_decodable_verdict(verdicts: list[dict[str, Any]]) -> None:
    # GIVEN any batch of decodable verdicts on the imported stream
    encoder = FramedEncoder(7, SCORED)
    batch = [StreamRecord(encoder.encode(v), "k", str(n), 0, 0, "shard-0") for n, v in enumerate(verdicts)]
    alerter = AlerterOnFakes({e: f"q-{e}" for e in SERVED}, REFERENCE)
    # WHEN the alerter processes it, THEN it returns
    rejected: Sequence[Rejected] = alerter.worker.process(batch)
    # and each verdict is passed through, acted on (its message's action sent), or set aside
    aside = {x.record.sequence_number for x in rejected}
    sent = {tenants.message_key(a["enterprise_id"], a["message_id"]) for a in alerter.sent}
    for n, v in enumerate(verdicts):
        key = tenants.message_key(v["enterprise_id"], v["message_id"])
        if str(n) in aside:
            assert v["enterprise_id"] not in SERVED and v["verdict"] != "PASS_THROUGH"
        elif v["verdict"] != "PASS_THROUGH":
            assert key in sent and alerter.ledger.items[key] == "sent"
