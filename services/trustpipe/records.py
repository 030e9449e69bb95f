"""The rules every email-metadata record keeps once decoded (v4, the pipeline's reader schema),
stated once and applied by both engines: ``check`` here in Python (the scorer), and the same
rules as Spark column expressions generated from ``RULES`` (``spark_jobs.record_rules``: the
scoring job, the model build). A record that breaks one is set aside with the rule's name; the
rest of its batch or file proceeds.

Decoding already refuses what Avro itself cannot carry (bytes that are not UTF-8, a timestamp
past year 9999); these are the record's meaning: counts are not negative, strings fit where they
go and hold nothing the store refuses (PostgreSQL's text takes no NUL, and UTF-8 has no lone
surrogates), the message id is non-empty and fits a Kinesis partition key after its enterprise,
and the time it was received is one the pipeline can believe. The enterprise is checked before
these rules, against the channel and the served tenants (``tenants.check_claim``, the job's
channel check).

A record breaking several rules is set aside for the first of them in ``RULES``' order, in both
engines. Reasons are fixed text (``Rule.reason``): no field's value is quoted, so a hostile value
never reaches the error path through a reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from trustpipe.errors import PermanentError
from trustpipe.tenants import KEY_SEPARATOR, KINESIS_MAX_PARTITION_KEY, MAX_ENTERPRISE_ID

MAX_MESSAGE_ID = KINESIS_MAX_PARTITION_KEY - MAX_ENTERPRISE_ID - len(KEY_SEPARATOR)
"""223: ``<enterprise>/<message id>`` is a Kinesis partition key (256 characters at most) for the
longest enterprise id. DynamoDB's key and SQS's ids are digests of it already (the alerter)."""
MAX_ADDRESS = 320
"""An address: a 64-character local part, @, a 255-character domain (RFC 3696 section 3)."""
MAX_HEADER = 998
"""A header's value (display name, X-Mailer) or a file name: RFC 5322's line limit."""
MAX_DOMAIN = 253
"""A DNS name's text form (RFC 1035's 255 octets on the wire)."""
MAX_IP = 45
"""The longest text form of an IP address (IPv6 with an embedded IPv4: INET6_ADDRSTRLEN - 1)."""
MAX_URL = 8000
"""A URL: what RFC 9110 asks every party to accept."""
MAX_CONTENT_TYPE = 255
"""A MIME type: 127-character type and subtype and the slash (RFC 6838 section 4.2)."""
MAX_URLS = MAX_ATTACHMENTS = 1000
"""Items in a message's URL and attachment lists: more is no mail a sensor saw."""
EARLIEST_RECEIVED = datetime(2000, 1, 1, tzinfo=UTC)
"""No sensor of this pipeline saw mail before this: an earlier time is a clock at its epoch."""
RECEIVED_AHEAD = timedelta(days=1)
"""How far a record's received time may be past when the pipeline saw it (the reference: the
stream scorer's clock, the end of the batch hour it landed in, the end of a model's training
window): clocks drift, but not by a day."""


class Check(StrEnum):
    """What a rule asks of its value."""

    NOT_NEGATIVE = "not_negative"
    LENGTH = "length"
    """Characters (Unicode code points, as both engines count them) within least..most."""
    ITEMS = "items"
    """A list of at most ``most`` items."""
    STORABLE = "storable"
    """Text without NUL and without lone surrogates (Spark: valid UTF-8)."""
    RECEIVED = "received"
    """A time within EARLIEST_RECEIVED .. the reference time + RECEIVED_AHEAD."""


@dataclass(frozen=True)
class Rule:
    """One named rule on one field: ``field``'s value, or each item of it (``item`` "" for the
    list's items themselves, a name for that field of each item)."""

    name: str
    field: str
    check: Check
    says: str
    item: str | None = None
    least: int = 0
    most: int = 0

    @property
    def reason(self) -> str:
        """What a record breaking this rule is set aside with (the same text in both engines)."""
        return f"{RecordRuleError.__name__}: {self.name}: {self.says}"


def _text(name: str, field: str, most: int, least: int = 0, item: str | None = None) -> tuple[Rule, ...]:
    """A string field's two rules: its length, then that the store can hold it."""
    where = field if item is None else f"each of {field}" if item == "" else f"each {field} {item}"
    return (
        Rule(f"{name}_length", field, Check.LENGTH, f"{where} must be {least} to {most} characters",
             item, least, most),
        Rule(f"{name}_storable", field, Check.STORABLE, f"{where} must hold no NUL and no lone surrogate",
             item),
    )  # fmt: skip


def _count(name: str, field: str, item: str | None = None) -> Rule:
    where = field if item is None else f"each {field} {item}"
    return Rule(f"{name}_not_negative", field, Check.NOT_NEGATIVE, f"{where} must not be negative", item)


RULES: tuple[Rule, ...] = (
    *_text("message_id", "message_id", MAX_MESSAGE_ID, least=1),
    *_text("enterprise_id", "enterprise_id", MAX_ENTERPRISE_ID, least=1),
    Rule(
        "received_at_window",
        "received_at",
        Check.RECEIVED,
        f"received_at must be from {EARLIEST_RECEIVED:%Y-%m-%d} to a day past when the pipeline saw it",
    ),
    *_text("from_address", "from_address", MAX_ADDRESS),
    *_text("from_display_name", "from_display_name", MAX_HEADER),
    *_text("return_path", "return_path", MAX_ADDRESS),
    *_text("sending_ip", "sending_ip", MAX_IP),
    *_text("reply_to", "reply_to", MAX_ADDRESS),
    *_text("dkim_domain", "dkim_domain", MAX_DOMAIN),
    *_text("x_mailer", "x_mailer", MAX_HEADER),
    _count("recipient_count", "recipient_count"),
    _count("subject_length", "subject_length"),
    _count("size_bytes", "size_bytes"),
    _count("url_count", "url_count"),
    _count("attachment_count", "attachment_count"),
    Rule("urls_items", "urls", Check.ITEMS, f"urls must hold at most {MAX_URLS} items", most=MAX_URLS),
    *_text("url", "urls", MAX_URL, item=""),
    Rule(
        "attachments_items",
        "attachments",
        Check.ITEMS,
        f"attachments must hold at most {MAX_ATTACHMENTS} items",
        most=MAX_ATTACHMENTS,
    ),
    *_text("attachment_filename", "attachments", MAX_HEADER, item="filename"),
    *_text("attachment_content_type", "attachments", MAX_CONTENT_TYPE, item="content_type"),
    _count("attachment_size_bytes", "attachments", item="size_bytes"),
)
"""Every rule, in the order a record is judged (the first it breaks is its reason)."""


class RecordRuleError(PermanentError, ValueError):
    """A decoded record breaks one of the record rules (``rule`` says which)."""

    def __init__(self, rule: Rule) -> None:
        super().__init__(f"{rule.name}: {rule.says}")
        self.rule = rule


def broken(record: Mapping[str, Any], reference: datetime, rules: tuple[Rule, ...] = RULES) -> Rule | None:
    """The first of ``rules`` that ``record`` (v4, decoded) breaks, or None; ``reference`` is when
    the pipeline saw it (``RECEIVED_AHEAD``), for the received-time window."""
    index = _judge(rules)(record, reference)
    return None if index < 0 else rules[index]


def check(record: Mapping[str, Any], reference: datetime) -> None:
    """RecordRuleError naming the first rule ``record`` breaks; nothing when it keeps them all."""
    rule = broken(record, reference)
    if rule is not None:
        raise RecordRuleError(rule)


Judge = Callable[[Mapping[str, Any], datetime], int]
_JUDGES: dict[int, tuple[tuple[Rule, ...], Judge]] = {}
"""Each rule tuple's judge by the tuple's id, the tuple kept (so its id is never reused): hashing
the rules themselves on every record would cost more than judging it."""


def _judge(rules: tuple[Rule, ...]) -> Judge:
    """``rules`` as one function: (record, reference) -> the index of the first rule broken, or -1.
    Generated once from the table as straight-line code, as ``dataclasses`` makes its methods: a
    loop calling a closure per rule cost the scorer a sixth of its throughput (benchmark P1)."""
    cached = _JUDGES.get(id(rules))
    if cached is not None and cached[0] is rules:
        return cached[1]
    lines = ["def judge(r, ref):", "    latest = ref + AHEAD"]
    for n, rule in enumerate(rules):
        lines += [f"    {line}" for line in _python_form(rule, n)]
    lines.append("    return -1")
    scope: dict[str, Any] = {"AHEAD": RECEIVED_AHEAD, "EARLIEST": EARLIEST_RECEIVED, "utf8": _is_utf8}
    exec(compile("\n".join(lines), f"<record rules {len(rules)}>", "exec"), scope)  # noqa: S102
    judge: Judge = scope["judge"]
    _JUDGES[id(rules)] = (rules, judge)
    return judge


def _python_form(rule: Rule, index: int) -> list[str]:
    """The statements that return ``index`` when a record breaks ``rule`` (a null, an optional
    field absent, breaks none)."""
    broken_value = _value_form(rule)
    if rule.item is None:
        return [f"v = r.get({rule.field!r})", f"if v is not None and {broken_value}: return {index}"]
    value = "x" if rule.item == "" else f"x.get({rule.item!r})"
    return [
        f"for x in r.get({rule.field!r}) or ():",
        f"    v = {value}",
        f"    if v is not None and {broken_value}: return {index}",
    ]


def _value_form(rule: Rule) -> str:
    """The Python form of ``rule``'s check on a value ``v`` (not null): true when it breaks it."""
    match rule.check:
        case Check.NOT_NEGATIVE:
            return "v < 0"
        case Check.LENGTH:
            return f"not {int(rule.least)} <= len(v) <= {int(rule.most)}"
        case Check.ITEMS:
            return f"len(v) > {int(rule.most)}"
        case Check.STORABLE:
            return "('\\x00' in v or not (v.isascii() or utf8(v)))"
        case Check.RECEIVED:
            return "not EARLIEST <= v <= latest"
    raise AssertionError(f"no Python form of {rule.check}")  # pragma: no cover


def _is_utf8(text: str) -> bool:
    """False for text holding a lone surrogate (no UTF-8 can encode it)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
