"""The record rules in Python: each rule kept exactly at its bounds and broken one past them, the
first broken rule in the table's order named, the table held to the v4 schema's fields."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.harness.hostile import REFERENCE, edge_cases, v4
from trustpipe import contracts, records, tenants
from trustpipe.records import RULES, Check, RecordRuleError

CASES = edge_cases()


@pytest.mark.parametrize(("record", "rule"), [(r, n) for _, r, n in CASES], ids=[c for c, _, _ in CASES])
def test_each_rule_holds_exactly_at_its_bounds_and_breaks_one_past(
    record: dict[str, Any], rule: str | None
) -> None:
    # GIVEN a record at or one past one rule's bound, WHEN it is checked, THEN that rule alone decides
    found = records.broken(record, REFERENCE)
    assert (found.name if found else None) == rule


def test_a_broken_rule_is_one_error_naming_it_with_fixed_text() -> None:
    # GIVEN a record whose url_count is -1 and whose display name holds a NUL and is too long
    record = v4(url_count=-1, from_display_name="Alice\x00" + "x" * 5000)
    # WHEN it is checked, THEN the error names the first of its broken rules in the table's order
    with pytest.raises(RecordRuleError) as raised:
        records.check(record, REFERENCE)
    assert raised.value.rule.name == "from_display_name_length"
    # and its reason is the rule's own text (no value of the record quoted)
    assert f"{type(raised.value).__name__}: {raised.value}" == raised.value.rule.reason
    assert "Alice" not in str(raised.value)


def test_a_lone_surrogate_is_not_storable() -> None:
    # Avro's decoding never yields one (its UTF-8 cannot hold it), but a Python string can
    assert records.broken(v4(from_display_name="a\ud800b"), REFERENCE) == _rule("from_display_name_storable")
    assert records.broken(v4(urls=["https://x/\udfff"]), REFERENCE) == _rule("url_storable")


def test_a_record_keeping_every_rule_passes_and_absent_options_break_nothing() -> None:
    records.check(v4(reply_to=None, dkim_domain=None, x_mailer=None, urls=[], attachments=[]), REFERENCE)


def test_the_received_window_moves_with_the_reference() -> None:
    record = v4(received_at=REFERENCE + timedelta(days=3))
    assert records.broken(record, REFERENCE) == _rule("received_at_window")
    assert records.broken(record, REFERENCE + timedelta(days=2)) is None


def test_a_message_id_at_its_most_fits_a_partition_key_after_the_longest_enterprise() -> None:
    key = tenants.message_key("e" * tenants.MAX_ENTERPRISE_ID, "m" * records.MAX_MESSAGE_ID)
    assert len(key) == tenants.KINESIS_MAX_PARTITION_KEY


def test_rule_names_are_unique_and_every_field_of_the_v4_schema_is_ruled() -> None:
    # THEN each string of the v4 record (nested ones too) has a length and a storable rule, each
    # int or long a not-negative one, the timestamp its window, each array its item count
    assert len({r.name for r in RULES}) == len(RULES)
    ruled = {(r.field, r.item, r.check) for r in RULES}
    assert ruled == set(_expected(contracts.reader_schema()))


def _expected(schema: dict[str, Any]) -> list[tuple[str, str | None, Check]]:
    out: list[tuple[str, str | None, Check]] = []
    for f in schema["fields"]:
        out += _of(f["name"], None, f["type"])
    return out


def _of(field: str, item: str | None, kind: Any) -> list[tuple[str, str | None, Check]]:
    if isinstance(kind, list):  # ["null", T]
        return [x for k in kind if k != "null" for x in _of(field, item, k)]
    if kind == "string":
        return [(field, item, Check.LENGTH), (field, item, Check.STORABLE)]
    if kind in ("int", "long"):
        return [(field, item, Check.NOT_NEGATIVE)]
    if isinstance(kind, dict) and kind.get("logicalType") == "timestamp-millis":
        return [(field, item, Check.RECEIVED)]
    if isinstance(kind, dict) and kind["type"] == "array":
        items = kind["items"]
        nested = (
            [x for f in items["fields"] for x in _of(field, f["name"], f["type"])]
            if isinstance(items, dict)
            else _of(field, "", items)
        )
        return [(field, None, Check.ITEMS), *nested]
    return []  # enums, booleans, named references: nothing a record could break


def _rule(name: str) -> records.Rule:
    return next(r for r in RULES if r.name == name)
