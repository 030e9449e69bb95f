"""The review API's routes with nothing behind them, for its OpenAPI document alone (the
document depends on the routes' code, not on any deployment)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from trustpipe_review.api import create_app
from trustpipe_review.labels import unwritten
from trustpipe_review.service import ReviewService


def document_app() -> APIGatewayHttpResolver:
    """The app's routes on a service that is never called."""
    nothing: Any = None
    service = ReviewService(
        search=nothing, audit=nothing, send_actions=lambda _a: None, write_label=unwritten
    )
    return create_app(service, frozenset())
