"""The demo's registry step: sensors register their writer schemas, a consumer decodes framed
records of every version, fetching each schema id from the registry once."""

from __future__ import annotations

import io
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from schema_registry_lambda.api import create_app
from schema_registry_lambda.dynamodb import DynamoStore
from schema_registry_lambda.local_server import make_server
from schema_registry_lambda.registry import Registry
from trustpipe import contracts, s3
from trustpipe.aws import AwsClients
from trustpipe.codec import ContainerReader, FramedDecoder, FramedEncoder
from trustpipe.registry_client import RegistryClient
from trustpipe.settings import Settings

SUBJECT = "email-metadata-value"


@contextmanager
def running_registry(settings: Settings) -> Iterator[str]:
    """The registry app on the local stack's DynamoDB table, on a free loopback port."""
    store = DynamoStore(AwsClients(settings).client("dynamodb"), settings.registry_table_name)
    server = make_server(create_app(Registry(store)), "127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def framed_round_trip(settings: Settings, keys: list[str]) -> dict[str, Any]:
    """Frame every record of ``keys`` with its sensor schema's registry id and decode it to v4."""
    client = AwsClients(settings).s3
    with running_registry(settings) as url:
        producer, consumer = RegistryClient(url), RegistryClient(url)
        ids = {v: producer.register(SUBJECT, contracts.email_metadata(v)) for v in contracts.SENSOR_VERSIONS}
        encoders = {v: FramedEncoder(ids[v], contracts.email_metadata(v)) for v in ids}
        decoder = FramedDecoder(consumer, contracts.reader_schema())
        decoded = 0
        for key in keys:
            reader = ContainerReader(io.BytesIO(s3.get(client, settings.landing_bucket, key)))
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
