"""The demo's registry step: sensors register their writer schemas, a consumer decodes framed
records of every version, fetching each schema id from the registry once."""

from __future__ import annotations

import io
from typing import Any

from schema_registry_lambda.dynamodb import DynamoStore
from schema_registry_lambda.local_server import running
from trustpipe import contracts, s3
from trustpipe.aws import AwsClients
from trustpipe.codec import ContainerReader, FramedDecoder, FramedEncoder
from trustpipe.registry_client import RegistryClient

SUBJECT = contracts.EMAIL_METADATA_SUBJECT


def framed_round_trip(aws: AwsClients, keys: list[str]) -> dict[str, Any]:
    """Frame every record of ``keys`` with its sensor schema's registry id and decode it to v4."""
    settings = aws.settings
    with running(DynamoStore(aws.client("dynamodb"), settings.registry_table_name)) as url:
        producer, consumer = RegistryClient(url), RegistryClient(url)
        ids = {v: producer.register(SUBJECT, contracts.email_metadata(v)) for v in contracts.SENSOR_VERSIONS}
        encoders = {v: FramedEncoder(ids[v], contracts.email_metadata(v)) for v in ids}
        decoder = FramedDecoder(consumer, contracts.reader_schema())
        decoded = 0
        for key in keys:
            reader = ContainerReader(io.BytesIO(s3.get(aws.s3, settings.landing_bucket, key)))
            version = contracts.email_metadata_version_of(reader.writer_schema)
            if version is None:
                continue
            for record in reader:
                decoder.decode(encoders[version].encode(record))
                decoded += 1
    return {
        "subject": SUBJECT,
        "ids": {f"v{v}": i for v, i in ids.items()},
        "framed_records": decoded,
        "consumer_requests": consumer.requests,
    }
