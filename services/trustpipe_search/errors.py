"""The search store's errors: the deployment's (no endpoint), the cluster's (still throttling)."""

from __future__ import annotations

from trustpipe.errors import TransientError, UserError


class SearchNotConfiguredError(UserError):
    """The settings name no search store (``search_url``)."""


class SearchThrottledError(TransientError):
    """Documents the cluster still refused with 429 or a 5xx after the indexer's retries: the
    batch (or the SQS message) is retried later, whole; versions make the repeat harmless."""
