"""Compatibility modes with Confluent's semantics, on Apache Avro's rules (shared vectors)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.registry_api import Api, record

CASES = json.loads((Path(__file__).parents[2] / "vectors" / "registry_mode_cases.json").read_text())

A = record("R", {"name": "a", "type": "int"})
AB = record("R", {"name": "a", "type": "int"}, {"name": "b", "type": "int", "default": 0})
B = record("R", {"name": "b", "type": "int", "default": 0})
# A chain where each step is compatible with the one before, but not with the first:
# a is a string, then dropped, then back as an int with a default.
CHAIN = (
    record("R", {"name": "a", "type": "string"}),
    record("R"),
    record("R", {"name": "a", "type": "int", "default": 0}),
)


@pytest.mark.parametrize("case", CASES, ids=lambda c: f"{c['mode']}-{c['source'][-50:]}")
def test_registry_mode_vectors(api: Api, case: dict) -> None:
    # GIVEN the history registered oldest first under NONE, then the subject set to the mode
    api.set_level("NONE", "s")
    for schema in case["history"]:
        assert api.register("s", schema).status == 200
    api.set_level(case["mode"], "s")
    # WHEN the candidate is registered
    answer = api.register("s", case["candidate"])
    # THEN it succeeds exactly when it is compatible, else 409
    assert answer.status == (200 if case["compatible"] else 409), answer.body


@pytest.mark.parametrize("plain", ["BACKWARD", "FORWARD", "FULL"])
def test_transitive_fails_where_plain_passes(plain: str) -> None:
    for level, expected in ((plain, 200), (f"{plain}_TRANSITIVE", 409)):
        # GIVEN the first two links of the chain
        api = Api()
        api.set_level("NONE", "s")
        api.register("s", CHAIN[0])
        api.register("s", CHAIN[1])
        api.set_level(level, "s")
        # WHEN the third is registered, THEN only the transitive mode sees the first link
        assert api.register("s", CHAIN[2]).status == expected, level


def test_forward_checks_the_old_reader(api: Api) -> None:
    api.set_level("FORWARD")
    api.register("s", AB)
    # old reader AB needs a (no default): B's data lacks it
    assert api.register("s", B).status == 409
    # a new writer adding a field is fine for the old reader
    assert (
        api.register(
            "s",
            record(
                "R",
                {"name": "a", "type": "int"},
                {"name": "b", "type": "int"},
                {"name": "c", "type": "string"},
            ),
        ).status
        == 200
    )


def test_subject_level_overrides_global(api: Api) -> None:
    api.set_level("NONE")
    api.register("s", A)
    api.set_level("BACKWARD", "s")
    assert api.register("s", record("R", {"name": "z", "type": "string"})).status == 409
    api.register("t", A)
    assert api.register("t", record("R", {"name": "z", "type": "string"})).status == 200


def test_transitive_compatibility_endpoint_checks_every_version(api: Api) -> None:
    api.set_level("NONE", "s")
    api.register("s", CHAIN[0])
    api.register("s", CHAIN[1])
    api.set_level("BACKWARD_TRANSITIVE", "s")
    third = {"schema": json.dumps(CHAIN[2])}
    all_versions = api.call("POST", "/compatibility/subjects/s/versions", third)
    latest_only = api.call("POST", "/compatibility/subjects/s/versions/latest", third)
    assert all_versions.body == {"is_compatible": False}
    assert latest_only.body == {"is_compatible": True}
