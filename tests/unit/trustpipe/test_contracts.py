"""Schema evolution: every sensor version reads through v4, by Avro's own resolution rules."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

import fastavro
import pytest

from tests.harness.factories import email_v1, email_v2, email_v3
from trustpipe import contracts
from trustpipe.codec import ContainerReader, container_bytes

VECTORS = Path(__file__).parents[2] / "vectors"


def read_through_v4(version: int, record: dict) -> dict:
    body = container_bytes(contracts.email_metadata(version), [record])
    (read,) = list(ContainerReader(io.BytesIO(body), contracts.reader_schema()))
    return read


def test_v1_reads_through_v4_with_defaults_for_added_fields() -> None:
    # GIVEN a v1 record, which predates reply_to, urls, attachments and in_known_thread
    # WHEN it is read with the v4 reader schema
    read = read_through_v4(1, email_v1())
    # THEN added fields take their defaults and the optional union is null
    assert read["reply_to"] is None
    assert read["dkim_domain"] is None
    assert read["urls"] == []
    assert read["attachments"] == []
    assert read["in_known_thread"] is False
    assert read["x_mailer"] is None
    assert read["message_id"] == "<m-1@partner.com>"


def test_renamed_field_is_read_through_its_alias() -> None:
    # GIVEN v1 and v2 writers call the field client_ip; v3 and v4 call it sending_ip
    for version, factory in ((1, email_v1), (2, email_v2)):
        read = read_through_v4(version, factory(client_ip="203.0.113.9"))
        # THEN the v4 reader finds it under its new name
        assert read["sending_ip"] == "203.0.113.9"
        assert "client_ip" not in read


def test_int_size_is_promoted_to_long() -> None:
    # GIVEN size_bytes was an int before v3
    read = read_through_v4(1, email_v1(size_bytes=2**31 - 1))
    assert read["size_bytes"] == 2**31 - 1
    # AND v3 writes a long that an int could not hold
    assert read_through_v4(3, email_v3())["size_bytes"] == 5_000_000_000


def test_optional_union_keeps_written_value() -> None:
    read = read_through_v4(2, email_v2())
    assert read["reply_to"] == "billing@partner-payments.com"
    assert read["attachments"][0]["filename"] == "invoice.pdf"


def test_enum_gains_symbol_new_reader_keeps_it() -> None:
    assert read_through_v4(3, email_v3())["spf"] == "TEMPERROR"


def test_enum_default_lets_old_reader_cope_with_new_symbol() -> None:
    # GIVEN a v3 writer's AuthResult with TEMPERROR, and the v1 reader's AuthResult without it
    writer = _auth_record(contracts.email_metadata(3))
    reader = _auth_record(contracts.email_metadata(1))
    buf = io.BytesIO()
    fastavro.writer(buf, fastavro.parse_schema(writer), [{"spf": "TEMPERROR"}])
    buf.seek(0)
    # WHEN the old reader reads it
    (read,) = list(fastavro.reader(buf, reader_schema=fastavro.parse_schema(reader)))
    # THEN it falls back to the enum default instead of failing
    assert read["spf"] == "UNKNOWN"
    assert contracts.check(reader, writer).compatible


def _auth_record(email_schema: dict) -> dict:
    spf = next(f for f in email_schema["fields"] if f["name"] == "spf")
    return {"type": "record", "name": "AuthOnly", "fields": [copy.deepcopy(spf)]}


@pytest.mark.parametrize("version", contracts.SENSOR_VERSIONS)
def test_every_sensor_version_is_compatible_with_reader(version: int) -> None:
    result = contracts.check(contracts.reader_schema(), contracts.email_metadata(version))
    assert result.compatible, result.messages


def _v4_with(mutate) -> dict:  # type: ignore[no-untyped-def]
    schema = contracts.reader_schema()
    mutate({f["name"]: f for f in schema["fields"]}, schema)
    return schema


@pytest.mark.parametrize(
    ("change", "writer", "mutate", "expected"),
    [
        (
            "new field without default",
            3,
            lambda f, s: s["fields"].append({"name": "tenant", "type": "string"}),
            "reader_field_missing_default_value",
        ),
        (
            "string becomes int",
            3,
            lambda f, s: f["from_address"].update(type="int"),
            "type_mismatch",
        ),
        (
            "rename without alias",
            1,
            lambda f, s: f["sending_ip"].pop("aliases"),
            "reader_field_missing_default_value",
        ),
        (
            "enum loses symbol and default",
            3,
            lambda f, s: f["spf"]["type"].update(symbols=["PASS", "FAIL"]) or f["spf"]["type"].pop("default"),
            "missing_enum_symbols",
        ),
        (
            "long narrowed to int",
            3,
            lambda f, s: f["size_bytes"].update(type="int"),
            "type_mismatch",
        ),
    ],
)
def test_incompatible_change_is_detected(change: str, writer: int, mutate, expected: str) -> None:  # type: ignore[no-untyped-def]
    # GIVEN a v4 reader changed in a way the writer's data cannot satisfy
    reader = _v4_with(mutate)
    # WHEN Apache Avro's checker compares it with the sensor's writer schema
    result = contracts.check(reader, contracts.email_metadata(writer))
    # THEN it is incompatible, and says why
    assert not result.compatible, change
    assert any(expected in m for m in result.messages), result.messages


def test_version_of_recognises_each_contract_and_nothing_else() -> None:
    for version in (*contracts.SENSOR_VERSIONS, contracts.READER_VERSION):
        assert contracts.email_metadata_version_of(contracts.email_metadata(version)) == version
    assert contracts.email_metadata_version_of(contracts.load(contracts.SCORED_MESSAGE)) is None


def test_all_contracts_parse() -> None:
    for name in (
        contracts.SCORED_MESSAGE,
        contracts.SCORING_STATS,
        contracts.ACTION,
        contracts.GROUND_TRUTH_LABEL,
        contracts.REVIEW_LABEL,
    ):
        fastavro.parse_schema(contracts.load(name))


def test_unknown_version_is_a_clear_error() -> None:
    with pytest.raises(contracts.ContractError, match="no EmailMetadata schema version 9"):
        contracts.email_metadata(9)


@pytest.mark.parametrize(
    "case",
    [
        c
        for c in json.loads((VECTORS / "avro_reader_writer_pairs.json").read_text())
        if "java-only" not in c["source"]
    ],
    ids=lambda c: c["source"][-60:],
)
def test_apache_avro_compatibility_vectors(case: dict) -> None:
    assert contracts.check(case["reader"], case["writer"]).compatible is case["compatible"]


def test_scoring_stats_gained_its_histogram_compatibly_both_ways() -> None:
    # GIVEN ScoringStats as stats files were written before the histogram, and as it is now
    old = json.loads((Path(__file__).parents[2] / "vectors" / "scoring_stats_v1.avsc").read_text())
    new = contracts.load(contracts.SCORING_STATS)
    assert {f["name"] for f in new["fields"]} - {f["name"] for f in old["fields"]} == {"score_histogram"}
    # THEN today's reader reads old files (the default fills in) and an old reader reads new ones
    assert contracts.check(new, old).compatible and contracts.check(old, new).compatible
    row = {
        "enterprise_id": "acme",
        "hour": "2026-11-20T08",
        "model_version": "m",
        "messages": 3,
        "quarantined": 1,
        "labelled": 1,
        "passed": 1,
        "set_aside": 0,
        "mean_score": 0.5,
        "computed_at": 0,
    }
    (read,) = ContainerReader(io.BytesIO(container_bytes(old, [row])), new)
    assert read["score_histogram"] == []


def test_the_sensor_history_registers_oldest_first_so_no_later_version_refuses_an_older_one() -> None:
    # GIVEN a registry that, like ours, checks a new schema against the subject's latest only
    latest: dict[str, int] = {}
    ids: dict[str, int] = {}

    def register(subject: str, schema: contracts.Schema) -> int:
        version = contracts.email_metadata_version_of(schema) or 0
        text = contracts.canonical_form(schema)
        if text not in ids:
            assert version > latest.get(subject, 0), "an older version after a newer one is refused"
            latest[subject], ids[text] = version, len(ids) + 1
        return ids[text]

    # WHEN the history is registered, then again (a second `local up`)
    first = contracts.register_sensor_history(register)
    again = contracts.register_sensor_history(register)
    # THEN every version has its id, the same both times, oldest first
    assert first == again == {1: 1, 2: 2, 3: 3, 4: 4}
    assert latest == {contracts.EMAIL_METADATA_SUBJECT: contracts.READER_VERSION}
