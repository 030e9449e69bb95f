"""The review API as a Lambda function behind an API Gateway HTTP API whose JWT authorizer
checks the user pool's tokens: the handler is ``trustpipe_review.lambda_handler.handler``."""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_review.api import resolve
from trustpipe_review.app import review_app

SETTINGS_ENV = "TRUSTPIPE_SETTINGS"
"""Where the function's settings are: a path in the package or ``s3://bucket/key``."""
POOL_ENV, CLIENT_ENV = "TRUSTPIPE_REVIEW_USER_POOL_ID", "TRUSTPIPE_REVIEW_CLIENT_ID"
"""The user pool and app client the review page signs in with (infra/modules/review sets them:
the pipeline's settings object is written before the pool exists)."""
_built: list[APIGatewayHttpResolver] = []


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Built on the first invocation (no clients or env reads at import), reused while warm."""
    if not _built:
        settings = dataclasses.replace(
            Settings.load_uri(os.environ[SETTINGS_ENV]),
            review_user_pool_id=os.environ.get(POOL_ENV),
            review_client_id=os.environ.get(CLIENT_ENV),
        )
        _built.append(review_app(AwsClients(settings.with_database_url(os.environ.get("DATABASE_URL")))))
    return resolve(_built[0], event, context)
