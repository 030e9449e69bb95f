"""The local server plays API Gateway: payload 2.0 events, the JWT authorizer's 401 before the
app, the verified claims where the authorizer puts them; the Lambda reads them there."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

import pytest

from tests.harness.review import Api, claims, doc
from trustpipe_review import lambda_handler
from trustpipe_review.errors import UnauthenticatedError
from trustpipe_review.local_server import _LocalContext, running, to_event


class Verifier:
    """Takes the token "good" as acme's reviewer, refuses every other."""

    def claims(self, authorization: str | None) -> dict[str, Any]:
        if authorization != "Bearer good":
            raise UnauthenticatedError("the token is not valid: InvalidSignatureError")
        return claims()


def get(url: str, token: str | None = None) -> tuple[int, Any]:
    request = urllib.request.Request(url)  # noqa: S310 - a loopback URL made here
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as err:
        return err.code, json.loads(err.read())


def test_the_server_lets_only_verified_tokens_through_and_the_app_reads_their_claims() -> None:
    api = Api(doc("acme", "m1"), doc("globex", "g1"))
    api.who = None  # the claims come from the server's authorizer alone
    with running(api.app, Verifier()) as url:  # type: ignore[arg-type]
        assert get(f"{url}/messages", "forged") == (
            401,
            {"error": "the token is not valid: InvalidSignatureError"},
        )
        assert get(f"{url}/messages")[0] == 401
        status, page = get(f"{url}/messages", "good")
        assert status == 200 and [m["message_id"] for m in page["messages"]] == ["m1"]
        assert get(f"{url}/openapi.json")[0] == 200  # the API's description needs no token


def test_a_query_string_becomes_the_events_parameters_decoded() -> None:
    event = to_event("GET", "/messages?q=a%20b&sender=x%2By", {"Authorization": "Bearer t"}, b"", "::1")
    assert event["queryStringParameters"] == {"q": "a b", "sender": "x+y"}
    assert event["headers"]["authorization"] == "Bearer t" and event["rawPath"] == "/messages"


def test_the_lambda_serves_the_authorizers_claims_and_refuses_an_event_without_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    api = Api(doc("acme", "m1"))
    monkeypatch.setattr(lambda_handler, "_built", [api.app])
    event = to_event("GET", "/messages/m1", {}, b"", "::1")
    assert lambda_handler.handler(event, _LocalContext())["statusCode"] == 401
    event["requestContext"]["authorizer"] = {"jwt": {"claims": claims()}}
    answer = lambda_handler.handler(event, _LocalContext())
    assert answer["statusCode"] == 200 and json.loads(answer["body"])["message_id"] == "m1"


def test_the_function_takes_the_pages_pool_and_client_from_its_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    # GIVEN the pipeline's settings object, written before the pool existed (it names none), and
    # the function's environment, which the review module sets to the pool's and client's ids
    settings = tmp_path / "settings.json"
    required = (
        "landing_bucket scored_bucket archive_bucket scored_topic_arn importer_queue_url importer_dlq_url "
        "raw_stream_name scored_stream_name imported_stream_name registry_table_name"
    )
    settings.write_text(json.dumps({"region": "us-east-1", **dict.fromkeys(required.split(), "x")}))
    monkeypatch.setenv(lambda_handler.SETTINGS_ENV, str(settings))
    monkeypatch.setenv(lambda_handler.POOL_ENV, "us-east-1_pool")
    monkeypatch.setenv(lambda_handler.CLIENT_ENV, "client-1")
    built: list[Any] = []
    monkeypatch.setattr(lambda_handler, "_built", [])
    monkeypatch.setattr(lambda_handler, "review_app", lambda aws: built.append(aws.settings) or "app")
    monkeypatch.setattr(lambda_handler, "resolve", lambda app, event, context: {"statusCode": 200})
    # WHEN the first request builds the app
    lambda_handler.handler({}, _LocalContext())
    # THEN the app (and its page's sign-in) has them
    (seen,) = built
    assert (seen.review_user_pool_id, seen.review_client_id) == ("us-east-1_pool", "client-1")
