"""The review API's wiring: settings -> clients -> the service -> the resolver, for the Lambda
(claims from API Gateway's JWT authorizer) and `trustpipe review serve` (tokens checked here)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedEncoder
from trustpipe.db import roles
from trustpipe.db.connect import connector
from trustpipe.settings import Settings, SettingsError
from trustpipe_alerter.channels import ActionQueues
from trustpipe_review.api import PageConfig, create_app
from trustpipe_review.audit import AuditLog
from trustpipe_review.auth import TokenVerifier
from trustpipe_review.labels import WriteLabel, lake_labels
from trustpipe_review.service import ReviewService
from trustpipe_review.users import Pool
from trustpipe_search import engine


def build_service(aws: AwsClients, write_label: WriteLabel | None = None) -> ReviewService:
    """The service on the settings' search store, database (as the review role), action queues
    and lake; SettingsError naming what the settings lack."""
    settings = aws.settings
    if not settings.enterprises:
        raise SettingsError("the settings serve no enterprises: the review API has no one to serve")
    if missing := sorted(settings.enterprises - set(settings.action_queue_urls)):
        raise SettingsError(f"the settings have no action queue for enterprises {', '.join(missing)}")
    schema = contracts.load(contracts.ACTION)
    queues = ActionQueues(
        aws.client("sqs"),
        settings.action_queue_urls,
        FramedEncoder(aws.registry().register(contracts.ACTION_SUBJECT, schema), schema),
    )
    return ReviewService(
        search=engine.connect(settings),
        audit=AuditLog(connector(settings, roles.REVIEW)),
        send_actions=queues.send,
        write_label=write_label or lake_labels(aws.s3, settings.archive_bucket),
    )


def verifier(settings: Settings) -> TokenVerifier:
    """The local stand-in for API Gateway's JWT authorizer: tokens of the settings' user pool
    and app client, checked against the pool's JWKS (at the moto server locally)."""
    pool = Pool.of(settings)
    return TokenVerifier(settings.region, pool.pool_id, pool.client_id, settings.aws_endpoint)


def page_config(settings: Settings) -> PageConfig | None:
    """Where the review page signs in: the settings' app client at Cognito (the moto server
    locally); None when the settings name no pool."""
    if not settings.review_client_id:
        return None
    cognito = settings.aws_endpoint or f"https://cognito-idp.{settings.region}.amazonaws.com"
    return PageConfig(settings.review_client_id, cognito.rstrip("/") + "/")


def review_app(aws: AwsClients) -> APIGatewayHttpResolver:
    """The app, reading the claims an authorizer verified: API Gateway's on AWS, the local
    server's (with ``verifier``) on the local stack; and the review page."""
    return create_app(build_service(aws), aws.settings.enterprises, page_config(aws.settings))
