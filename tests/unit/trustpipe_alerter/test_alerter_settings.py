"""What the alerter needs of the settings before it starts: the actions table, and for every
enterprise the tenant map serves, its action queue and alert topic."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.harness.paths import ROOT
from trustpipe.settings import Settings, SettingsError
from trustpipe_alerter.app import actions_table

BASE = json.loads((ROOT / "tests/unit/fixtures/settings.json").read_text())
TENANTS = {e: {"action_queue_url": f"q-{e}", "alert_topic_arn": f"t-{e}"} for e in ("acme", "globex")}


def settings(tenants: dict[str, dict[str, str]] = TENANTS, **overrides: Any) -> Settings:
    """Settings serving ``tenants`` (each enterprise's queue and topic as the tenant map names them)."""
    return Settings.from_dict(
        {
            **BASE,
            "actions_table_name": "actions",
            "tenants": tenants,
            "action_queue_urls": {
                e: t["action_queue_url"] for e, t in tenants.items() if "action_queue_url" in t
            },
            "alert_topic_arns": {
                e: t["alert_topic_arn"] for e, t in tenants.items() if "alert_topic_arn" in t
            },
            **overrides,
        }
    )


def test_the_served_enterprises_each_with_a_queue_and_topic_start_the_alerter() -> None:
    assert actions_table(settings()) == "actions"


def without(enterprise: str, name: str) -> dict[str, dict[str, str]]:
    """``TENANTS`` with ``enterprise`` lacking ``name``."""
    return {e: {k: v for k, v in own.items() if (e, k) != (enterprise, name)} for e, own in TENANTS.items()}


@pytest.mark.parametrize(
    ("tenants", "overrides", "complaint"),
    [
        (TENANTS, {"actions_table_name": None}, "no actions table"),
        ({}, {}, "no enterprises"),
        (without("globex", "action_queue_url"), {}, "no action queue for enterprises globex"),
        (without("acme", "alert_topic_arn"), {}, "no alert topic for enterprises acme"),
    ],
)
def test_settings_that_could_not_act_for_a_served_enterprise_stop_it_at_start(
    tenants: dict[str, dict[str, str]], overrides: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(SettingsError, match=complaint):
        actions_table(settings(tenants, **overrides))
