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


def settings(**overrides: Any) -> Settings:
    return Settings.from_dict(
        {
            **BASE,
            "actions_table_name": "actions",
            "tenants": TENANTS,
            "action_queue_urls": {e: t["action_queue_url"] for e, t in TENANTS.items()},
            "alert_topic_arns": {e: t["alert_topic_arn"] for e, t in TENANTS.items()},
            **overrides,
        }
    )


def test_the_served_enterprises_each_with_a_queue_and_topic_start_the_alerter() -> None:
    assert actions_table(settings()) == "actions"


@pytest.mark.parametrize(
    ("overrides", "complaint"),
    [
        ({"actions_table_name": None}, "no actions table"),
        ({"tenants": {}}, "no enterprises"),
        ({"action_queue_urls": {"acme": "q-acme"}}, "no action queue for enterprises globex"),
        ({"alert_topic_arns": {}}, "no alert topic for enterprises acme, globex"),
    ],
)
def test_settings_that_could_not_act_for_a_served_enterprise_stop_it_at_start(
    overrides: dict[str, Any], complaint: str
) -> None:
    with pytest.raises(SettingsError, match=complaint):
        actions_table(settings(**overrides))
