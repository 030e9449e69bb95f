"""The review API on fakes: the enterprise comes from the token's claims only, bad requests get
one reason, decisions act once per idempotency key, the OpenAPI document is the code's."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest

from tests.harness.paths import ROOT
from tests.harness.review import Answer, Api, claims, doc
from trustpipe_review.api import PageConfig, openapi_json, resolve
from trustpipe_review.local_server import _LocalContext, to_event
from trustpipe_review.openapi import document_app


def test_the_committed_openapi_document_is_the_one_the_code_generates() -> None:
    committed = (ROOT / "docs" / "review-openapi.json").read_text()
    assert committed == openapi_json(document_app()), "run `trustpipe review openapi`"
    paths = json.loads(committed)["paths"]
    assert {"/messages", "/messages/{message_id}", "/messages/{message_id}/decisions"} <= set(paths)


def test_the_document_is_valid_openapi_and_names_the_refusals_this_api_answers() -> None:
    from openapi_spec_validator import validate  # moto[server]'s, in the test environment

    document = json.loads((ROOT / "docs" / "review-openapi.json").read_text())
    validate(document)
    decisions = document["paths"]["/messages/{message_id}/decisions"]["post"]["responses"]
    assert {"200", "400", "401", "403", "404", "409", "413", "415", "503"} == set(decisions)


def test_the_app_serves_its_openapi_document() -> None:
    api = Api()
    answer = api.call("GET", "/openapi.json")
    assert answer.status == 200
    assert answer.body["info"]["title"] == "trustpipe review API"


def test_a_reviewer_lists_their_own_enterprises_messages_newest_first() -> None:
    api = Api(doc("acme", "<a1@x>", minute=1), doc("acme", "<a2@x>", minute=2), doc("globex", "<g1@x>"))
    answer = api.call("GET", "/messages?verdict=QUARANTINE&size=10")
    assert answer.status == 200
    assert [m["message_id"] for m in answer.body["messages"]] == ["<a2@x>", "<a1@x>"]
    assert answer.body["messages"][0]["received_at"] == "2026-11-20T09:02:00Z"
    assert {"term": {"enterprise_id": "acme"}} in api.search.bodies[-1]["query"]["bool"]["filter"]


@pytest.mark.parametrize(
    "target",
    [
        pytest.param("/messages?enterprise_id=acme", id="enterprise_id"),
        pytest.param("/messages?enterprise=acme", id="enterprise"),
        pytest.param("/stats/hourly?Enterprise_Id=acme", id="any-case"),
    ],
)
def test_an_enterprise_in_the_query_string_is_refused(target: str) -> None:
    api = Api(doc("acme", "<a1@x>"))
    api.who = claims("globex")
    answer = api.call("GET", target)
    assert answer.status == 400
    assert "your token names" in answer.body["error"]
    assert api.search.bodies == []


def test_globex_sees_none_of_acmes_messages_by_any_url() -> None:
    api = Api(doc("acme", "<a1@x>"))
    api.who = claims("globex")
    assert api.call("GET", "/messages").body["messages"] == []
    for target in (f"/messages/{quote('<a1@x>', safe='')}", "/messages/acme%2F%3Ca1%40x%3E"):
        answer = api.call("GET", target)
        assert (answer.status, answer.body) == (404, {"error": "no such message at your enterprise"})
    answer = api.call(
        "POST",
        f"/messages/{quote('<a1@x>', safe='')}/decisions",
        {"decision": "release"},
        {"Idempotency-Key": "k1"},
    )
    assert answer.status == 404
    assert api.sent == [] and api.audit.rows == []


@pytest.mark.parametrize(
    ("who", "status", "reason"),
    [
        pytest.param(None, 401, "no verified token", id="no-claims"),
        pytest.param({"custom:role": "reviewer"}, 403, "no enterprise", id="no-enterprise"),
        pytest.param(claims("initech"), 403, "no enterprise this deployment serves", id="unserved"),
        pytest.param(claims("ACME"), 403, "no enterprise", id="not-an-id"),
        pytest.param(claims(role="admin"), 403, "role must be one of", id="unknown-role"),
    ],
)
def test_claims_that_name_no_reviewer_are_refused(
    who: dict[str, str] | None, status: int, reason: str
) -> None:
    api = Api(doc("acme", "<a1@x>"))
    api.who = who
    answer = api.call("GET", "/messages")
    assert answer.status == status
    assert reason in answer.body["error"]


@pytest.mark.parametrize(
    ("method", "target", "body", "status", "reason"),
    [
        pytest.param("GET", "/messages?size=501", None, 400, "size", id="page-too-large"),
        pytest.param("GET", "/messages?verdict=MAYBE", None, 400, "verdict", id="unknown-verdict"),
        pytest.param("GET", "/messages?since=yesterday", None, 400, "since", id="bad-time"),
        pytest.param("GET", "/messages?cursor=not-a-cursor", None, 400, "cursor", id="forged-cursor"),
        pytest.param("GET", "/messages?q=" + "x" * 5000, None, 413, "query string", id="oversized-query"),
        pytest.param("GET", "/messages?sender=" + "x" * 400, None, 400, "sender", id="long-sender"),
        pytest.param(
            "GET",
            "/stats/hourly?since=2026-01-01T00:00:00Z&until=2026-06-01T00:00:00Z",
            None,
            400,
            "the range must be",
            id="range-too-long",
        ),
        pytest.param("POST", "/messages/m1/decisions", "x" * 5000, 413, "body", id="oversized-body"),
        pytest.param("POST", "/messages/m1/decisions", "{not json", 400, "body", id="malformed-body"),
        pytest.param(
            "POST", "/messages/m1/decisions", {"decision": "delete"}, 400, "decision", id="bad-decision"
        ),
        pytest.param(
            "POST",
            "/messages/m1/decisions",
            {"decision": "release", "enterprise_id": "globex"},
            400,
            "enterprise_id",
            id="enterprise-in-body",
        ),
        pytest.param("GET", "/messages/" + "m" * 9000, None, 413, "path", id="oversized-id"),
        pytest.param(
            "POST", "/messages/m1/decisions", "decision=release", 415, "application/json", id="form-body"
        ),
    ],
)
def test_a_bad_request_gets_one_clear_reason(
    method: str, target: str, body: object, status: int, reason: str
) -> None:
    api = Api(doc("acme", "m1"))
    form = {"Content-Type": "text/plain"} if body == "decision=release" else {}
    answer = api.call(method, target, body, {"Idempotency-Key": "k1", **form})
    assert answer.status == status, answer.body
    assert set(answer.body) == {"error"}
    assert reason in answer.body["error"]
    assert api.sent == [] and api.audit.rows == []


def test_a_release_acts_once_and_a_replay_of_its_key_gets_the_first_answer() -> None:
    api = Api(doc("acme", "<a1@x>"), doc("globex", "<a1@x>"))
    target = f"/messages/{quote('<a1@x>', safe='')}/decisions"
    first = api.call("POST", target, {"decision": "release"}, {"Idempotency-Key": "key-1"})
    again = api.call("POST", target, {"decision": "release"}, {"Idempotency-Key": "key-1"})
    assert first.status == 200 and again == first
    assert first.body["previous_verdict"] == "QUARANTINE" and first.body["release_sent"] is True
    (action,) = api.sent
    assert (action["action"], action["enterprise_id"], action["message_id"]) == ("RELEASE", "acme", "<a1@x>")
    assert action["action_id"] == "acme/<a1@x>/RELEASE/m-7/3"
    assert len(api.audit.rows) == 1 and api.audit.rows[0].reviewer == "ann@acme.test"
    assert api.labels == [
        ("acme", "<a1@x>", "release", first.body and api.audit.rows[0].decided_at, "ann@acme.test")
    ]
    (update,) = api.search.updates
    assert update["id"] == "acme/<a1@x>" and update["doc"]["decision"] == "release"
    assert api.search.docs["globex/<a1@x>"].get("decision") is None


def test_a_key_reused_for_another_decision_is_a_conflict_and_acts_not() -> None:
    api = Api(doc("acme", "m1"), doc("acme", "m2"))
    assert (
        api.call("POST", "/messages/m1/decisions", {"decision": "mark_safe"}, {"Idempotency-Key": "k"}).status
        == 200
    )
    answer = api.call("POST", "/messages/m2/decisions", {"decision": "mark_safe"}, {"Idempotency-Key": "k"})
    assert answer.status == 409 and "another message or decision" in answer.body["error"]
    assert len(api.audit.rows) == 1 and api.sent == []


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param({}, id="missing"),
        pytest.param({"Idempotency-Key": "x" * 129}, id="too-long"),
        pytest.param({"Idempotency-Key": "caf\u00e9"}, id="not-ascii"),
    ],
)
def test_a_decision_without_a_usable_idempotency_key_is_refused(headers: dict[str, str]) -> None:
    api = Api(doc("acme", "m1"))
    answer = api.call("POST", "/messages/m1/decisions", {"decision": "release"}, headers)
    assert answer.status == 400 and "dempotency" in answer.body["error"].lower()
    assert api.sent == []


def test_a_viewer_reads_but_may_not_decide() -> None:
    api = Api(doc("acme", "m1"))
    api.who = claims(role="viewer")
    assert api.call("GET", "/messages/m1").status == 200
    answer = api.call("POST", "/messages/m1/decisions", {"decision": "release"}, {"Idempotency-Key": "k"})
    assert answer.status == 403 and api.sent == []


def test_an_interrupted_decision_is_finished_by_its_replay() -> None:
    api = Api(doc("acme", "m1"))
    sent = api.service.send_actions

    def fail_once(actions: object) -> None:
        api.service.send_actions = sent
        raise ConnectionError("queue unreachable")

    api.service.send_actions = fail_once  # type: ignore[assignment]
    failed = api.call("POST", "/messages/m1/decisions", {"decision": "release"}, {"Idempotency-Key": "k"})
    assert failed == Answer(503, {"error": "a store is unavailable now: retry later"})
    assert api.audit.rows[0].answer is None
    answer = api.call("POST", "/messages/m1/decisions", {"decision": "release"}, {"Idempotency-Key": "k"})
    assert answer.status == 200 and len(api.sent) == 1 and api.audit.rows[0].answer == answer.body


def test_the_review_page_is_served_with_its_sign_in_and_a_strict_policy() -> None:
    page = PageConfig("client-1", "http://127.0.0.1:5000/")
    api = Api(page=page)
    event = to_event("GET", "/", {}, b"", "::1")
    answer = resolve(api.app, event, _LocalContext())
    assert answer["statusCode"] == 200 and '<script src="page.js"></script>' in answer["body"]
    policy = answer["headers"]["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "connect-src 'self' http://127.0.0.1:5000" in policy
    script = resolve(api.app, to_event("GET", "/page.js", {}, b"", "::1"), _LocalContext())
    assert script["statusCode"] == 200 and "innerHTML" not in script["body"]  # values are set as text
    assert api.call("GET", "/config.json").body == {
        "client_id": "client-1",
        "cognito_url": "http://127.0.0.1:5000/",
    }


def test_without_a_user_pool_there_is_no_page() -> None:
    api = Api()
    assert api.call("GET", "/config.json").status == 404
    assert api.call("GET", "/").status == 404


def test_a_fault_of_the_api_itself_is_a_500_with_no_detail(caplog: pytest.LogCaptureFixture) -> None:
    api = Api(doc("acme", "m1"))

    def broken(*_args: object, **_kwargs: object) -> None:
        raise KeyError("hits")

    api.search.search = broken  # type: ignore[method-assign, assignment]
    assert api.call("GET", "/messages") == Answer(500, {"error": "internal error"})
    assert "review request failed" in caplog.text
