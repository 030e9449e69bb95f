"""The review API's routes on Powertools' HTTP API resolver (API Gateway HTTP API events,
payload 2.0), validated from their type annotations, from which the OpenAPI document is made
(``/openapi.json``; ``docs/review-openapi.json`` is written from it by
`trustpipe review openapi`).

Every route reads the caller's claims where API Gateway's JWT authorizer puts them once it has
verified the token (``requestContext.authorizer.jwt.claims``; locally ``local_server`` plays the
authorizer) and serves that reviewer's enterprise only: an enterprise named in a query string or
body is refused.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from http import HTTPStatus
from importlib import resources
from typing import Annotated, Any
from urllib.parse import unquote, urlsplit

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import ServiceError
from aws_lambda_powertools.event_handler.openapi.exceptions import (
    RequestUnsupportedContentType,
    RequestValidationError,
)
from aws_lambda_powertools.event_handler.openapi.models import HTTPBearer
from aws_lambda_powertools.event_handler.openapi.params import Header, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from trustpipe.transient import is_transient
from trustpipe_review.auth import Reviewer, gateway_claims, reviewer_of
from trustpipe_review.errors import BadRequestError, NotFoundError, ReviewError, TooLargeError
from trustpipe_review.service import MAX_CURSOR_CHARS, MAX_IDEMPOTENCY_KEY, ReviewService
from trustpipe_search import queries
from trustpipe_search.queries import Filters

log = logging.getLogger("trustpipe.review")

TITLE = "trustpipe review API"
VERSION = "1.0.0"
MAX_BODY_BYTES = 4096
"""A decision's body is a few dozen bytes."""
MAX_QUERY_BYTES = 4096
"""Filters and a cursor fit well inside it; API Gateway's own limit is far larger."""
MAX_PATH_BYTES = 8192
"""A message id percent-encoded (at most ``queries.MAX_MESSAGE_ID_CHARS`` characters)."""
DEFAULT_DAYS = 1
"""Aggregates without a range cover the last day."""
FORBIDDEN_PARAMETERS = frozenset({"enterprise", "enterprise_id", "enterpriseid", "tenant", "tenant_id"})
"""Query parameters that would name an enterprise: refused, the token's is the only one."""


class Verdict(StrEnum):
    QUARANTINE = "QUARANTINE"
    LABEL = "LABEL"
    PASS_THROUGH = "PASS_THROUGH"  # noqa: S105 - a verdict, not a password


class DecisionKind(StrEnum):
    release = "release"
    confirm_malicious = "confirm_malicious"
    mark_safe = "mark_safe"


class Message(BaseModel):
    message_id: str
    received_at: str | None
    scored_at: str | None
    from_address: str | None
    from_display_name: str | None
    from_domain: str | None
    reply_to: str | None
    sending_ip: str | None
    score: float | None
    verdict: str | None
    reasons: list[str] | None
    model_version: str | None
    model_promotion: int | None
    source: str | None
    decision: str | None
    decided_at: str | None
    decided_by: str | None


class MessagesPage(BaseModel):
    messages: list[Message]
    next: str | None = Field(description="Pass as `cursor` for the next page; null: no more.")


class HourCounts(BaseModel):
    hour: str
    verdicts: dict[str, int]


class Hourly(BaseModel):
    hours: list[HourCounts]


class Histogram(BaseModel):
    bin_width: float
    bins: list[int]


class DomainCount(BaseModel):
    domain: str
    messages: int


class Domains(BaseModel):
    domains: list[DomainCount]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    decision: DecisionKind


class DecisionOut(BaseModel):
    decision_id: int
    message_id: str
    decision: str
    previous_verdict: str
    decided_by: str
    decided_at: str
    release_sent: bool


def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> Response:  # type: ignore[type-arg]
    return Response(
        status_code=status,
        content_type=content_types.APPLICATION_JSON,
        body=json.dumps(body),
        headers=headers,
    )


def refusal(err: ReviewError) -> Response:  # type: ignore[type-arg]
    return _json(int(err.status), {"error": err.reason})


def _range(since: datetime | None, until: datetime | None, now: datetime) -> tuple[datetime, datetime]:
    end = _utc(until) if until is not None else now
    start = _utc(since) if since is not None else end - timedelta(days=DEFAULT_DAYS)
    return start, end


def _utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True)
class PageConfig:
    """What the review page signs in with: the user pool's app client, at Cognito's endpoint
    (``https://cognito-idp.<region>.amazonaws.com/``; locally the moto server's)."""

    client_id: str
    cognito_url: str

    @property
    def policy(self) -> str:
        """The page's Content-Security-Policy: its own script, and requests to itself and Cognito."""
        parts = urlsplit(self.cognito_url)
        return (
            "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; "
            f"connect-src 'self' {parts.scheme}://{parts.netloc}; base-uri 'none'; form-action 'none'; "
            "frame-ancestors 'none'"
        )


PAGE_FILES = {"/": ("index.html", "text/html; charset=utf-8"), "/page.js": ("page.js", "text/javascript")}
"""The review page's files (``page/``), served by the app itself, without a token."""


def create_app(
    service: ReviewService, served: frozenset[str], page: PageConfig | None = None
) -> APIGatewayHttpResolver:
    """The routes on a resolver, for reviewers of the ``served`` enterprises; the review page
    too when ``page`` says where it signs in."""
    app = APIGatewayHttpResolver(enable_validation=True)

    def who() -> Reviewer:
        event = app.current_event
        named = FORBIDDEN_PARAMETERS & {k.lower() for k in (event.query_string_parameters or {})}
        if named:
            raise BadRequestError(
                f"{sorted(named)[0]!r} is refused: your enterprise is the one your token names"
            )
        return reviewer_of(gateway_claims(event.raw_event), served)

    @app.exception_handler(ReviewError)  # type: ignore[untyped-decorator]
    def refused(err: ReviewError) -> Response:  # type: ignore[type-arg]
        return refusal(err)

    @app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
    def unsupported(_err: RequestUnsupportedContentType) -> Response:  # type: ignore[type-arg]
        return _json(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, {"error": "send the body as application/json"})

    @app.exception_handler(ServiceError)  # type: ignore[untyped-decorator]
    def service_error(err: ServiceError) -> Response:  # type: ignore[type-arg]
        return _json(err.status_code, {"error": str(err.msg)})

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def failed(err: Exception) -> Response:  # type: ignore[type-arg]
        """The API's own failure: 503 for the world's passing trouble (the search store, the
        database or a queue unreachable or throttling: the same request may succeed later, and a
        decision's replay finishes its acts), 500 otherwise; the detail goes to the log only."""
        if is_transient(err):
            log.warning("review request failed transiently: %s: %s", type(err).__name__, err)
            return _json(HTTPStatus.SERVICE_UNAVAILABLE, {"error": "a store is unavailable now: retry later"})
        log.exception("review request failed")
        return _json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": "internal error"})

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def invalid(err: RequestValidationError) -> Response:  # type: ignore[type-arg]
        first = err.errors()[0] if err.errors() else {}
        where = " ".join(str(part) for part in first.get("loc", ()))
        return _json(HTTPStatus.BAD_REQUEST, {"error": f"{where}: {first.get('msg', 'invalid')}"})

    @app.not_found
    def not_found(_err: Exception) -> Response:  # type: ignore[type-arg]
        return _json(HTTPStatus.NOT_FOUND, {"error": "no such route"})

    @app.get("/messages", summary="The enterprise's messages, newest first, a page at a time")
    def list_messages(
        verdict: Annotated[Verdict | None, Query()] = None,
        since: Annotated[datetime | None, Query(description="received at or after (ISO 8601)")] = None,
        until: Annotated[datetime | None, Query(description="received before (ISO 8601)")] = None,
        sender: Annotated[str | None, Query(max_length=queries.MAX_SENDER_CHARS)] = None,
        reason: Annotated[str | None, Query(max_length=queries.MAX_REASON_CHARS)] = None,
        q: Annotated[str | None, Query(max_length=queries.MAX_TEXT_CHARS, description="free text")] = None,
        decision: Annotated[DecisionKind | None, Query()] = None,
        size: Annotated[int, Query(ge=1, le=queries.MAX_PAGE)] = 50,
        cursor: Annotated[str | None, Query(max_length=MAX_CURSOR_CHARS)] = None,
    ) -> MessagesPage:
        reviewer = who()
        filters = Filters(
            verdict=verdict.value if verdict else None,
            since=_utc(since) if since else None,
            until=_utc(until) if until else None,
            sender=sender,
            reason=reason,
            text=q,
            decision=decision.value if decision else None,
        )
        return MessagesPage.model_validate(service.messages(reviewer, filters, size, cursor))

    @app.get("/messages/<message_id>", summary="One message: its score, reasons and model version")
    def one_message(message_id: Annotated[str, Path(max_length=MAX_PATH_BYTES)]) -> Message:
        reviewer = who()
        return Message.model_validate(service.message(reviewer, unquote(message_id)))

    @app.post("/messages/<message_id>/decisions", summary="A reviewer's decision on a message")
    def decide(
        message_id: Annotated[str, Path(max_length=MAX_PATH_BYTES)],
        body: DecisionIn,
        idempotency_key: Annotated[
            str, Header(alias="Idempotency-Key", min_length=1, max_length=MAX_IDEMPOTENCY_KEY)
        ],
    ) -> DecisionOut:
        reviewer = who()
        answer, _replayed = service.decide(
            reviewer, unquote(message_id), body.decision.value, idempotency_key
        )
        return DecisionOut.model_validate(answer)

    @app.get("/stats/hourly", summary="The enterprise's messages per hour, by verdict")
    def hourly(
        since: Annotated[datetime | None, Query()] = None, until: Annotated[datetime | None, Query()] = None
    ) -> Hourly:
        reviewer = who()
        return Hourly.model_validate(service.hourly(reviewer, *_range(since, until, service.clock())))

    @app.get("/stats/scores", summary="The enterprise's score histogram (20 bins over [0, 1])")
    def scores(
        since: Annotated[datetime | None, Query()] = None, until: Annotated[datetime | None, Query()] = None
    ) -> Histogram:
        reviewer = who()
        return Histogram.model_validate(service.histogram(reviewer, *_range(since, until, service.clock())))

    @app.get("/stats/sender-domains", summary="The enterprise's most frequent sender domains")
    def sender_domains(
        since: Annotated[datetime | None, Query()] = None,
        until: Annotated[datetime | None, Query()] = None,
        size: Annotated[int, Query(ge=1, le=queries.MAX_DOMAINS)] = 10,
    ) -> Domains:
        reviewer = who()
        start, end = _range(since, until, service.clock())
        return Domains.model_validate(service.sender_domains(reviewer, start, end, size))

    def page_file(path: str) -> Response[str]:
        if page is None:
            raise NotFoundError("this deployment serves no review page")
        name, content_type = PAGE_FILES[path]
        text = resources.files("trustpipe_review").joinpath("page", name).read_text()
        headers = {"Content-Security-Policy": page.policy, "X-Content-Type-Options": "nosniff"}
        return Response(status_code=200, content_type=content_type, body=text, headers=headers)

    @app.get("/", include_in_schema=False)
    def index() -> Response[str]:
        return page_file("/")

    @app.get("/page.js", include_in_schema=False)
    def script() -> Response[str]:
        return page_file("/page.js")

    @app.get("/config.json", include_in_schema=False)
    def page_config() -> dict[str, str]:
        if page is None:
            raise NotFoundError("this deployment serves no review page")
        return {"client_id": page.client_id, "cognito_url": page.cognito_url}

    @app.get("/openapi.json", include_in_schema=False)
    def openapi() -> dict[str, Any]:
        document: dict[str, Any] = json.loads(openapi_json(app))
        return document

    return app


REFUSALS = {
    "400": "a malformed parameter, header or body, or an enterprise named in one",
    "503": "a store unavailable now (retry: a decision's replay finishes its acts)",
    "401": "no token, or one refused (forged, expired, of another pool or client)",
    "403": "a role that may not do this, or no enterprise this deployment serves",
    "413": "a body, query string or path over the API's limits",
}
"""The refusals every route may answer, each ``{"error": <one reason>}``."""
ROUTE_REFUSALS = {
    "/messages/{message_id}": {"404": "no such message at the caller's enterprise"},
    "/messages/{message_id}/decisions": {
        "404": "no such message at the caller's enterprise",
        "415": "a body not sent as application/json",
        "409": "the Idempotency-Key was used for another message or decision",
    },
}


def openapi_json(app: APIGatewayHttpResolver) -> str:
    """The API's OpenAPI document, as committed in docs/review-openapi.json: Powertools' from the
    routes, with the refusals this API answers (``{"error": ...}``, 400 for what does not
    validate) in place of its generic 422."""
    document = json.loads(
        app.get_openapi_json_schema(
            title=TITLE,
            version=VERSION,
            security_schemes={"cognito": HTTPBearer(bearerFormat="JWT", description="a Cognito id token")},
            security=[{"cognito": []}],
        )
    )
    refusal = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/Refusal"}}}}
    for path, operations in document["paths"].items():
        for operation in operations.values():
            operation["responses"].pop("422", None)
            for status, why in {**REFUSALS, **ROUTE_REFUSALS.get(path, {})}.items():
                operation["responses"][status] = {"description": why, **refusal}
    schemas = document["components"]["schemas"]
    for generic in ("HTTPValidationError", "ResponseValidationError", "ValidationError"):
        schemas.pop(generic, None)  # Powertools' generic 422 bodies: this API answers Refusal
    schemas["Refusal"] = {
        "type": "object",
        "properties": {"error": {"type": "string", "description": "the one reason"}},
        "required": ["error"],
    }
    return json.dumps(document, indent=4) + "\n"


def oversized(event: dict[str, Any]) -> str | None:
    """What of a request is over the API's size limits, before anything parses it (None: all
    within them)."""
    body = event.get("body") or ""
    if len(body.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        return f"the body is over {MAX_BODY_BYTES} bytes"
    if len((event.get("rawQueryString") or "").encode("utf-8", "surrogatepass")) > MAX_QUERY_BYTES:
        return f"the query string is over {MAX_QUERY_BYTES} bytes"
    if len((event.get("rawPath") or "").encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        return f"the path is over {MAX_PATH_BYTES} bytes"
    return None


def resolve(app: APIGatewayHttpResolver, event: dict[str, Any], context: Any) -> dict[str, Any]:
    """``app``'s answer to an HTTP API event, a request over the limits refused unparsed (413)."""
    too_large = oversized(event)
    if too_large is not None:
        return {
            "statusCode": int(TooLargeError.status),
            "headers": {"Content-Type": content_types.APPLICATION_JSON},
            "body": json.dumps({"error": too_large}),
            "isBase64Encoded": False,
        }
    return app.resolve(event, context)
