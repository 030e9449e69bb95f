"""The pure parts the DAG tasks run: configuration, the landing decision, checks, EMR payloads."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

import pytest

from tests.harness.orchestration import SETTINGS
from trustpipe import layout
from trustpipe_orchestration import checks, emr
from trustpipe_orchestration.config import ConfigError, EmrConfig, PipelineConfig, QualityBands
from trustpipe_orchestration.landing_wait import expected_keys, landing_state

HOUR = layout.parse_hour("2026-11-20T10")
EMR = {"code_uri": "s3://code/trustpipe/", "log_uri": "s3://logs/emr/"}


# -- configuration ---------------------------------------------------------------------------


def test_config_defaults_to_local_spark() -> None:
    config = PipelineConfig.from_dicts(SETTINGS, {})
    assert config.mode == "local" and config.emr is None
    assert config.enterprises == ("acme", "globex", "initech")
    assert config.runbook("x").endswith("/docs/runbooks/x.md")
    assert config.store_retention_days == 90
    assert PipelineConfig.from_dicts(SETTINGS, {"store_retention_days": 30}).store_retention_days == 30
    assert config.late_lookback_hours == 24
    assert PipelineConfig.from_dicts(SETTINGS, {"late_lookback_hours": 0}).late_lookback_hours == 0
    assert config.model_role_arn is None
    role = "arn:aws:iam::123456789012:role/trustpipe-dev-airflow-models"
    assert PipelineConfig.from_dicts(SETTINGS, {"model_role_arn": role}).model_role_arn == role


def test_config_emr_mode_reads_the_cluster_settings() -> None:
    config = PipelineConfig.from_dicts(SETTINGS, {"mode": "emr", "emr": {**EMR, "subnet_ids": ["a", "b"]}})
    assert config.emr == EmrConfig(code_uri=EMR["code_uri"], log_uri=EMR["log_uri"], subnet_ids=("a", "b"))


@pytest.mark.parametrize(
    ("settings", "pipeline", "message"),
    [
        (SETTINGS, {"mode": "k8s"}, "mode must be 'local' or 'emr'"),
        (SETTINGS, {"mode": "emr"}, "needs an 'emr' object"),
        (SETTINGS, {"quiet_minuts": 5}, "unknown keys: quiet_minuts"),
        (SETTINGS, {"quality": {"volume_hi": 3}}, "quality config has unknown keys: volume_hi"),
        (SETTINGS, {"mode": "emr", "emr": {"code_uri": "s3://x"}}, "emr config lacks log_uri"),
        ({**SETTINGS, "oncall_topic_arn": None}, {}, "no oncall_topic_arn"),
        ({"region": "us-east-1"}, {}, "settings lack"),
        (SETTINGS, ["local"], "must be JSON objects"),
        (SETTINGS, {"store_retention_days": 0}, "store_retention_days must be a whole number >= 1"),
        (SETTINGS, {"store_retention_days": -90}, "store_retention_days must be a whole number >= 1"),
        (SETTINGS, {"store_retention_days": "90"}, "store_retention_days must be a whole number >= 1"),
        (SETTINGS, {"store_retention_days": 1.5}, "store_retention_days must be a whole number >= 1"),
        (SETTINGS, {"store_retention_days": True}, "store_retention_days must be a whole number >= 1"),
        (SETTINGS, {"late_lookback_hours": -1}, "late_lookback_hours must be a whole number between 0 and"),
        (SETTINGS, {"late_lookback_hours": 169}, "late_lookback_hours must be a whole number between 0 and"),
        (SETTINGS, {"late_lookback_hours": "24"}, "late_lookback_hours must be a whole number between 0 and"),
        (SETTINGS, {"model_role_arn": "trustpipe-dev-airflow-models"}, "model_role_arn must be a role ARN"),
        (SETTINGS, {"model_role_arn": ["arn:aws:iam::1:role/x"]}, "model_role_arn must be a role ARN"),
    ],
)
def test_config_errors_are_clear(settings: Any, pipeline: Any, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        PipelineConfig.from_dicts(settings, pipeline)


def test_config_from_variables_names_the_missing_variable() -> None:
    def get(name: str) -> Any:
        raise KeyError(name)

    with pytest.raises(ConfigError, match="trustpipe_settings is not set"):
        PipelineConfig.from_variables(get)


# -- the landing wait ------------------------------------------------------------------------

EXPECTED = expected_keys(["acme", "globex"], HOUR)
QUIET = timedelta(minutes=20)


def _objects(keys: set[str], at: datetime) -> dict[str, datetime]:
    return dict.fromkeys(keys, at)


def test_expected_keys_are_four_quarters_per_enterprise() -> None:
    assert len(EXPECTED) == 8
    assert layout.landing_key("globex", HOUR + timedelta(minutes=45)) in EXPECTED


def test_all_drops_present_is_complete_even_before_the_hour_closes() -> None:
    state = landing_state(_objects(EXPECTED, HOUR), EXPECTED, HOUR, HOUR + timedelta(minutes=50), QUIET)
    assert state.complete and state.missing == () and "all 8" in state.reason


def test_missing_drop_waits_while_the_hour_is_recent() -> None:
    present = set(sorted(EXPECTED)[1:])
    now = HOUR + timedelta(minutes=70)
    state = landing_state(_objects(present, HOUR + timedelta(minutes=65)), EXPECTED, HOUR, now, QUIET)
    assert not state.complete and len(state.missing) == 1


def test_missing_drop_proceeds_once_quiet_after_the_close() -> None:
    present = set(sorted(EXPECTED)[1:])
    last = HOUR + timedelta(minutes=61)
    state = landing_state(_objects(present, last), EXPECTED, HOUR, last + QUIET, QUIET)
    assert state.complete and len(state.missing) == 1 and "proceeding without them" in state.reason


def test_quiet_counts_from_the_close_not_from_an_early_last_object() -> None:
    # GIVEN the last object landed at :10 and the hour closed at :60
    state = landing_state(
        _objects({sorted(EXPECTED)[0]}, HOUR + timedelta(minutes=10)),
        EXPECTED,
        HOUR,
        HOUR + timedelta(minutes=70),
        QUIET,
    )
    # THEN ten minutes after the close is not yet quiet
    assert not state.complete


# -- manifest verification -------------------------------------------------------------------


def manifest(**over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "hour": "2026-11-20T10",
        "model_version": "m1",
        "records_in": 30,
        "records_out": 30,
        "inputs": [{"key": "k1", "records": 10}, {"key": "k2", "records": 20}],
        "set_aside": [{"key": "bad", "enterprise_id": "acme", "reason": "x", "records_readable": 0}],
        "files": [
            {"key": "scored/p0", "records": 30, "kind": "scored_messages"},
            {"key": "scored/stats", "records": 2, "kind": "scoring_stats"},
        ],
        "stats": [
            {"enterprise_id": "acme", "messages": 12, "quarantined": 1, "labelled": 2, "passed": 9},
            {"enterprise_id": "globex", "messages": 18, "quarantined": 0, "labelled": 3, "passed": 15},
        ],
    }
    return {**base, **over}


def test_verified_manifest_summarises_the_hour() -> None:
    summary = checks.verify_manifest(manifest(), ["k1", "k2"])
    assert summary == {
        "hour": "2026-11-20T10",
        "records": 30,
        "files": ["scored/p0", "scored/stats"],
        "set_aside": 1,
        "records_set_aside": 0,
        "model_version": "m1",
        "records_in": 30,
        "verdicts": {
            "acme": {"QUARANTINE": 1, "LABEL": 2, "PASS_THROUGH": 9},
            "globex": {"QUARANTINE": 0, "LABEL": 3, "PASS_THROUGH": 15},
        },
    }


def test_records_set_aside_one_by_one_are_accounted_for() -> None:
    # GIVEN an hour where one record of k1 was set aside alone (it claimed another enterprise)
    one_aside = [{"key": "k1", "enterprise_id": "acme", "reason": "EnterpriseMismatchError: x", "records": 1}]
    scored = manifest()["files"][0] | {"records": 29}
    stats = [manifest()["stats"][0] | {"messages": 11}, manifest()["stats"][1]]
    over = {"records_out": 29, "rejected": one_aside, "files": [scored], "stats": stats}
    # WHEN it is verified THEN in = out + set aside holds
    summary = checks.verify_manifest(manifest(**over), ["k1", "k2"])
    assert summary["records"] == 29 and summary["records_set_aside"] == 1


@pytest.mark.parametrize(
    ("over", "landed", "message"),
    [
        (
            {"records_out": 29},
            ["k1", "k2"],
            "counts disagree: records in 30, inputs' records 30, records out and set aside 29",
        ),
        ({"stats": [{"messages": 12}]}, ["k1", "k2"], "messages in stats and set aside 12"),
        (
            {"records_out": 29, "rejected": [{"key": "k1", "enterprise_id": "acme", "records": 2}]},
            ["k1", "k2"],
            "records out and set aside 31",
        ),
        ({}, ["k1", "k2", "late"], r"1 landed objects neither scored nor set aside: \['late'\]"),
    ],
)
def test_manifest_that_loses_records_fails_with_the_counts(
    over: dict[str, Any], landed: list[str], message: str
) -> None:
    with pytest.raises(checks.VerificationError, match=message):
        checks.verify_manifest(manifest(**over), landed)


# -- the data-quality gate -------------------------------------------------------------------

BANDS = QualityBands(min_history_hours=6)


def history(enterprise: str, volumes: list[int], rate: float = 0.04) -> list[checks.HourStats]:
    start = HOUR - timedelta(hours=len(volumes))
    return [
        checks.HourStats(enterprise, layout.format_hour(start + timedelta(hours=n)), v, round(v * rate))
        for n, v in enumerate(volumes)
    ]


TRAILING = history("acme", [1000, 1200, 900, 1100, 1000, 950, 1050, 1010])
LABEL = layout.format_hour(HOUR)


def test_normal_hour_passes() -> None:
    result = checks.quality_gate(LABEL, [*TRAILING, checks.HourStats("acme", LABEL, 980, 40)], BANDS)
    assert result.breaches == () and result.notes == ()


@pytest.mark.parametrize(
    ("messages", "quarantined", "breach"),
    [
        (300, 12, "acme: 300 messages, outside [450, 2,400] (trailing 8 hours: 900 to 1,200)"),
        (5000, 200, "acme: 5,000 messages, outside [450, 2,400]"),
        (1000, 300, "acme: quarantine rate 30.0%, outside [0.0%, 9.0%]"),
    ],
)
def test_skewed_hour_breaches_with_a_clear_message(messages: int, quarantined: int, breach: str) -> None:
    current = checks.HourStats("acme", LABEL, messages, quarantined)
    result = checks.quality_gate(LABEL, [*TRAILING, current], BANDS)
    assert len(result.breaches) == 1 and result.breaches[0].startswith(breach)


def test_silent_enterprise_breaches() -> None:
    # GIVEN acme has history but sent nothing this hour
    result = checks.quality_gate(LABEL, TRAILING, BANDS, expected=["acme"])
    assert result.breaches == ("acme: 0 messages, outside [450, 2,400] (trailing 8 hours: 900 to 1,200)",)


def test_short_history_is_noted_not_judged() -> None:
    rows = [*history("globex", [10, 10]), checks.HourStats("globex", LABEL, 99999, 99999)]
    result = checks.quality_gate(LABEL, rows, BANDS)
    assert result.breaches == () and result.notes == ("globex: 2 trailing hours, the gate needs 6",)


def test_trailing_window_covers_seven_days() -> None:
    assert checks.trailing_window(HOUR, QualityBands()) == ("2026-11-13T10", "2026-11-20T10")


# -- EMR payloads ----------------------------------------------------------------------------


def test_cluster_spec_has_spot_core_auto_termination_and_bootstrap() -> None:
    spec = emr.cluster_spec(EmrConfig(**EMR, subnet_ids=("subnet-1",)), "c", {"trustpipe:hour": "h"})
    groups = {g["InstanceRole"]: g for g in spec["Instances"]["InstanceGroups"]}
    assert groups["MASTER"]["Market"] == "ON_DEMAND" and groups["CORE"]["Market"] == "SPOT"
    assert spec["AutoTerminationPolicy"] == {"IdleTimeout": 1800}
    assert spec["Instances"]["Ec2SubnetIds"] == ["subnet-1"]
    assert spec["BootstrapActions"][0]["ScriptBootstrapAction"]["Path"] == "s3://code/trustpipe/bootstrap.sh"
    assert spec["Tags"] == [{"Key": "trustpipe:hour", "Value": "h"}]
    json.dumps(spec)  # an XCom value: plain JSON


def test_the_clusters_own_group_joins_emrs_managed_ones_on_every_node() -> None:
    # GIVEN the emr configuration the dev root writes (its clusters' group, which the counters'
    # cache admits), as the Variable holds it
    config = PipelineConfig.from_dicts(
        SETTINGS, {"mode": "emr", "emr": {**EMR, "additional_security_group_ids": ["sg-emr"]}}
    )
    assert config.emr is not None
    # WHEN the DAG builds the cluster THEN primary and core nodes carry it beside EMR's groups
    instances = emr.cluster_spec(config.emr, "c", {})["Instances"]
    assert (
        instances["AdditionalMasterSecurityGroups"]
        == instances["AdditionalSlaveSecurityGroups"]
        == ["sg-emr"]
    )
    # and without one, EMR's managed groups alone
    assert "AdditionalMasterSecurityGroups" not in emr.cluster_spec(EmrConfig(**EMR), "c", {})["Instances"]


def test_score_step_runs_the_same_entry_point_on_s3() -> None:
    (step,) = emr.score_steps(EmrConfig(**EMR), "scored-bucket", HOUR)
    args = step["HadoopJarStep"]["Args"]
    assert args[:2] == ["spark-submit", "--deploy-mode"]
    assert "s3://code/trustpipe/jobs/score_messages.py" in args
    assert args[args.index("--hour") + 1] == "2026-11-20T10"
    assert args[args.index("--work-uri") + 1] == "s3://scored-bucket/_work"
    assert step["ActionOnFailure"] == "CONTINUE"


def test_emr_entry_point_and_bootstrap_exist() -> None:
    from tests.harness.paths import ROOT

    assert "from spark_jobs.runner import main" in (ROOT / "spark_jobs/emr/score_messages.py").read_text()
    assert (ROOT / "spark_jobs/emr/bootstrap.sh").stat().st_mode & 0o111


def test_a_candidate_that_failed_the_gate_is_not_promoted_and_the_task_fails() -> None:
    from trustpipe.model.artifact import ModelNotPromotedError
    from trustpipe_orchestration.tasks import promote_model

    candidate = {"version": "v2", "promoted": False, "reason": "holdout AUC 0.90 vs current v1 0.93"}
    with pytest.raises(
        ModelNotPromotedError, match=r"candidate v2 not promoted: holdout AUC 0\.90 vs current v1 0\.93"
    ):
        promote_model(candidate, "model_build_nightly")


def test_the_nightly_builds_writes_go_through_the_models_role_the_pipeline_names() -> None:
    from moto import mock_aws

    from trustpipe_orchestration.tasks import _models

    role = "arn:aws:iam::123456789012:role/trustpipe-dev-airflow-models"
    with mock_aws():
        # GIVEN the pipeline Variable as the apply writes it, and as the local stack does
        on_aws = PipelineConfig.from_dicts(SETTINGS, {"model_role_arn": role})
        local = PipelineConfig.from_dicts(SETTINGS, {})
        # WHEN the nightly build's writing clients are made
        writer = _models(on_aws, "model_build_nightly").client("sts").get_caller_identity()["Arn"]
        own = _models(local, "model_build_nightly").client("sts").get_caller_identity()["Arn"]
    # THEN on AWS they act as the models role, in a session named for the DAG; locally as the host
    assert writer.endswith(":assumed-role/trustpipe-dev-airflow-models/model_build_nightly")
    assert ":assumed-role/" not in own
