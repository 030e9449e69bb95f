"""The review API's wiring: settings -> clients -> the service -> the resolver, for the Lambda
(claims from API Gateway's JWT authorizer) and `trustpipe review serve` (tokens checked here)."""

from __future__ import annotations

from aws_lambda_powertools.event_handler import APIGatewayHttpResolver

from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedEncoder
from trustpipe.db import roles
from trustpipe.settings import Settings, SettingsError
from trustpipe_alerter.channels import ActionQueues
from trustpipe_importer.app import connector
from trustpipe_review.api import Identify, create_app
from trustpipe_review.audit import AuditLog
from trustpipe_review.auth import TokenVerifier, gateway_claims
from trustpipe_review.labels import WriteLabel, lake_labels
from trustpipe_review.local_server import token_identify
from trustpipe_review.service import ReviewService
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
        write_label=write_label or lake_labels(aws.s3, settings.landing_bucket),
    )


def local_identify(settings: Settings) -> Identify:
    """Bearer tokens checked against the settings' user pool, as API Gateway's authorizer does."""
    if not settings.review_user_pool_id or not settings.review_client_id:
        raise SettingsError("the settings name no review user pool and client: run `trustpipe local up`")
    verifier = TokenVerifier(
        settings.region, settings.review_user_pool_id, settings.review_client_id, settings.aws_endpoint
    )
    return token_identify(verifier)


def local_app(aws: AwsClients) -> APIGatewayHttpResolver:
    """The app `trustpipe review serve` runs: it checks each token itself."""
    settings = aws.settings
    return create_app(build_service(aws), local_identify(settings), settings.enterprises)


def lambda_app(aws: AwsClients) -> APIGatewayHttpResolver:
    """The app the Lambda runs: API Gateway's JWT authorizer verified the token before it."""
    return create_app(build_service(aws), gateway_claims, aws.settings.enterprises)
