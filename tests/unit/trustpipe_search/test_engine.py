"""The search client finds its store: the settings' URL (the local stack's emulator), else the
domain's URL read once from the SSM parameter the settings name (in-process moto)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import replace
from typing import Any

import boto3
import pytest
from moto import mock_aws
from opensearchpy import Urllib3AWSV4SignerAuth

from tests.harness.paths import ROOT
from trustpipe.settings import Settings
from trustpipe_search import engine
from trustpipe_search.errors import SearchNotConfiguredError, SearchUrlUnavailableError

PARAMETER = "/trustpipe/trustpipe-dev/search/url"
URL = "https://vpc-trustpipe-dev-abc123.us-east-1.es.amazonaws.com"


@pytest.fixture
def on_aws() -> Iterator[Settings]:
    """Settings as the pipeline writes them on AWS: no search_url, the parameter's name."""
    with mock_aws():
        data = json.loads((ROOT / "tests/unit/fixtures/settings.json").read_text())
        yield Settings.from_dict({**data, "aws_endpoint": None, "search_url_parameter": PARAMETER})


def _put(value: str) -> None:
    boto3.client("ssm", region_name="us-east-1").put_parameter(Name=PARAMETER, Value=value, Type="String")


def _host(client: Any) -> str:
    (host,) = client.transport.hosts
    return f"{'https' if host.get('use_ssl') else 'http'}://{host['host']}:{host['port']}"


class Parameters:
    """An ``ssm`` client that counts what it is asked (and answers as moto's does)."""

    def __init__(self) -> None:
        self._ssm = boto3.client("ssm", region_name="us-east-1")
        self.exceptions = self._ssm.exceptions
        self.asked: list[str] = []

    def get_parameter(self, Name: str) -> dict[str, Any]:
        self.asked.append(Name)
        return self._ssm.get_parameter(Name=Name)  # type: ignore[no-any-return]


def test_the_domains_url_is_read_once_from_the_parameter_and_signed_for_es(on_aws: Settings) -> None:
    # GIVEN the domain's URL in the pipeline's SSM parameter
    _put(URL)
    parameters = Parameters()
    # WHEN the indexer connects with settings that name only the parameter
    client = engine.connect(on_aws, parameters)
    # THEN it asked SSM once and talks HTTPS to that URL, each request signed for the es service
    assert parameters.asked == [PARAMETER]
    assert _host(client) == f"{URL}:443"
    auth = client.transport.kwargs["http_auth"]
    assert isinstance(auth, Urllib3AWSV4SignerAuth)
    assert auth.service == engine.SIGNING_SERVICE == "es"
    # and a client made without one makes its own ssm client
    assert engine.parameter_url(on_aws) == URL


@pytest.mark.parametrize(
    "value",
    [
        "http://vpc-x.es.amazonaws.com",
        "vpc-x.es.amazonaws.com",
        "https://",
        "none",
        "https://[vpc-x",
        "https://vpc-x:99999",
    ],
)
def test_no_parameter_or_one_holding_no_https_url_is_one_clear_error(on_aws: Settings, value: str) -> None:
    # GIVEN no parameter of that name
    # WHEN the indexer connects THEN it is told so, naming the parameter and the region
    with pytest.raises(SearchUrlUnavailableError, match=f"no SSM parameter '{PARAMETER}' in us-east-1"):
        engine.connect(on_aws)
    # GIVEN a parameter holding no https:// URL WHEN the indexer connects THEN it is told that
    _put(value)
    with pytest.raises(SearchUrlUnavailableError, match=f"SSM parameter '{PARAMETER}' holds no https:// URL"):
        engine.connect(on_aws)


def test_settings_naming_no_store_are_refused_and_a_url_is_used_without_asking(on_aws: Settings) -> None:
    parameters = Parameters()
    with pytest.raises(SearchNotConfiguredError, match="neither search_url nor search_url_parameter"):
        engine.connect(replace(on_aws, search_url_parameter=None), parameters)
    client = engine.connect(replace(on_aws, search_url="https://search.example:443"), parameters)
    assert _host(client) == "https://search.example:443"
    assert parameters.asked == []
