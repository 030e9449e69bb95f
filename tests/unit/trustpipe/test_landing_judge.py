"""The landing reader's judgement of one object, the enterprise of its prefix included."""

from __future__ import annotations

from datetime import UTC, datetime

from trustpipe import contracts, landing, layout
from trustpipe.codec import container_bytes
from trustpipe.landing import LandedFile, SetAside

QUARTER = datetime(2026, 11, 25, 4, tzinfo=UTC)
SERVED = frozenset({"acme", "globex"})


def body() -> bytes:
    return container_bytes(contracts.reader_schema(), [])


def test_a_file_under_a_served_enterprise_is_read() -> None:
    judged = landing.judge(layout.landing_key("acme", QUARTER), body(), SERVED)
    assert isinstance(judged, LandedFile) and judged.enterprise_id == "acme"


def test_a_file_under_an_enterprise_not_served_is_set_aside_with_its_reason() -> None:
    # GIVEN a readable file under the prefix of an enterprise the deployment does not serve
    key = layout.landing_key("umbrella", QUARTER)
    # WHEN judged THEN it is set aside, unread as to its records' claims
    judged = landing.judge(key, body(), SERVED)
    assert isinstance(judged, SetAside)
    assert judged.reason == "UnknownEnterpriseError: enterprise 'umbrella' is not served by this deployment"
    # AND without a tenant map nothing is checked
    assert isinstance(landing.judge(key, body()), LandedFile)
