"""The review API as the local stack serves it (`trustpipe review serve`, started by `local
up`), on its real parts: moto's Cognito issuing and signing the reviewers' tokens, the search
emulator holding acme's and globex's messages (one Message-ID at both), PostgreSQL's audit
table, and each enterprise's FIFO action queue on the moto server."""

from __future__ import annotations

import base64
import io
import json
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import psycopg
import pytest
from fastavro import parse_schema, schemaless_reader
from opensearchpy import OpenSearch, helpers

from tests.harness.browser import chromium
from tests.harness.cli import run_cli
from tests.harness.paths import ROOT
from trustpipe import contracts, review_labels
from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_importer.app import upgrade
from trustpipe_review.users import Pool, add_user, ensure_pool, login_of, sign_in
from trustpipe_search import documents, engine, queries
from trustpipe_stack.stack import LocalStack

pytestmark = pytest.mark.integration
SHARED = f"<campaign-{uuid.uuid4().hex[:6]}@mailer.example>"
"""One Message-ID at both enterprises (a campaign sent to both)."""
ACME_ONLY = f"<acme/{uuid.uuid4().hex[:6]}@x>"
NOW = datetime.now(UTC).replace(microsecond=0)
"""The module's messages were received 50, 40 and 30 seconds before this."""
SCREENSHOTS = ROOT / "build" / "test-artifacts"


def row(
    enterprise: str, message_id: str, now: datetime, seconds_ago: int, verdict: str = "QUARANTINE"
) -> dict[str, Any]:
    received = now - timedelta(seconds=seconds_ago)
    return {
        "enterprise_id": enterprise,
        "message_id": message_id,
        "received_at": received,
        "scored_at": received + timedelta(seconds=2),
        "from_address": f"billing@{enterprise}-invoices.example",
        "from_display_name": "Billing",
        "from_domain": f"{enterprise}-invoices.example",
        "reply_to": None,
        "sending_ip": "203.0.113.7",
        "score": 0.08,
        "verdict": verdict,
        "reasons": ["lookalike_domain", "reply_to_mismatch"],
        "model_version": "20261201T000000-a",
        "model_promotion": 2,
        "source": "STREAM",
        "source_ref": "kinesis://scored/shardId-0/1",
        "sensor_schema_version": 3,
    }


@dataclass
class Reviewers:
    url: str
    acme: str
    globex: str
    acme_viewer: str
    pool: Pool
    logins: dict[str, tuple[str, str]]
    """(email, password) of each."""


@pytest.fixture(scope="module")
def search(settings: Settings) -> OpenSearch:
    client = engine.connect(settings)
    engine.ensure_template(client, replicas=0)
    # The stack is the worker's, shared: other modules' runs (the demo, the chaos run) index real
    # mail of the same enterprises in the same day. These are the newest when the module begins,
    # and their senders' domains (`<enterprise>-invoices.example`) are no one else's.
    docs = [
        row("acme", SHARED, NOW, 50),
        row("acme", ACME_ONLY, NOW, 40),
        row("acme", f"<acme-pass-{uuid.uuid4().hex[:6]}@x>", NOW, 30, verdict="PASS_THROUGH"),
        row("globex", SHARED, NOW, 50),
    ]
    helpers.bulk(client, [documents.action(d) for d in docs])
    engine.refresh(client)
    return client


@pytest.fixture(scope="module")
def reviewers(settings: Settings, aws: AwsClients, search: OpenSearch) -> Reviewers:
    upgrade(settings)
    cognito = aws.client("cognito-idp")
    pool = ensure_pool(cognito)
    assert (pool.pool_id, pool.client_id) == (settings.review_user_pool_id, settings.review_client_id)
    tokens, logins = {}, {}
    for name, enterprise, role in (
        ("acme", "acme", "reviewer"),
        ("globex", "globex", "reviewer"),
        ("acme_viewer", "acme", "viewer"),
    ):
        email = f"{name}-{uuid.uuid4().hex[:6]}@{enterprise}.test"
        logins[name] = (email, add_user(cognito, pool, enterprise, email, role))
        tokens[name] = sign_in(cognito, pool, *logins[name])
    assert settings.review_url
    return Reviewers(settings.review_url, pool=pool, logins=logins, **tokens)


@dataclass
class Answer:
    status: int
    body: Any


def call(
    url: str, token: str | None, method: str = "GET", body: Any = None, headers: dict[str, str] | None = None
) -> Answer:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=headers or {})  # noqa: S310
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the stack's loopback URL
            return Answer(response.status, json.loads(response.read()))
    except urllib.error.HTTPError as err:
        return Answer(err.code, json.loads(err.read() or b"null"))


def path(message_id: str) -> str:
    return quote(message_id, safe="")


def drain(aws: AwsClients, queue_url: str, wait: int = 2) -> list[dict[str, Any]]:
    """Every action on the queue now, decoded (and deleted)."""
    sqs = aws.client("sqs")
    schema = parse_schema(contracts.load(contracts.ACTION))
    found = []
    while messages := sqs.receive_message(
        QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait, VisibilityTimeout=30
    ).get("Messages"):
        for m in messages:
            framed = base64.b64decode(m["Body"])
            found.append(dict(schemaless_reader(io.BytesIO(framed[5:]), schema, schema)))  # type: ignore[call-overload]
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=m["ReceiptHandle"])
        wait = 0
    return found


@pytest.fixture
def queues(settings: Settings, aws: AwsClients) -> Iterator[dict[str, str]]:
    urls = settings.action_queue_urls
    for url in urls.values():
        drain(aws, url, wait=0)
    yield urls


def received_around_ours() -> str:
    """The query parameters of the seconds in which the module's messages were received: the
    shared stack's other mail of the day has more sender domains than a top list holds."""
    since, until = NOW - timedelta(seconds=51), NOW - timedelta(seconds=29)
    return f"since={path(since.isoformat())}&until={path(until.isoformat())}"


def only_theirs(search: OpenSearch, enterprise: str, message_ids: list[str]) -> bool:
    """Every one of ``message_ids`` is a document of ``enterprise``'s (by its id in the index)."""
    ids = sorted({documents.doc_id(enterprise, m) for m in message_ids})
    found = search.count(index=documents.READ_ALIAS, body={"query": {"ids": {"values": ids}}})["count"]
    return int(found) == len(ids)


def audit_rows(settings: Settings, enterprise: str, key: str) -> list[tuple[Any, ...]]:
    assert settings.database_url
    with psycopg.connect(settings.database_url) as conn:
        return conn.execute(
            "SELECT message_id, decision, previous_verdict, reviewer, acted_at IS NOT NULL "
            "FROM review_decisions WHERE enterprise_id = %s AND idempotency_key = %s",
            (enterprise, key),
        ).fetchall()


def test_a_reviewer_lists_and_reads_their_enterprises_mail_from_the_search_store(
    reviewers: Reviewers,
) -> None:
    # (the day's other acme mail of the shared stack is listed too: ours are told by their domain)
    listed = call(f"{reviewers.url}/messages?verdict=QUARANTINE&size=500", reviewers.acme)
    assert listed.status == 200, listed.body
    ours = [m["message_id"] for m in listed.body["messages"] if m["from_domain"] == "acme-invoices.example"]
    assert ours == [ACME_ONLY, SHARED]  # newest first
    page = call(f"{reviewers.url}/messages?verdict=QUARANTINE&size=1", reviewers.acme)
    rest = call(
        f"{reviewers.url}/messages?verdict=QUARANTINE&size=1&cursor={page.body['next']}", reviewers.acme
    )
    paged = [m["message_id"] for m in page.body["messages"] + rest.body["messages"]]
    assert paged == [m["message_id"] for m in listed.body["messages"][:2]]
    one = call(f"{reviewers.url}/messages/{path(ACME_ONLY)}", reviewers.acme)
    assert one.status == 200
    assert (one.body["score"], one.body["model_version"]) == (0.08, "20261201T000000-a")
    assert one.body["reasons"] == ["lookalike_domain", "reply_to_mismatch"]
    # (the stats count the day's other acme mail of the shared stack too: ours are in them)
    hourly = call(f"{reviewers.url}/stats/hourly", reviewers.acme)
    assert sum(h["verdicts"].get("QUARANTINE", 0) for h in hourly.body["hours"]) >= 2
    histogram = call(f"{reviewers.url}/stats/scores", reviewers.acme)
    assert histogram.body["bins"][1] >= 3 and sum(histogram.body["bins"]) >= 3
    domains = call(
        f"{reviewers.url}/stats/sender-domains?size={queries.MAX_DOMAINS}&{received_around_ours()}",
        reviewers.acme,
    )
    assert {"domain": "acme-invoices.example", "messages": 3} in domains.body["domains"]
    assert "globex-invoices.example" not in {d["domain"] for d in domains.body["domains"]}
    assert call(f"{reviewers.url}/openapi.json", None).body["info"]["title"] == "trustpipe review API"


def test_globex_sees_none_of_acmes_messages_by_any_url_or_parameter(
    reviewers: Reviewers, search: OpenSearch
) -> None:
    base, token = reviewers.url, reviewers.globex
    listed = call(f"{base}/messages?size=500", token).body["messages"]
    assert all(m["from_domain"] != "acme-invoices.example" for m in listed)
    assert only_theirs(search, "globex", [m["message_id"] for m in listed])
    ours = [
        (m["message_id"], m["from_domain"]) for m in listed if m["from_domain"] == "globex-invoices.example"
    ]
    assert ours == [(SHARED, "globex-invoices.example")]
    for query in (f"q={path(ACME_ONLY)}", "sender=acme-invoices.example", "reason=lookalike_domain"):
        answer = call(f"{base}/messages?{query}", token)
        found = answer.body["messages"]
        assert all(m["from_domain"] != "acme-invoices.example" for m in found), query
        assert only_theirs(search, "globex", [m["message_id"] for m in found]), query
    assert call(f"{base}/messages?enterprise_id=acme", token).status == 400
    for message_id in (ACME_ONLY, f"acme/{ACME_ONLY}", "acme/" + SHARED):
        answer = call(f"{base}/messages/{path(message_id)}", token)
        assert (answer.status, answer.body) == (404, {"error": "no such message at your enterprise"})
    shared = call(f"{base}/messages/{path(SHARED)}", token).body
    assert shared["from_domain"] == "globex-invoices.example"
    refused = call(
        f"{base}/messages/{path(ACME_ONLY)}/decisions",
        token,
        "POST",
        {"decision": "mark_safe"},
        {"Idempotency-Key": "g-1"},
    )
    assert refused.status == 404
    domains = call(
        f"{base}/stats/sender-domains?size={queries.MAX_DOMAINS}&{received_around_ours()}", token
    ).body["domains"]
    assert {"domain": "globex-invoices.example", "messages": 1} in domains
    assert "acme-invoices.example" not in {d["domain"] for d in domains}


def test_a_release_reaches_acmes_queue_once_with_its_audit_row_and_search_document(
    reviewers: Reviewers, settings: Settings, aws: AwsClients, search: OpenSearch, queues: dict[str, str]
) -> None:
    key = f"release-{uuid.uuid4()}"
    target = f"{reviewers.url}/messages/{path(SHARED)}/decisions"
    first = call(target, reviewers.acme, "POST", {"decision": "release"}, {"Idempotency-Key": key})
    assert first.status == 200, first.body
    assert (first.body["previous_verdict"], first.body["release_sent"]) == ("QUARANTINE", True)
    replay = call(target, reviewers.acme, "POST", {"decision": "release"}, {"Idempotency-Key": key})
    assert replay == first
    (action,) = drain(aws, queues["acme"])
    assert (action["action"], action["enterprise_id"], action["message_id"]) == ("RELEASE", "acme", SHARED)
    assert drain(aws, queues["globex"], wait=0) == []
    (audit,) = audit_rows(settings, "acme", key)
    assert audit[:3] == (SHARED, "release", "QUARANTINE") and audit[4] is True
    assert audit[3].startswith("acme-")
    engine.refresh(search)
    acme = call(f"{reviewers.url}/messages/{path(SHARED)}", reviewers.acme).body
    assert (acme["decision"], acme["verdict"]) == ("release", "QUARANTINE")
    assert call(f"{reviewers.url}/messages/{path(SHARED)}", reviewers.globex).body["decision"] is None
    released = call(f"{reviewers.url}/messages?decision=release", reviewers.acme).body["messages"]
    assert [m["message_id"] for m in released] == [SHARED]
    # and the decision is one review label in the lake, acme's, which the next build reads
    decided = datetime.fromisoformat(first.body["decided_at"])
    labels = review_labels.gather(
        aws.s3, settings.archive_bucket, decided - timedelta(seconds=1), decided + timedelta(seconds=1)
    ).labels
    mine = [label for label in labels if label["message_id"] == SHARED]
    assert [(label["enterprise_id"], label["decision"]) for label in mine] == [("acme", "release")]


def test_a_viewer_may_not_decide_and_a_key_reused_elsewhere_is_a_conflict(
    reviewers: Reviewers, settings: Settings, aws: AwsClients, queues: dict[str, str]
) -> None:
    key = f"k-{uuid.uuid4()}"
    viewer = call(
        f"{reviewers.url}/messages/{path(ACME_ONLY)}/decisions",
        reviewers.acme_viewer,
        "POST",
        {"decision": "release"},
        {"Idempotency-Key": key},
    )
    assert viewer.status == 403
    safe = call(
        f"{reviewers.url}/messages/{path(ACME_ONLY)}/decisions",
        reviewers.acme,
        "POST",
        {"decision": "confirm_malicious"},
        {"Idempotency-Key": key},
    )
    assert safe.status == 200 and safe.body["release_sent"] is False
    reused = call(
        f"{reviewers.url}/messages/{path(SHARED)}/decisions",
        reviewers.acme,
        "POST",
        {"decision": "release"},
        {"Idempotency-Key": key},
    )
    assert reused.status == 409
    assert drain(aws, queues["acme"], wait=1) == []
    assert len(audit_rows(settings, "acme", key)) == 1


def test_tokens_that_are_not_the_pools_get_401_with_one_reason(reviewers: Reviewers, aws: AwsClients) -> None:
    cognito = aws.client("cognito-idp")
    other = ensure_pool(cognito, name=f"elsewhere-{uuid.uuid4().hex[:6]}")
    email = f"mallory-{uuid.uuid4().hex[:6]}@acme.test"
    other_pool_token = sign_in(cognito, other, email, add_user(cognito, other, "acme", email))
    header, payload, signature = reviewers.acme.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["custom:enterprise"] = "globex"
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    cases = {
        None: "no token",
        "not-a-jwt": "not valid",
        f"{header}.{forged_payload}.{signature}": "not valid",
        other_pool_token: "not of this deployment's user pool",
    }
    for token, reason in cases.items():
        answer = call(f"{reviewers.url}/messages", token)
        assert answer.status == 401, token
        assert reason in answer.body["error"]


def test_the_demos_login_signs_in_by_the_cli_and_its_token_is_taken(
    reviewers: Reviewers, aws: AwsClients, local_stack: LocalStack
) -> None:
    cognito = aws.client("cognito-idp")
    email = f"demo-{uuid.uuid4().hex[:6]}@acme.test"
    login_of(cognito, reviewers.pool, "acme", email)
    password = login_of(cognito, reviewers.pool, "acme", email)  # again: the same user, a new password
    settings = str(local_stack.settings_path)
    signed = run_cli("review", "token", "--email", email, "--password", password, "--settings", settings)
    assert signed.returncode == 0, signed.stderr
    assert call(f"{reviewers.url}/messages", signed.stdout.strip()).status == 200
    wrong = run_cli("review", "token", "--email", email, "--password", "Wrong-1aa", "--settings", settings)
    assert wrong.returncode == 2 and "refused that email and password" in wrong.stderr


def sign_in_page(browser: Any, url: str, email: str, password: str) -> Any:
    page = browser.new_page(viewport={"width": 1400, "height": 900})
    page.goto(f"{url}/", wait_until="networkidle")
    page.fill("#email", email)
    page.fill("#password", password)
    page.click("#signin-form button[type=submit]")
    page.wait_for_selector("#status:has-text('messages in the last day')", timeout=30_000)
    return page


def test_on_the_review_page_acme_releases_a_message_and_globex_sees_none_of_acmes(
    reviewers: Reviewers, aws: AwsClients, queues: dict[str, str], search: OpenSearch
) -> None:
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), args=["--no-sandbox"])
        try:
            # GIVEN acme's reviewer signed in: the quarantined mail of the last day
            page = sign_in_page(browser, reviewers.url, *reviewers.logins["acme"])
            page.screenshot(path=SCREENSHOTS / "review-acme-quarantined.png", full_page=True)
            rows = page.locator("#messages tr")
            assert {ACME_ONLY, SHARED} <= set(rows.evaluate_all("rs => rs.map(r => r.dataset.id)"))
            # WHEN they open a message (its reasons, its model) and release it
            page.locator(f"#messages tr[data-id='{ACME_ONLY}']").click()
            page.wait_for_selector("#detail-fields:has-text('lookalike_domain')")
            assert "20261201T000000-a" in page.inner_text("#detail-fields")
            page.click("button[data-decision=release]")
            page.wait_for_selector("#decided:has-text('release sent')", timeout=30_000)
            page.screenshot(path=SCREENSHOTS / "review-acme-released.png", full_page=True)
            assert page.inner_text(f"#messages tr[data-id='{ACME_ONLY}'] td:last-child") == "release"
            assert "release by acme-" in page.inner_text("#detail-fields")
            # THEN the release is on acme's queue, once
            released = [a for a in drain(aws, queues["acme"]) if a["action"] == "RELEASE"]
            assert [a["message_id"] for a in released] == [ACME_ONLY]
            # and globex's reviewer sees its own copy of the shared message, none of acme's, by any search
            other = sign_in_page(browser, reviewers.url, *reviewers.logins["globex"])
            ids = other.locator("#messages tr").evaluate_all("rs => rs.map(r => r.dataset.id)")
            assert SHARED in ids and ACME_ONLY not in ids
            assert only_theirs(search, "globex", ids)
            other.fill("#q", ACME_ONLY)
            other.select_option("#verdict", "")
            other.click("#search button[type=submit]")
            other.wait_for_selector("#status:text-is('0 messages in the last day')", timeout=30_000)
            other.screenshot(path=SCREENSHOTS / "review-globex-search.png", full_page=True)
            assert drain(aws, queues["globex"], wait=0) == []
        finally:
            browser.close()
