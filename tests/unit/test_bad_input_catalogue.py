"""docs/bad-input.md is held to the tests: every kind it lists names a test that exists (a
parametrized case by text of its parametrize block), every boundary has its rows, 25 at least."""

from __future__ import annotations

import re

from tests.harness.paths import ROOT

CATALOGUE = ROOT / "docs" / "bad-input.md"
BOUNDARIES = {
    "landing objects",
    "SQS bodies and S3 events",
    "Kinesis records",
    "front door requests",
    "registry requests",
    "model artifacts",
    "settings/config",
    "CLI arguments",
    "Airflow Variables",
    "search queries",
    "review decisions",
    "review API requests",
    "ground truth labels",
}
TEST_REF = re.compile(r"`(tests/[\w/]+\.py)::(test_\w+)(?:\[([^\]]+)\])?`")


def rows() -> list[list[str]]:
    lines = [line for line in CATALOGUE.read_text().splitlines() if re.match(r"\|\s*\d+\s*\|", line)]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def resolves(path: str, name: str, case: str | None) -> str | None:
    """None when ``path::name[case]`` is a test that exists; else what is wrong."""
    source = ROOT / path
    if not source.is_file():
        return f"{path} does not exist"
    text = source.read_text()
    found = re.search(rf"^def {name}\(", text, re.MULTILINE)
    if found is None:
        return f"{path} has no {name}"
    if case is None:
        return None
    before = text[: found.start()]
    block = before[before.rfind("\ndef ") + 1 :]
    if "@pytest.mark.parametrize" not in block:
        return f"{name} is not parametrized, yet case [{case}] is named"
    return None if case in block else f"{name} has no case {case!r}"


def test_every_listed_kind_names_a_test_that_exists() -> None:
    problems = []
    for number, _boundary, kind, _does, test in rows():
        ref = TEST_REF.search(test)
        if ref is None:
            problems.append(f"row {number} ({kind}): no test named")
            continue
        wrong = resolves(*ref.groups())
        if wrong:
            problems.append(f"row {number} ({kind}): {wrong}")
    assert problems == []


def test_every_boundary_is_catalogued_and_there_are_at_least_25_kinds() -> None:
    listed = rows()
    assert len(listed) >= 25
    assert {boundary for _n, boundary, *_ in listed} == BOUNDARIES
    assert [int(n) for n, *_ in listed] == list(range(1, len(listed) + 1))


def test_a_missing_test_or_case_is_caught() -> None:
    assert resolves("tests/unit/test_bad_input_catalogue.py", "test_nothing_here", None)
    assert resolves("tests/unit/trustpipe/test_codec.py", "test_truncated_record", "x")
    assert resolves(
        "tests/unit/trustpipe/test_announcements.py",
        "test_malformed_bodies_are_one_clear_error",
        "no-such-case",
    )
    assert (
        resolves(
            "tests/unit/trustpipe/test_announcements.py",
            "test_malformed_bodies_are_one_clear_error",
            "not json",
        )
        is None
    )
