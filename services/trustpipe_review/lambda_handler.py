"""The review API as a Lambda function behind an API Gateway HTTP API whose JWT authorizer
checks the user pool's tokens: the handler is ``trustpipe_review.lambda_handler.handler``."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_review.api import resolve
from trustpipe_review.app import review_app

SETTINGS_ENV = "TRUSTPIPE_SETTINGS"
"""Where the function's settings are: a path in the package or ``s3://bucket/key``."""
_built: list[APIGatewayHttpResolver] = []


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Built on the first invocation (no clients or env reads at import), reused while warm."""
    if not _built:
        settings = Settings.load_uri(os.environ[SETTINGS_ENV])
        _built.append(review_app(AwsClients(settings.with_database_url(os.environ.get("DATABASE_URL")))))
    return resolve(_built[0], event, context)
