"""Where a decision becomes a review label for the nightly model build: the core's
``trustpipe.review_labels.write_label`` into the archive bucket, where the build reads them (the
label's form in the lake is that module's)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from trustpipe import review_labels

WriteLabel = Callable[[str, str, str, datetime, str], None]
"""(enterprise id, message id, decision, decided at, reviewer) -> None; idempotent for the same
decision at the same time (a replay writes the same object)."""


def lake_labels(s3: Any, bucket: str) -> WriteLabel:
    """Labels written into ``bucket`` (the settings' archive bucket)."""

    def write(
        enterprise_id: str, message_id: str, decision: str, decided_at: datetime, reviewer: str
    ) -> None:
        review_labels.write_label(s3, bucket, enterprise_id, message_id, decision, decided_at, reviewer)

    return write


def unwritten(_enterprise_id: str, _message_id: str, _decision: str, _at: datetime, _reviewer: str) -> None:
    """No label: the OpenAPI document's service, which decides nothing."""
