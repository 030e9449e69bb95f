"""The stream stages' Lambda form as Terraform declares it, held to the code: one function per
stream worker with the handler the zip builder names, the mapping's partial-batch and failure
settings, and each alarm's runbook."""

from __future__ import annotations

from typing import Any

import hcl2

from tests.harness.paths import ROOT
from trustpipe.workers import STREAM_WORKERS
from trustpipe_deploy import stage_lambdas

MODULE = ROOT / "infra" / "modules" / "stream_lambda"


def hcl(path: str) -> dict[str, Any]:
    with (ROOT / path).open() as f:
        return hcl2.load(f)  # type: ignore[no-any-return]


def unquote(value: str) -> str:
    return value.strip('"')


def resource(doc: dict[str, Any], kind: str) -> dict[str, Any]:
    block = next(r for r in doc["resource"] if f'"{kind}"' in r)[f'"{kind}"']
    return next(iter(block.values()))  # type: ignore[no-any-return]


def test_every_stream_worker_has_a_stage_with_the_handler_its_zip_carries() -> None:
    stages = next(loc["stages"] for loc in hcl("infra/modules/pipeline/main.tf")["locals"] if "stages" in loc)
    declared = {unquote(k): unquote(v["handler"]) for k, v in stages.items()}
    assert declared == {w.name: stage_lambdas.handler_of(w) for w in STREAM_WORKERS}
    streams = {unquote(k): unquote(v["stream"]) for k, v in stages.items()}
    assert {w.name: f"{streams[w.name]}_stream_name" for w in STREAM_WORKERS} == {
        w.name: w.stream for w in STREAM_WORKERS
    }


def test_the_mapping_reports_partial_failures_bisects_and_keeps_what_it_discards() -> None:
    esm = resource(hcl("infra/modules/stream_lambda/main.tf"), "aws_lambda_event_source_mapping")
    assert [unquote(t) for t in esm["function_response_types"]] == ["ReportBatchItemFailures"]
    for setting in (
        "batch_size",
        "maximum_batching_window_in_seconds",
        "parallelization_factor",
        "bisect_batch_on_function_error",
        "maximum_retry_attempts",
        "maximum_record_age_in_seconds",
    ):
        assert esm[setting].startswith("${var."), setting
    assert esm["destination_config"][0]["on_failure"][0]["destination_arn"] == "${var.on_failure_bucket_arn}"
    function = resource(hcl("infra/modules/stream_lambda/main.tf"), "aws_lambda_function")
    assert function["reserved_concurrent_executions"] == "${var.reserved_concurrency}"
    runtime = next(
        v for v in hcl("infra/modules/stream_lambda/variables.tf")["variable"] if '"lambda_runtime"' in v
    )
    assert unquote(runtime['"lambda_runtime"']["default"]) == stage_lambdas.STAGE_RUNTIME


def test_each_alarm_pages_with_a_runbook_that_exists() -> None:
    alarms = next(
        loc["alarms"] for loc in hcl("infra/modules/stream_lambda/main.tf")["locals"] if "alarms" in loc
    )
    metrics = {unquote(a["metric"]) for a in alarms.values()}
    assert metrics == {"IteratorAge", "Errors", "Throttles", "OnFailureDestinationDeliveredEventCount"}
    for name, alarm in alarms.items():
        runbook = ROOT / "docs" / "runbooks" / f"{unquote(alarm['runbook'])}.md"
        assert runbook.is_file(), name
