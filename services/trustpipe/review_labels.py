"""Reviewers' decisions as labels in the lake: the ground truth the nightly model build takes over
the simulator's for the messages people have judged.

- **Form**: one object per decision, an Avro container of one ReviewLabel
  (``schemas/review_label.avsc``) in the archive bucket at
  ``review_labels/enterprise=<e>/date=<day decided>/<sha256 of the message id>/<decided at, to the
  millisecond>Z-<decision>.avro`` (``layout.review_label_key``).
- **Tenants**: the enterprise is the caller's (the authenticated reviewer's), checked with
  ``tenants.check_enterprise_id``; a decision names (that enterprise, that message id) only, so a
  reviewer who gives another enterprise's message id labels nothing of the other enterprise's.
- **Hostile ids**: a message id reaches the key only as its SHA-256 (no slash, ``..``, NUL or
  length of it shapes a key); the id itself is in the record. An id no stored message can have
  (empty, past ``records.MAX_MESSAGE_ID``, a NUL, a lone surrogate: the record rules' own bounds)
  is refused with the rule's fixed reason, which quotes nothing of the id.
- **Idempotent**: the key is the decision itself (enterprise, message id, time, decision), and the
  bytes are reproducible (the sync marker comes from the key): the same decision written again is
  the same object. A retry must pass the decision's recorded time, not a new one.
- **Supersedes**: for each (enterprise, message id) the latest ``decided_at`` wins; two decisions
  of one millisecond resolve to confirm_malicious over the benign ones (the cautious reading).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from trustpipe import contracts, layout, records
from trustpipe.codec import ContainerLimits, ContainerReader, container_bytes
from trustpipe.errors import PermanentError, UserError
from trustpipe.records import Check, Rule
from trustpipe.s3 import get, list_objects, list_prefixes, put
from trustpipe.tenants import TenantError, check_enterprise_id

log = logging.getLogger("trustpipe.review_labels")

DECISIONS = {"release": False, "mark_safe": False, "confirm_malicious": True}
"""Each decision and the label it gives (is_malicious)."""
MAX_REVIEWER = records.MAX_ADDRESS
"""A reviewer is the authenticated user's name or address: an address's 320 characters at most."""
MESSAGE_ID_RULES = tuple(rule for rule in records.RULES if rule.field == "message_id")
REVIEWER_RULES = (
    Rule("reviewer_length", "reviewer", Check.LENGTH, f"reviewer must be 1 to {MAX_REVIEWER} characters",
         least=1, most=MAX_REVIEWER),
    Rule("reviewer_storable", "reviewer", Check.STORABLE, "reviewer must hold no NUL and no lone surrogate"),
)  # fmt: skip
LABEL_LIMITS = ContainerLimits(max_object_bytes=64 * 1024, max_header_bytes=16 * 1024, seconds=5.0)
"""One decision is a few hundred bytes; a label object is read within these caps."""


class ReviewLabelError(UserError, ValueError):
    """A decision that cannot be a label (the caller's input); the message says which rule."""


class UnreadableLabelError(PermanentError):
    """A stored label object the build cannot use; it is left out of training with this reason."""


@dataclass(frozen=True)
class Gathered:
    """The usable decisions found for a build, and the label objects left out with their reason."""

    labels: list[dict[str, Any]] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)


def write_label(
    s3: Any,
    bucket: str,
    enterprise_id: str,
    message_id: str,
    decision: str,
    decided_at: datetime,
    reviewer: str,
) -> str:
    """Write one decision as a review label; its key. ReviewLabelError (or TenantError) before
    anything is written when an argument cannot be one."""
    label = _label(enterprise_id, message_id, decision, decided_at, reviewer)
    key = label_key(enterprise_id, message_id, label["decided_at"], decision)
    body = container_bytes(
        contracts.load(contracts.REVIEW_LABEL),
        [label],
        sync_marker=hashlib.sha256(key.encode()).digest()[:16],
    )
    put(s3, bucket, key, body)
    return key


def label_key(enterprise_id: str, message_id: str, decided_at: datetime, decision: str) -> str:
    """The key of one decision (the arguments checked as ``write_label`` checks them)."""
    _check_message_id(message_id)
    _check_decision(decision)
    digest = hashlib.sha256(message_id.encode("utf-8")).hexdigest()
    return layout.review_label_key(_enterprise(enterprise_id), digest, _millis(decided_at), decision)


def _label(
    enterprise_id: str, message_id: str, decision: str, decided_at: datetime, reviewer: str
) -> dict[str, Any]:
    _enterprise(enterprise_id)
    _check_message_id(message_id)
    _check_decision(decision)
    _check_text("reviewer", reviewer, REVIEWER_RULES)
    return {
        "message_id": message_id,
        "enterprise_id": enterprise_id,
        "decision": decision,
        "is_malicious": DECISIONS[decision],
        "decided_at": _millis(decided_at),
        "reviewer": reviewer,
    }


_NOW = datetime(2000, 1, 1, tzinfo=UTC)
"""The record rules' reference time: unused by the text rules checked here."""


def _enterprise(enterprise_id: object) -> str:
    if not isinstance(enterprise_id, str):
        raise TenantError("enterprise id must be text")
    return check_enterprise_id(enterprise_id)


def _check_decision(decision: object) -> None:
    if not isinstance(decision, str) or decision not in DECISIONS:
        raise ReviewLabelError(f"decision must be one of {', '.join(DECISIONS)}")


def _check_message_id(message_id: str) -> None:
    _check_text("message_id", message_id, MESSAGE_ID_RULES)


def _check_text(name: str, value: object, rules: tuple[Rule, ...]) -> None:
    """ReviewLabelError with the first of ``rules`` that ``value`` breaks (fixed text: nothing of
    the value is quoted)."""
    if not isinstance(value, str):
        raise ReviewLabelError(f"{name} must be text")
    rule = records.broken({name: value}, _NOW, rules)
    if rule is not None:
        raise ReviewLabelError(rule.says)


def _millis(decided_at: datetime) -> datetime:
    """``decided_at`` in UTC, cut to the millisecond (what the label keeps), or ReviewLabelError."""
    if not isinstance(decided_at, datetime) or decided_at.utcoffset() is None:
        raise ReviewLabelError("decided_at must be a datetime with its time zone")
    if decided_at < records.EARLIEST_RECEIVED:
        raise ReviewLabelError(f"decided_at must be from {records.EARLIEST_RECEIVED:%Y-%m-%d}")
    at = decided_at.astimezone(UTC)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


def gather(s3: Any, bucket: str, since: datetime, through: datetime) -> Gathered:
    """Every decision made from ``since`` through ``through``, of every enterprise; the objects
    that cannot be read as one (unreadable, another schema, a record whose enterprise is not its
    key's, a message id or reviewer the writer would refuse) left out with their reason."""
    found = Gathered()
    for enterprise_id, prefix in _enterprises(s3, bucket, found):
        for day in _days(since, through):
            for obj in list_objects(s3, bucket, prefix + f"date={day:%Y-%m-%d}/"):
                try:
                    label = read_label(
                        get(s3, bucket, obj["Key"], LABEL_LIMITS.max_object_bytes), enterprise_id
                    )
                except (PermanentError, ReviewLabelError, TenantError) as err:
                    found.refused.append((obj["Key"], f"{type(err).__name__}: {err}"))
                    log.warning("review label %s left out of training: %s", obj["Key"], err)
                    continue
                if since <= label["decided_at"] <= through:
                    found.labels.append(label)
    return found


def _enterprises(s3: Any, bucket: str, found: Gathered) -> Iterator[tuple[str, str]]:
    for prefix in list_prefixes(s3, bucket, layout.REVIEW_LABELS_PREFIX):
        enterprise_id = prefix.removeprefix(layout.REVIEW_LABELS_PREFIX).removeprefix("enterprise=")[:-1]
        try:
            check_enterprise_id(enterprise_id)
        except TenantError as err:
            found.refused.append((prefix, f"{type(err).__name__}: {err}"))
            log.warning("review labels under %s left out of training: %s", prefix, err)
            continue
        yield enterprise_id, prefix


def _days(since: datetime, through: datetime) -> list[date]:
    first, last = since.astimezone(UTC).date(), through.astimezone(UTC).date()
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def read_label(body: bytes, enterprise_id: str) -> dict[str, Any]:
    """The one ReviewLabel of a label object stored under ``enterprise_id``'s prefix, checked as
    the writer checks it; UnreadableLabelError (or the codec's error) when it is not one."""
    found = list(ContainerReader(io.BytesIO(body), contracts.load(contracts.REVIEW_LABEL), LABEL_LIMITS))
    if len(found) != 1:
        raise UnreadableLabelError(f"a label object holds one decision, this one {len(found)}")
    (label,) = found
    if label["enterprise_id"] != enterprise_id:
        raise UnreadableLabelError("the label's enterprise is not the one its key is filed under")
    _label(enterprise_id, label["message_id"], label["decision"], label["decided_at"], label["reviewer"])
    if label["is_malicious"] is not DECISIONS[label["decision"]]:
        raise UnreadableLabelError("the label's is_malicious disagrees with its decision")
    return label
