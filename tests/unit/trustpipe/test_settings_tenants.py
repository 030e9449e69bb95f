"""The settings' tenant map: the one place each enterprise's resources are named; the action
queues and alert topics the alerters use are read from it."""

from __future__ import annotations

import json
from dataclasses import fields

from tests.harness.paths import ROOT
from trustpipe.settings import TENANT_FIELDS, Settings

FIXTURE = json.loads((ROOT / "tests/unit/fixtures/settings.json").read_text())


def test_queues_and_topics_are_read_from_the_tenant_map() -> None:
    settings = Settings.from_dict(FIXTURE)
    assert settings.enterprises == {"acme", "globex", "initech"}
    assert settings.action_queue_urls == {e: own["action_queue_url"] for e, own in FIXTURE["tenants"].items()}
    assert settings.alert_topic_arns["globex"] == FIXTURE["tenants"]["globex"]["alert_topic_arn"]
    # and they are not fields of their own (a settings file carries them once, in tenants)
    assert {"action_queue_urls", "alert_topic_arns"} & {f.name for f in fields(Settings)} == set()


def test_an_older_settings_file_with_the_folded_fields_still_loads() -> None:
    old = {**FIXTURE, "action_queue_urls": {"acme": "u"}, "alert_topic_arns": {"acme": "t"}, "tenants": {}}
    settings = Settings.from_dict(old)
    assert settings.action_queue_urls == {} and settings.enterprises == frozenset()


def test_an_enterprise_missing_a_resource_is_left_out_of_that_resources_map() -> None:
    settings = Settings.from_dict({**FIXTURE, "tenants": {"acme": {"alert_topic_arn": "arn:t"}}})
    assert settings.action_queue_urls == {} and settings.alert_topic_arns == {"acme": "arn:t"}


def test_the_tenant_fields_are_what_the_pipeline_module_outputs() -> None:
    main = (ROOT / "infra/modules/tenants/outputs.tf").read_text()
    block = main.split('output "tenants"', 1)[1]
    assert all(f"{name} " in block for name in TENANT_FIELDS)
