"""Which failures wait (transient: the world's) and which split the batch (the record's)."""

from __future__ import annotations

import psycopg
import pytest
from botocore.exceptions import (
    ClientError,
    ConnectionClosedError,
    EndpointConnectionError,
    IncompleteReadError,
    ParamValidationError,
    ReadTimeoutError,
    ResponseStreamingError,
)

from trustpipe.codec import BadMagicByteError
from trustpipe.errors import DatabaseUnreachableError, PermanentError
from trustpipe.registry_client import RegistryClientError
from trustpipe.transient import is_transient
from trustpipe_stream.put import PutFailedError


def aws(code: str, status: int = 400) -> ClientError:
    return ClientError({"Error": {"Code": code}, "ResponseMetadata": {"HTTPStatusCode": status}}, "Call")


@pytest.mark.parametrize(
    "err",
    [
        PutFailedError("3 records still refused"),
        DatabaseUnreachableError("cannot reach the database"),
        EndpointConnectionError(endpoint_url="http://kinesis"),
        ReadTimeoutError(endpoint_url="http://kinesis"),
        ConnectionClosedError(endpoint_url="http://kinesis"),
        # the chaos run's dropped connection: the response cut while its body streamed in
        ResponseStreamingError(error="Connection broken: IncompleteRead(0 bytes read, 97 more expected)"),
        IncompleteReadError(actual_bytes=0, expected_bytes=97),
        ConnectionResetError(),
        aws("ProvisionedThroughputExceededException"),
        aws("ThrottlingException"),
        aws("SlowDown", 503),
        aws("Whatever", 500),
        aws("ExpiredTokenException"),
        aws("AccessDeniedException", 403),
        psycopg.OperationalError("connection failed"),
        psycopg.errors.AdminShutdown(),
        psycopg.errors.SerializationFailure(),
        RegistryClientError(0, 0, "unreachable"),
        RegistryClientError(503, 503, "unavailable"),
    ],
    ids=lambda e: type(e).__name__ + ":" + str(e)[:40],
)
def test_the_worlds_trouble_is_transient(err: Exception) -> None:
    assert is_transient(err)


@pytest.mark.parametrize(
    "err",
    [
        ValueError("math domain error"),
        KeyError("url_count"),
        BadMagicByteError("not framed"),
        PermanentError("never"),
        aws("ValidationException"),
        aws("InvalidArgumentException"),
        ParamValidationError(report="Invalid length for parameter Records[0].PartitionKey"),
        psycopg.DataError("PostgreSQL text fields cannot contain NUL (0x00) bytes"),
        psycopg.errors.UntranslatableCharacter(),
        psycopg.errors.CharacterNotInRepertoire(),
        psycopg.errors.ProgramLimitExceeded(),
        RegistryClientError(422, 42201, "invalid schema"),
    ],
    ids=lambda e: type(e).__name__,
)
def test_the_records_own_fault_is_not(err: Exception) -> None:
    assert not is_transient(err)
