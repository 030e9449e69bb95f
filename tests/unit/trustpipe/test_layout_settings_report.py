"""Hours, keys, settings and the reconciliation report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.orchestration import SETTINGS as ORCHESTRATION_SETTINGS
from trustpipe import layout
from trustpipe.settings import Settings, SettingsError
from trustpipe_scenarios.report import StageReport

SETTINGS = {**ORCHESTRATION_SETTINGS, "aws_endpoint": "http://127.0.0.1:1", "oncall_topic_arn": None}
OUTPUTS = {"settings": {"value": SETTINGS}, "registry": {"value": {"table_name": "rt"}}}
"""`terraform output -json` of a root: every root has one `settings` object."""


@pytest.mark.parametrize("text", ["2026-11-26", "2026-11-26T24", "yesterday", "2026-11-26T13:00", ""])
def test_malformed_hour(text: str) -> None:
    with pytest.raises(layout.HourError, match="not of the form YYYY-MM-DDTHH"):
        layout.parse_hour(text)


def test_hour_round_trip_and_quarters() -> None:
    hour = layout.parse_hour("2026-11-26T05")
    assert layout.format_hour(hour) == "2026-11-26T05"
    assert [q.minute for q in layout.quarter_starts(hour)] == [0, 15, 30, 45]
    assert layout.landing_hour_prefix("acme", hour) == "messages/enterprise=acme/date=2026-11-26/hour=05/"


def test_settings_from_terraform_outputs_round_trip(tmp_path: Path) -> None:
    settings = Settings.from_terraform_outputs(OUTPUTS, database_url="postgresql://x")
    settings.save(tmp_path / "s.json")
    assert Settings.load(tmp_path / "s.json") == settings


def test_settings_missing_output_is_named() -> None:
    settings = {k: v for k, v in SETTINGS.items() if k != "scored_bucket"}
    with pytest.raises(SettingsError, match="settings lack scored_bucket"):
        Settings.from_terraform_outputs({"settings": {"value": settings}})
    with pytest.raises(SettingsError, match="no `settings` object"):
        Settings.from_terraform_outputs({"landing_bucket": {"value": "l"}})


def test_the_database_url_the_root_does_not_create_is_passed_in() -> None:
    assert Settings.from_terraform_outputs(OUTPUTS).database_url is None
    assert Settings.from_terraform_outputs(OUTPUTS, "postgresql://h/db").database_url == "postgresql://h/db"


@pytest.mark.parametrize(
    "name",
    [
        "",
        "trustpipe/search/url",
        "/trustpipe dev/url",
        "/trustpipe/url\n",
        "/" + "a" * 1011,
        "arn:aws:ssm:x",
        7,
    ],
)
def test_a_search_url_parameter_that_is_no_parameter_name_is_refused_at_load(name: object) -> None:
    # GIVEN settings whose search_url_parameter SSM could never know (a URL or ARN put there, a typo)
    # WHEN they are loaded THEN they are refused with the rule, before any client asks for it
    with pytest.raises(SettingsError, match=r"search_url_parameter .* is not an SSM parameter name"):
        Settings.from_dict({**SETTINGS, "search_url_parameter": name})
    longest = "/" + "a" * 1010
    for good in ("/trustpipe/trustpipe-dev/search/url", longest):
        assert Settings.from_dict({**SETTINGS, "search_url_parameter": good}).search_url_parameter == good


def test_settings_file_absent_or_malformed(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"settings file .*none.json does not exist"):
        Settings.load(tmp_path / "none.json")
    (tmp_path / "bad.json").write_text("{not json")
    with pytest.raises(SettingsError, match="not valid JSON"):
        Settings.load(tmp_path / "bad.json")
    (tmp_path / "list.json").write_text(json.dumps([1]))
    with pytest.raises(SettingsError, match="must hold a JSON object"):
        Settings.load(tmp_path / "list.json")


def test_report_reconciles_when_each_stage_accounts_for_what_it_set_aside() -> None:
    report = StageReport()
    report.stage("generated", 100)
    report.stage("landed", 90, set_aside=10, reasons=["k: truncated"])
    assert report.reconciled
    assert report.as_dict()["set_aside"] == {"landed": 10}


def test_report_flags_a_lost_record() -> None:
    report = StageReport()
    report.stage("generated", 100)
    report.stage("landed", 99)
    assert not report.reconciled
    assert report.mismatches() == ["landed: 99 records, expected 100 (generated 100 - set aside 0)"]


def test_empty_report_is_not_reconciled() -> None:
    assert not StageReport().reconciled


@pytest.mark.parametrize("url", ["http://cache:6379", "cache:6379", "memcached://cache", 6379])
def test_a_redis_url_of_another_scheme_is_refused(url: object) -> None:
    with pytest.raises(SettingsError, match="redis_url must start with redis:// or rediss://"):
        Settings.from_dict({**SETTINGS, "redis_url": url})
    # and both of Redis's schemes are taken
    for good in ("redis://127.0.0.1:6379/0", "rediss://master.tp.cache.amazonaws.com:6379"):
        assert Settings.from_dict({**SETTINGS, "redis_url": good}).redis_url == good
