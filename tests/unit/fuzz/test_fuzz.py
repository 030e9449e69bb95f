"""The codec and the registry's request parsing, fuzzed (hypothesis): whatever the bytes, the
only errors out are the codec's own (CodecError) and the registry's own answers (4xx with an
error code). A bounded run here; `make fuzz` runs longer (hypothesis's ``fuzz`` profile, then
atheris). Inputs that once escaped are replayed from tests/fuzz/regressions/."""

from __future__ import annotations

import os
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.fuzz import targets

settings.register_profile("ci", max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=20_000, deadline=None, suppress_health_check=list(HealthCheck))
settings.load_profile(os.environ.get("TRUSTPIPE_FUZZ_PROFILE", "ci"))

SEEDS = targets.seeds()


@st.composite
def mutated(draw: st.DrawFn, seeds: list[bytes]) -> bytes:
    """A valid input with bytes flipped, cut, repeated or spliced in: closer to real damage than
    uniform noise, which rarely passes a header."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 6))):
        op = draw(st.sampled_from(["flip", "cut", "insert", "dup"]))
        at = draw(st.integers(0, max(len(data) - 1, 0)))
        if op == "flip" and data:
            data[at] ^= 1 << draw(st.integers(0, 7))
        elif op == "cut":
            del data[at : at + draw(st.integers(1, 64))]
        elif op == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        elif op == "dup":
            data[at:at] = data[at : at + draw(st.integers(1, 32))]
    return bytes(data)


@given(st.one_of(st.binary(max_size=512), mutated(SEEDS["framed"])))
def test_framed_records_only_fail_with_codec_errors(data: bytes) -> None:
    targets.framed(data)


@given(st.one_of(st.binary(max_size=2048), mutated(SEEDS["container"])))
def test_container_files_only_fail_with_codec_errors(data: bytes) -> None:
    targets.container(data)


SEGMENTS = st.sampled_from(
    ["subjects", "versions", "schemas", "ids", "schema", "config", "compatibility", "types", "latest", "-1"]
)
WORD = st.text(alphabet=string.printable + "é%\x00", max_size=12)
PATHS = st.lists(st.one_of(SEGMENTS, WORD, st.integers(-3, 2**40).map(str)), max_size=6).map(
    lambda parts: "/" + "/".join(parts)
)
QUERIES = st.one_of(
    st.just(""), st.sampled_from(["?deleted=true", "?permanent=true", "?verbose=TRUE", "?x=%zz"])
)
BODIES = st.one_of(
    st.binary(max_size=256),
    st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda inner: (
            st.lists(inner, max_size=4)
            | st.dictionaries(
                st.sampled_from(["schema", "schemaType", "compatibility", "references", "x"]),
                inner,
                max_size=4,
            )
        ),
        max_leaves=10,
    ).map(lambda v: __import__("json").dumps(v).encode()),
    st.sampled_from(SEEDS["registry"]).map(lambda r: r.partition(b"\n\n")[2]),
)


@given(
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"]),
    path=PATHS,
    query=QUERIES,
    content_type=st.sampled_from(
        [
            "application/json",
            "application/vnd.schemaregistry.v1+json",
            "text/plain",
            "",
            "application/json; charset=utf-8",
        ]
    ),
    body=BODIES,
)
def test_registry_requests_are_answered_with_its_own_errors(
    method: str, path: str, query: str, content_type: str, body: bytes
) -> None:
    targets.registry(method, path + query, content_type, body)


@given(mutated(SEEDS["registry"]))
def test_registry_requests_from_raw_bytes(data: bytes) -> None:
    targets.registry_bytes(data)


@pytest.mark.parametrize(
    ("target", "path"),
    [(t, p) for t in targets.BYTE_TARGETS for p in targets.regressions(t)],
    ids=lambda v: getattr(v, "name", v),
)
def test_inputs_that_once_escaped_stay_fixed(target: str, path: object) -> None:
    targets.BYTE_TARGETS[target](path.read_bytes())  # type: ignore[attr-defined]
