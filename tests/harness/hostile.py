"""Records that are legal Avro yet hostile or careless, for the record rules' tests and the
property tests at the workers' edge: each rule's bounds (exactly at it, one past), and hypothesis
strategies for any record a writer schema the registry accepts can carry.

Property budgets: ``bounded(n)`` is ``n`` examples in ``make test`` (a few seconds a property)
and 50 times as many under ``make fuzz`` (``TRUSTPIPE_FUZZ_PROFILE=fuzz``)."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

from tests.harness.factories import email_v3
from trustpipe import records
from trustpipe.records import Check, Rule

settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck))
PROFILE = os.environ.get("TRUSTPIPE_FUZZ_PROFILE", "ci")
settings.load_profile(PROFILE)
FUZZ_FACTOR = 50


def bounded(examples: int) -> settings:
    """``examples`` for this property in ``make test``; FUZZ_FACTOR times more under ``make fuzz``."""
    return settings(
        max_examples=examples * (FUZZ_FACTOR if PROFILE == "fuzz" else 1),
        deadline=None,
        suppress_health_check=list(HealthCheck),
    )


REFERENCE = datetime(2026, 12, 1, 12, tzinfo=UTC)
"""The time the edge cases are checked at (scored, trained on)."""
WIDE = "\U0001d11e"
"""One code point, four UTF-8 bytes: lengths are counted in characters by both engines."""
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
LONG_MIN, LONG_MAX = -(2**63), 2**63 - 1
MILLIS_MAX = 253_402_300_799_999
"""The last millisecond of year 9999: Python's datetime ends there (decoding refuses later)."""


def v4(**changes: Any) -> dict[str, Any]:
    """A v4 record (every field, as the pipeline reads it) that keeps every rule at REFERENCE."""
    record = email_v3(received_at=REFERENCE - timedelta(minutes=5), x_mailer=None)
    record.update(changes)
    return record


def _with(rule: Rule, value: Any) -> dict[str, Any]:
    """A v4 record whose value for ``rule`` (its field, or the one item's) is ``value``."""
    if rule.item is None:
        return v4(**{rule.field: value})
    if rule.item == "":
        return v4(**{rule.field: [value]})
    attachment = {"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": 1, rule.item: value}
    return v4(**{rule.field: [attachment]})


def _cases(rule: Rule) -> list[tuple[str, Any, bool]]:
    """(case, value, breaks) at and past ``rule``'s bounds."""
    match rule.check:
        case Check.NOT_NEGATIVE:
            return [("zero", 0, False), ("minus-one", -1, True), ("least", INT_MIN, True)]
        case Check.LENGTH:
            cases = [("at-most", WIDE * rule.most, False), ("past-most", WIDE * (rule.most + 1), True)]
            if rule.least:
                cases += [
                    ("at-least", "x" * rule.least, False),
                    ("under-least", "x" * (rule.least - 1), True),
                ]
            return cases
        case Check.ITEMS:
            return [("at-most", [], False), ("past-most", [], True)]  # filled in by _items
        case Check.STORABLE:
            return [("plain", "a-b", False), ("nul", "a\x00b", True), ("only-nul", "\x00", True)]
        case Check.RECEIVED:
            first, last = records.EARLIEST_RECEIVED, REFERENCE + records.RECEIVED_AHEAD
            ms = timedelta(milliseconds=1)
            return [
                ("earliest", first, False),
                ("before-earliest", first - ms, True),
                ("epoch", datetime(1970, 1, 1, tzinfo=UTC), True),
                ("latest", last, False),
                ("past-latest", last + ms, True),
            ]
    raise AssertionError(rule.check)


def _items(rule: Rule, n: int) -> dict[str, Any]:
    if rule.field == "urls":
        return v4(urls=["https://x.test/"] * n)
    return v4(attachments=[{"filename": "a.pdf", "content_type": "application/pdf", "size_bytes": 1}] * n)


def edge_cases() -> list[tuple[str, dict[str, Any], str | None]]:
    """(case id, record, the rule it breaks or None) for every rule, exactly at each bound and one
    past it; the first case keeps every rule."""
    out: list[tuple[str, dict[str, Any], str | None]] = [("keeps-all", v4(), None)]
    for rule in records.RULES:
        for case, value, breaks in _cases(rule):
            if rule.check is Check.ITEMS:
                record = _items(rule, rule.most + (1 if breaks else 0))
            else:
                record = _with(rule, value)
            out.append((f"{rule.name}-{case}", record, rule.name if breaks else None))
    return out


# Hypothesis: any value the v4 reader can hand over, drawn near the rules' bounds as often as not.
TEXT = st.one_of(
    st.text(max_size=12),
    st.text(alphabet=st.sampled_from(["a", "\x00", WIDE, "é", "/"]), max_size=12),
    st.sampled_from(sorted({r.most for r in records.RULES if r.check is Check.LENGTH})).flatmap(
        lambda n: st.sampled_from(["x" * n, "x" * (n + 1), WIDE * n])
    ),
    st.just(""),
)
INTS = st.one_of(st.integers(-2, 50), st.integers(INT_MIN, INT_MAX))
LONGS = st.one_of(st.integers(-2, 5_000_000_000), st.integers(LONG_MIN, LONG_MAX))
TIMES = st.one_of(
    st.sampled_from(
        [
            records.EARLIEST_RECEIVED,
            records.EARLIEST_RECEIVED - timedelta(milliseconds=1),
            REFERENCE,
            REFERENCE + records.RECEIVED_AHEAD,
            REFERENCE + records.RECEIVED_AHEAD + timedelta(milliseconds=1),
        ]
    ),
    st.integers(-62_135_596_800_000, MILLIS_MAX).map(
        lambda ms: datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    ),
)
AUTH = st.sampled_from(["PASS", "FAIL", "SOFTFAIL", "NEUTRAL", "NONE", "UNKNOWN", "TEMPERROR", "PERMERROR"])


@st.composite
def v4_records(draw: st.DrawFn, enterprise: str | None = None) -> dict[str, Any]:
    """Any record a v4 writer can carry (``enterprise`` fixed when given)."""
    text = TEXT
    return {
        "message_id": draw(text),
        "enterprise_id": enterprise if enterprise is not None else draw(text),
        "received_at": draw(TIMES),
        "from_address": draw(st.one_of(text, st.just("alice@partner.com"))),
        "from_display_name": draw(text),
        "return_path": draw(text),
        "sending_ip": draw(st.one_of(text, st.just("10.0.0.1"))),
        "recipient_count": draw(INTS),
        "subject_length": draw(INTS),
        "size_bytes": draw(LONGS),
        "spf": draw(AUTH),
        "dkim": draw(AUTH),
        "dmarc": draw(AUTH),
        "url_count": draw(INTS),
        "attachment_count": draw(INTS),
        "reply_to": draw(st.none() | text),
        "dkim_domain": draw(st.none() | text),
        "urls": draw(st.lists(text, max_size=3)),
        "attachments": draw(
            st.lists(
                st.fixed_dictionaries({"filename": text, "content_type": text, "size_bytes": LONGS}),
                max_size=2,
            )
        ),
        "in_known_thread": draw(st.booleans()),
        "x_mailer": draw(st.none() | text),
    }


@st.composite
def scored_messages(draw: st.DrawFn, enterprises: list[str]) -> dict[str, Any]:
    """Any ScoredMessage a writer can frame, its enterprise one of ``enterprises`` or any text."""
    text = TEXT
    return {
        "message_id": draw(text),
        "enterprise_id": draw(st.one_of(st.sampled_from(enterprises), text)),
        "received_at": draw(TIMES),
        "scored_at": draw(TIMES),
        "from_address": draw(text),
        "from_display_name": draw(text),
        "from_domain": draw(text),
        "reply_to": draw(st.none() | text),
        "sending_ip": draw(text),
        "score": draw(st.floats(allow_nan=True, allow_infinity=True)),
        "verdict": draw(st.sampled_from(["QUARANTINE", "LABEL", "PASS_THROUGH"])),
        "reasons": draw(st.lists(text, max_size=4)),
        "model_version": draw(text),
        "source": draw(st.sampled_from(["BATCH", "STREAM"])),
        "source_ref": draw(text),
        "sensor_schema_version": draw(INTS),
    }
