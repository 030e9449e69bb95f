"""Which failures are transient: the one list the stream workers' processor consults.

A transient failure is the world's, not the input's: retrying the same records later may
succeed, so they wait (capped backoff) and nothing is skipped. Every other error that escapes a
worker is the input's until shown otherwise: the batch is split until the record that fails
stands alone, and that record is set aside with its reason.
"""

from __future__ import annotations

import sys

from botocore.exceptions import (
    ClientError,
    ConnectTimeoutError,
    CredentialRetrievalError,
    EndpointConnectionError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    ReadTimeoutError,
)

from trustpipe.errors import TransientError
from trustpipe.registry_client import RegistryClientError

THROTTLING_CODES = frozenset(
    {
        "Throttling",
        "ThrottlingException",
        "ThrottledException",
        "RequestThrottledException",
        "TooManyRequestsException",
        "ProvisionedThroughputExceededException",
        "TransactionInProgressException",
        "RequestLimitExceeded",
        "BandwidthLimitExceeded",
        "LimitExceededException",
        "RequestThrottled",
        "SlowDown",
        "PriorRequestNotComplete",
        "EC2ThrottledException",
        "KMSThrottlingException",
    }
)
"""AWS error codes that mean "slow down" (botocore's standard retry mode names the same ones)."""
SERVER_FAULT_CODES = frozenset(
    {"RequestTimeout", "RequestTimeoutException", "InternalError", "InternalFailure", "ServiceUnavailable"}
)
"""AWS error codes of a service that failed on its side (HTTP 5xx is counted too)."""
CREDENTIAL_CODES = frozenset({"ExpiredToken", "ExpiredTokenException", "RequestExpired"})
"""Credentials that expired in flight: the next call signs with fresh ones."""
DEPLOYMENT_CODES = frozenset({"AccessDenied", "AccessDeniedException", "ResourceNotFoundException"})
"""The deployment, not the record: a missing permission or stream fails every record alike, so
splitting the batch would set the whole shard aside; it waits (and pages) until fixed."""
TRANSIENT_BOTOCORE = (
    EndpointConnectionError,
    ConnectTimeoutError,
    ReadTimeoutError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    CredentialRetrievalError,
)
"""Network faults botocore raises after its own retries: the connection refused, timed out,
closed, or cut while the response streamed in (``HTTPClientError`` holds ``ConnectionClosedError``
and ``ResponseStreamingError``; a cut response body is also ``IncompleteReadError``); and
credentials not yet available."""
REGISTRY_TRANSIENT_STATUSES = frozenset({0, 401, 403, 408, 429})
"""The registry unreachable (0), refusing the deployment's signature, timing out or throttling
(and any 5xx): not the record's schema id, which a 404 names."""
PROGRAM_LIMIT_CLASS = "54"
"""SQLSTATE class 54, program limit exceeded (an index row too large for a long key): psycopg
files it under OperationalError, yet it comes from the row, not the server's health."""


def is_transient(err: BaseException) -> bool:
    """Whether ``err`` is the world's passing trouble (retry the same records) rather than the
    input's (split the batch, set the failing record aside)."""
    if isinstance(err, (TransientError, ConnectionError, TimeoutError, *TRANSIENT_BOTOCORE)):
        return True
    if isinstance(err, ClientError):
        return _aws_transient(err)
    if isinstance(err, RegistryClientError):
        return err.status in REGISTRY_TRANSIENT_STATUSES or err.status >= 500
    # psycopg only when it is loaded: no database error without it, and the Spark job's clients
    # (which share this module through trustpipe.aws) never install it
    psycopg = sys.modules.get("psycopg")
    if psycopg is not None and isinstance(err, psycopg.OperationalError):
        return not (err.sqlstate or "").startswith(PROGRAM_LIMIT_CLASS)
    return _search_transient(err)


SEARCH_TRANSIENT_STATUSES = frozenset({401, 403, 408, 429})
"""The search store refusing the deployment's signature (a role not yet mapped), timing out or
throttling (and any 5xx): the cluster's state or the deployment's, not a document's."""


def _search_transient(err: BaseException) -> bool:
    """opensearch-py's errors, only when it is loaded (the indexer's hosts): a connection that
    failed or timed out, or a status of ``SEARCH_TRANSIENT_STATUSES`` or 5xx."""
    exceptions = sys.modules.get("opensearchpy.exceptions")
    if exceptions is None or not isinstance(err, exceptions.TransportError):
        return False
    if isinstance(err, exceptions.ConnectionError):  # ConnectionTimeout and SSLError included
        return True
    status = err.status_code if isinstance(err.status_code, int) else 0
    return status in SEARCH_TRANSIENT_STATUSES or status >= 500


def _aws_transient(err: ClientError) -> bool:
    code = str(err.response.get("Error", {}).get("Code", ""))
    status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
    return (
        code in THROTTLING_CODES | SERVER_FAULT_CODES | CREDENTIAL_CODES | DEPLOYMENT_CODES
        or status >= 500
        or status == 429
    )
