"""The search store's client and its one-time set-up: the index template (mappings and the read
alias every daily index joins), and retention by whole daily indices.

On AWS the client signs each request with the host's role (SigV4, service ``es``) and finds the
domain's endpoint by its name (``describe_domain``, once per client); locally it talks plain HTTP
to the stack's emulator at the settings' ``search_url``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from opensearchpy import OpenSearch, Urllib3AWSV4SignerAuth

from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_search import documents
from trustpipe_search.errors import SearchDomainUnavailableError, SearchNotConfiguredError

REQUEST_TIMEOUT_SECONDS = 30
SIGNING_SERVICE = "es"
"""Amazon OpenSearch Service's SigV4 service name (``aoss`` is Serverless's)."""


def connect(settings: Settings, domains: Any = None) -> OpenSearch:
    """A client of the settings' search store: at ``search_url``, else at the endpoint of the
    domain ``search_domain`` (asked of ``domains``, an ``opensearch`` boto3 client, made when not
    given). SearchNotConfiguredError when the settings name neither."""
    url = settings.search_url or domain_url(settings, domains)
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


def domain_url(settings: Settings, domains: Any = None) -> str:
    """``https://`` and the endpoint of the settings' domain: its VPC endpoint, or its public one
    for a domain outside a VPC. SearchDomainUnavailableError when there is no such domain or it
    has no endpoint yet (being created: about 15 minutes after the apply)."""
    name = settings.search_domain
    if not name:
        raise SearchNotConfiguredError(
            "settings have neither search_url nor search_domain: this deployment has no search store"
        )
    if domains is None:
        domains = AwsClients(settings).client("opensearch")
    try:
        status = domains.describe_domain(DomainName=name)["DomainStatus"]
    except domains.exceptions.ResourceNotFoundException as err:
        raise SearchDomainUnavailableError(f"no search domain {name!r} in {settings.region}") from err
    endpoint = (status.get("Endpoints") or {}).get("vpc") or status.get("Endpoint")
    if not endpoint:
        state = "being deleted" if status.get("Deleted") else "still being created"
        raise SearchDomainUnavailableError(f"search domain {name!r} has no endpoint yet ({state})")
    return f"https://{endpoint}"


def ensure_template(client: OpenSearch, replicas: int = 1) -> None:
    """Put the index template (idempotent: the same body again changes nothing)."""
    client.indices.put_index_template(
        name=documents.TEMPLATE_NAME, body=documents.template(replicas=replicas)
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
