"""The record rules (``trustpipe.records.RULES``) as Spark column expressions, generated from the
one table: each ``Check`` has its column form here, and a rule's reason is its own text, so the
scoring job sets aside exactly the records the scorer does, with the same words."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from pyspark.sql import Column
from pyspark.sql import functions as F

from trustpipe.records import EARLIEST_RECEIVED, RECEIVED_AHEAD, RULES, Check, Rule

NUL = "\x00"


def _text_length(rule: Rule) -> Callable[[Column], Column]:
    return lambda c: (F.char_length(c) < rule.least) | (F.char_length(c) > rule.most)


def _broken_form(rule: Rule, reference: datetime) -> Callable[[Column], Column]:
    """The column form of ``rule``'s check on one value: true when the value breaks it (null for
    a null value, which breaks nothing)."""
    match rule.check:
        case Check.NOT_NEGATIVE:
            return lambda c: c < 0
        case Check.LENGTH:
            return _text_length(rule)
        case Check.ITEMS:
            return lambda c: F.size(c) > rule.most
        case Check.STORABLE:
            return lambda c: F.contains(c, F.lit(NUL)) | ~F.is_valid_utf8(c)
        case Check.RECEIVED:
            latest = reference + RECEIVED_AHEAD
            return lambda c: (c < F.lit(EARLIEST_RECEIVED)) | (c > F.lit(latest))
    raise AssertionError(f"no Spark form of {rule.check}")  # pragma: no cover


def broken(rule: Rule, reference: datetime) -> Column:
    """True when the row breaks ``rule``, else false (never null)."""
    form = _broken_form(rule, reference)
    test = form(F.col(rule.field)) if rule.item is None else _any_item(rule, form)
    return F.coalesce(test, F.lit(False))


def _any_item(rule: Rule, form: Callable[[Column], Column]) -> Column:
    """Whether any item of ``rule``'s list breaks it. A lambda (``exists``) is evaluated by Spark's
    interpreter, row by row, so it runs only behind a native guard that every breaking row passes
    and nearly no other does: a NUL in the items joined, their joined length past the most, a
    negative least item."""
    items = F.col(rule.field) if rule.item == "" else F.col(rule.field)[rule.item]
    if rule.check is Check.STORABLE:
        return form(F.array_join(items, ""))  # exact: a NUL is in an item or in none
    if rule.check is Check.NOT_NEGATIVE:
        return F.array_min(items) < 0  # exact
    if rule.check is Check.LENGTH and rule.least == 0:
        each = F.exists(items, form)
        return F.when(F.char_length(F.array_join(items, "")) > rule.most, each).otherwise(F.lit(False))
    return F.exists(items, form)  # pragma: no cover (no such rule yet; exact, if slow)


def reason(reference: datetime, rules: tuple[Rule, ...] = RULES) -> Column:
    """The reason of the first rule the row breaks (``Rule.reason``), or null when it keeps them
    all; ``reference`` is the time the rows are checked at (the hour's scoring, the build)."""
    return F.coalesce(*(F.when(broken(rule, reference), F.lit(rule.reason)) for rule in rules))
