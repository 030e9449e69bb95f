"""The search store's client and its one-time set-up: the index template (mappings and the read
alias every daily index joins), and retention by whole daily indices.

On AWS the client signs each request with the host's role (SigV4, service ``es``) and reads the
domain's URL from the SSM parameter the settings name (``search_url_parameter``, once per client:
the hosts reach SSM through its interface endpoint); locally it talks plain HTTP to the stack's
emulator at the settings' ``search_url``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

from opensearchpy import OpenSearch, Urllib3AWSV4SignerAuth

from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_search import documents
from trustpipe_search.errors import SearchNotConfiguredError, SearchUrlUnavailableError

REQUEST_TIMEOUT_SECONDS = 30
SIGNING_SERVICE = "es"
"""Amazon OpenSearch Service's SigV4 service name (``aoss`` is Serverless's)."""


def connect(settings: Settings, parameters: Any = None) -> OpenSearch:
    """A client of the settings' search store: at ``search_url``, else at the URL the SSM parameter
    ``search_url_parameter`` holds (asked of ``parameters``, an ``ssm`` boto3 client, made when not
    given). SearchNotConfiguredError when the settings name neither."""
    url = settings.search_url or parameter_url(settings, parameters)
    if settings.aws_endpoint is not None:  # the local stack: the emulator, unsigned
        return OpenSearch(hosts=[url], timeout=REQUEST_TIMEOUT_SECONDS)
    import boto3

    credentials = boto3.session.Session().get_credentials()
    return OpenSearch(
        hosts=[url],
        http_auth=Urllib3AWSV4SignerAuth(credentials, settings.region, SIGNING_SERVICE),
        use_ssl=True,
        verify_certs=True,
        timeout=REQUEST_TIMEOUT_SECONDS,
    )


def parameter_url(settings: Settings, parameters: Any = None) -> str:
    """The domain's ``https://`` URL, read from the settings' SSM parameter (Terraform writes it
    there once the domain exists). SearchUrlUnavailableError when there is no such parameter or it
    holds no ``https://`` URL."""
    name = settings.search_url_parameter
    if not name:
        raise SearchNotConfiguredError(
            "settings have neither search_url nor search_url_parameter: this deployment has no search store"
        )
    if parameters is None:
        parameters = AwsClients(settings).client("ssm")
    try:
        value: str = parameters.get_parameter(Name=name)["Parameter"]["Value"]
    except parameters.exceptions.ParameterNotFound as err:
        raise SearchUrlUnavailableError(f"no SSM parameter {name!r} in {settings.region}") from err
    if not _is_https_url(value):
        raise SearchUrlUnavailableError(f"SSM parameter {name!r} holds no https:// URL: {value[:200]!r}")
    return value


def _is_https_url(value: str) -> bool:
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises ValueError on a port that is no port
    except ValueError:
        return False
    return parts.scheme == "https" and bool(parts.hostname)


def ensure_template(client: OpenSearch, replicas: int = 1) -> None:
    """Put the index template (idempotent: the same body again changes nothing), and the review
    decision's fields on the daily indices made from an older template (adding fields to a
    strict mapping is allowed; changing one is not, and none is changed)."""
    client.indices.put_index_template(
        name=documents.TEMPLATE_NAME, body=documents.template(replicas=replicas)
    )
    if daily_indices(client):
        client.indices.put_mapping(
            index=f"{documents.INDEX_PREFIX}*", body={"properties": documents.REVIEW_MAPPINGS}
        )


def daily_indices(client: OpenSearch) -> list[str]:
    """The daily indices that exist, oldest first."""
    found = client.indices.get(index=f"{documents.INDEX_PREFIX}*", params={"expand_wildcards": "open"})
    return sorted(name for name in found if documents.index_day(name) is not None)


def delete_older_than(client: OpenSearch, keep_days: int, now: datetime | None = None) -> list[str]:
    """Delete the daily indices of days before the last ``keep_days`` (today included); their
    names. On AWS an ISM policy does the same; this is the local stack's and the check's."""
    if keep_days < 1:
        raise ValueError("keep_days must be at least 1")
    today = (now or datetime.now(UTC)).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    cutoff = today - timedelta(days=keep_days - 1)
    old = [name for name in daily_indices(client) if (documents.index_day(name) or cutoff) < cutoff]
    for name in old:
        client.indices.delete(index=name)
    return old


def refresh(client: OpenSearch) -> Any:
    """Make what was indexed searchable now (tests and the reconciliation; OpenSearch does it each
    second on its own)."""
    return client.indices.refresh(
        index=documents.READ_ALIAS, params={"ignore_unavailable": "true", "allow_no_indices": "true"}
    )
