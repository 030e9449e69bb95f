"""The search client finds its store: the settings' URL (the local stack's emulator), else the
endpoint of the settings' domain, asked once of the domain API (in-process moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws
from opensearchpy import Urllib3AWSV4SignerAuth

from tests.harness.paths import ROOT
from trustpipe.settings import Settings
from trustpipe_search import engine
from trustpipe_search.errors import SearchDomainUnavailableError, SearchNotConfiguredError

DOMAIN = "trustpipe-dev"


@pytest.fixture
def on_aws() -> Iterator[Settings]:
    """Settings as the pipeline writes them on AWS: no search_url, the domain's name."""
    with mock_aws():
        data = json.loads((ROOT / "tests/unit/fixtures/settings.json").read_text())
        yield Settings.from_dict({**data, "aws_endpoint": None, "search_domain": DOMAIN})


def _create(vpc: bool) -> None:
    extra: dict[str, Any] = (
        {"VPCOptions": {"SubnetIds": ["subnet-1"], "SecurityGroupIds": ["sg-1"]}} if vpc else {}
    )
    boto3.client("opensearch", region_name="us-east-1").create_domain(DomainName=DOMAIN, **extra)


def _host(client: Any) -> str:
    (host,) = client.transport.hosts
    return f"{'https' if host.get('use_ssl') else 'http'}://{host['host']}:{host['port']}"


def test_a_vpc_domains_endpoint_is_found_by_its_name_and_signed_for_es(on_aws: Settings) -> None:
    # GIVEN the pipeline's domain in the VPC
    _create(vpc=True)
    # WHEN the indexer connects with settings that name only the domain
    client = engine.connect(on_aws)
    # THEN it talks HTTPS to the domain's VPC endpoint, each request signed for the es service
    assert _host(client) == f"https://{DOMAIN}.us-east-1.es.amazonaws.com:443"
    auth = client.transport.kwargs["http_auth"]
    assert isinstance(auth, Urllib3AWSV4SignerAuth)
    assert auth.service == engine.SIGNING_SERVICE == "es"


def test_a_domain_outside_a_vpc_is_reached_at_its_public_endpoint(on_aws: Settings) -> None:
    _create(vpc=False)
    assert engine.domain_url(on_aws) == f"https://{DOMAIN}.us-east-1.es.amazonaws.com"


class Domains:
    """The domain API's answer for a domain still being created: no endpoint yet."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def describe_domain(self, DomainName: str) -> dict[str, Any]:
        self.asked.append(DomainName)
        return {"DomainStatus": {"DomainName": DomainName, "Created": True, "Processing": True}}


def test_no_domain_or_a_domain_without_an_endpoint_yet_is_one_clear_error(on_aws: Settings) -> None:
    # GIVEN no domain of that name
    # WHEN the indexer connects THEN it is told so, naming the domain and the region
    with pytest.raises(SearchDomainUnavailableError, match=f"no search domain '{DOMAIN}' in us-east-1"):
        engine.connect(on_aws)
    # GIVEN a domain still being created WHEN the indexer connects THEN it is told that
    domains = Domains()
    with pytest.raises(SearchDomainUnavailableError, match=r"has no endpoint yet \(still being created\)"):
        engine.connect(on_aws, domains)
    assert domains.asked == [DOMAIN]


def test_settings_naming_no_store_are_refused_and_a_url_is_used_without_asking(on_aws: Settings) -> None:
    from dataclasses import replace

    domains = Domains()
    with pytest.raises(SearchNotConfiguredError, match="neither search_url nor search_domain"):
        engine.connect(replace(on_aws, search_domain=None), domains)
    client = engine.connect(replace(on_aws, search_url="https://search.example:443"), domains)
    assert _host(client) == "https://search.example:443"
    assert domains.asked == []
