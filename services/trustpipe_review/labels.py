"""Where a decision becomes a review label for the nightly model build: a seam over the core's
``trustpipe.review_labels.write_label`` (the lake's label format is that module's, not this
package's). Until a build carries that module, decisions write no label and say so in the log."""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

log = logging.getLogger("trustpipe.review")

WriteLabel = Callable[[str, str, str, datetime, str], None]
"""(enterprise id, message id, decision, decided at, reviewer) -> None; idempotent."""
LABELS_MODULE = "trustpipe.review_labels"


def lake_labels(s3: Any, bucket: str) -> WriteLabel:
    """Labels written by the core's ``write_label`` into ``bucket``; a warning-only seam when
    this build has no such module."""
    try:
        module = importlib.import_module(LABELS_MODULE)
    except ModuleNotFoundError:
        log.warning("%s is not in this build: review decisions write no labels", LABELS_MODULE)
        return unwritten

    def write(
        enterprise_id: str, message_id: str, decision: str, decided_at: datetime, reviewer: str
    ) -> None:
        module.write_label(s3, bucket, enterprise_id, message_id, decision, decided_at, reviewer)

    return write


def unwritten(_enterprise_id: str, _message_id: str, _decision: str, _at: datetime, _reviewer: str) -> None:
    """No label (a build without the labels module)."""
