"""The registry's resolver driven with API Gateway REST API proxy events (no network)."""

from __future__ import annotations

import pytest

from tests.harness.registry_api import Api


@pytest.fixture
def api() -> Api:
    return Api()
