"""The search store's errors: the deployment's (no endpoint), the cluster's (still throttling)."""

from __future__ import annotations

from trustpipe.errors import RunError, TransientError, UserError


class SearchNotConfiguredError(UserError):
    """The settings name no search store (neither ``search_url`` nor ``search_domain``)."""


class SearchDomainUnavailableError(RunError):
    """The settings' domain has no endpoint to send requests to: no such domain in the region, or
    one still being created (or deleted)."""


class SearchThrottledError(TransientError):
    """Documents the cluster still refused with 429 or a 5xx after the indexer's retries: the
    batch (or the SQS message) is retried later, whole; versions make the repeat harmless."""
