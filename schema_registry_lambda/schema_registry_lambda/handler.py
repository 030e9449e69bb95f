"""The Lambda entry point: the registry's resolver behind API Gateway (a private REST API's proxy
integration), with JSON logs and EMF."""

from __future__ import annotations

import os
from typing import Any

from aws_lambda_powertools import Logger, Metrics, single_metric
from aws_lambda_powertools.event_handler import APIGatewayRestResolver
from aws_lambda_powertools.metrics import MetricUnit

from schema_registry_lambda.api import create_app
from schema_registry_lambda.registry import Registry
from trustpipe.metrics import LATENCY, REGISTRY, REGISTRY_SERVICE, REQUESTS

TABLE_ENV = "REGISTRY_TABLE"
_app: tuple[APIGatewayRestResolver, Logger, Metrics] | None = None


def _build() -> tuple[APIGatewayRestResolver, Logger, Metrics]:
    """Built on the first invocation (no clients or env reads at import), reused while warm."""
    import boto3

    from schema_registry_lambda.dynamodb import DynamoStore

    logger = Logger(service=REGISTRY_SERVICE)
    # No Powertools `service` (nor POWERTOOLS_SERVICE_NAME): it would add a lowercase dimension
    # to every metric; the catalog's scheme is `Service`.
    metrics = Metrics(namespace=REGISTRY)
    metrics.set_default_dimensions(Service=REGISTRY_SERVICE)

    def observe(route: str, status: int, seconds: float) -> None:
        with single_metric(
            name=REQUESTS.name,
            unit=MetricUnit.Count,
            value=1,
            namespace=REGISTRY,
            default_dimensions={"Service": REGISTRY_SERVICE},
        ) as request:
            request.add_dimension(name="Status", value=f"{status // 100}xx")
        metrics.add_metric(name=LATENCY.name, unit=MetricUnit.Milliseconds, value=seconds * 1000)
        if status >= 500:
            logger.error("registry fault", route=route, status=status)

    store = DynamoStore(boto3.client("dynamodb"), os.environ[TABLE_ENV])
    return create_app(Registry(store), observe), logger, metrics


def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    global _app
    if _app is None:
        _app = _build()
    app, logger, metrics = _app
    logger.set_correlation_id(event.get("requestContext", {}).get("requestId"))
    try:
        return app.resolve(event, context)
    finally:
        metrics.flush_metrics()
