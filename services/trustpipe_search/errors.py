"""The search store's errors: the deployment's (no endpoint), the cluster's (still throttling)."""

from __future__ import annotations

from trustpipe.errors import RunError, TransientError, UserError


class SearchNotConfiguredError(UserError):
    """The settings name no search store (neither ``search_url`` nor ``search_url_parameter``)."""


class SearchUrlUnavailableError(RunError):
    """The settings' SSM parameter gives no URL to send requests to: no such parameter in the
    region, or one holding no ``https://`` URL."""


class SearchThrottledError(TransientError):
    """Documents the cluster still refused with 429 or a 5xx after the indexer's retries: the
    batch (or the SQS message) is retried later, whole; versions make the repeat harmless."""
