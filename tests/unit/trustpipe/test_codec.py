"""The codec: framed records, container files, and one clear error per kind of bad input."""

from __future__ import annotations

import io

import pytest

from tests.harness.factories import email_v1, email_v3
from trustpipe import contracts
from trustpipe.codec import (
    BadMagicByteError,
    ContainerReader,
    FramedDecoder,
    FramedEncoder,
    InMemorySchemas,
    OversizeRecordError,
    SchemaMismatchError,
    TruncatedRecordError,
    UnknownSchemaIdError,
    container_bytes,
)


class CountingLookup(InMemorySchemas):
    def __init__(self, schemas: dict) -> None:
        super().__init__(schemas)
        self.calls: list[int] = []

    def __call__(self, schema_id: int) -> dict:
        self.calls.append(schema_id)
        return super().__call__(schema_id)


@pytest.fixture
def lookup() -> CountingLookup:
    return CountingLookup({11: contracts.email_metadata(1), 13: contracts.email_metadata(3)})


@pytest.fixture
def decoder(lookup: CountingLookup) -> FramedDecoder:
    return FramedDecoder(lookup, contracts.reader_schema())


def framed_v1(**overrides: object) -> bytes:
    return FramedEncoder(11, contracts.email_metadata(1)).encode(email_v1(**overrides))


def test_framed_record_has_confluent_header() -> None:
    data = framed_v1()
    assert data[0] == 0
    assert int.from_bytes(data[1:5], "big") == 11


def test_framed_round_trip_resolves_to_reader(decoder: FramedDecoder) -> None:
    record = decoder.decode(framed_v1(client_ip="192.0.2.1"))
    assert record["sending_ip"] == "192.0.2.1"
    assert record["urls"] == []
    v3 = decoder.decode(FramedEncoder(13, contracts.email_metadata(3)).encode(email_v3()))
    assert v3["spf"] == "TEMPERROR"


def test_writer_schema_fetched_once_per_id(decoder: FramedDecoder, lookup: CountingLookup) -> None:
    for i in range(50):
        decoder.decode(framed_v1(message_id=f"<{i}@x>"))
    assert lookup.calls == [11]


def test_truncated_record(decoder: FramedDecoder) -> None:
    data = framed_v1()
    with pytest.raises(TruncatedRecordError, match="ends early for writer schema id 11"):
        decoder.decode(data[:-4])


def test_shorter_than_header(decoder: FramedDecoder) -> None:
    with pytest.raises(TruncatedRecordError, match="header alone is 5"):
        decoder.decode(b"\x00\x00\x01")


def test_wrong_magic_byte(decoder: FramedDecoder) -> None:
    with pytest.raises(BadMagicByteError, match="first byte is 0x7b"):
        decoder.decode(b'{"json": "not avro"}')


def test_unknown_schema_id_is_not_cached(decoder: FramedDecoder, lookup: CountingLookup) -> None:
    data = b"\x00" + (99).to_bytes(4, "big") + framed_v1()[5:]
    with pytest.raises(UnknownSchemaIdError, match="schema id 99 is not registered"):
        decoder.decode(data)
    # a producer may register it a moment later
    lookup.add(99, contracts.email_metadata(1))
    assert decoder.decode(data)["enterprise_id"] == "acme"


def test_trailing_bytes_mean_schema_mismatch(decoder: FramedDecoder) -> None:
    with pytest.raises(SchemaMismatchError, match="bytes left after the record"):
        decoder.decode(framed_v1() + b"\x02\x04")


def test_unresolvable_writer_is_schema_mismatch(lookup: CountingLookup) -> None:
    lookup.add(
        50,
        {
            "type": "record",
            "name": "EmailMetadata",
            "namespace": "io.trustpipe.sensor",
            "fields": [{"name": "message_id", "type": "long"}],
        },
    )
    decoder = FramedDecoder(lookup, contracts.reader_schema())
    data = FramedEncoder(50, lookup(50)).encode({"message_id": 7})
    with pytest.raises(SchemaMismatchError, match="cannot read writer schema id 50"):
        decoder.decode(data)
    with pytest.raises(SchemaMismatchError):  # the verdict is cached, and stays an error
        decoder.decode(data)


def test_oversize_record_is_refused() -> None:
    encoder = FramedEncoder(11, contracts.email_metadata(1), max_bytes=64)
    with pytest.raises(OversizeRecordError, match="the limit is 64"):
        encoder.encode(email_v1(from_display_name="x" * 100))


def many_v1(n: int) -> bytes:
    return container_bytes(
        contracts.email_metadata(1),
        [email_v1(message_id=f"<{i}@x>", subject_length=i) for i in range(n)],
        codec="null",
    )


def test_container_round_trip_through_v4() -> None:
    reader = ContainerReader(io.BytesIO(many_v1(300)), contracts.reader_schema())
    records = list(reader)
    assert len(records) == 300
    assert records[-1]["subject_length"] == 299
    assert contracts.email_metadata_version_of(reader.writer_schema) == 1


def test_container_truncated_in_data_block() -> None:
    body = many_v1(3000)
    with pytest.raises(TruncatedRecordError):
        list(ContainerReader(io.BytesIO(body[: len(body) - 500]), contracts.reader_schema()))


def test_container_truncated_in_header() -> None:
    with pytest.raises(TruncatedRecordError, match="header is cut short"):
        ContainerReader(io.BytesIO(many_v1(1)[:40]), contracts.reader_schema())


@pytest.mark.parametrize("body", [b"", b"Ob"])
def test_container_too_short(body: bytes) -> None:
    with pytest.raises(TruncatedRecordError, match="too short for Avro"):
        ContainerReader(io.BytesIO(body), contracts.reader_schema())


def test_not_an_avro_file() -> None:
    with pytest.raises(BadMagicByteError, match="not an Avro container file"):
        ContainerReader(io.BytesIO(b"PK\x03\x04 a zip file"), contracts.reader_schema())


def test_container_of_unresolvable_schema() -> None:
    body = container_bytes(contracts.load(contracts.SCORED_MESSAGE), [])
    with pytest.raises(SchemaMismatchError, match="cannot read this file's writer schema"):
        ContainerReader(io.BytesIO(body), contracts.reader_schema())


def test_container_whose_writer_schema_is_not_avro() -> None:
    # found by fuzzing: a header that is valid JSON but not a valid schema escaped as fastavro's own
    good = container_bytes(contracts.email_metadata(1), [email_v1()])
    bad = good.replace(b'"name": "attachment_count"', b'"oame": "attachment_count"', 1)
    with pytest.raises(SchemaMismatchError, match="not a valid Avro schema"):
        ContainerReader(io.BytesIO(bad), contracts.reader_schema())
