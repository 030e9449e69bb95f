"""The stream stages' Lambda form as Terraform declares it, held to the code: one function per
stage (``LAMBDA_STAGES``: the stream workers and the indexer) with the handler the zip builder
names, handlers that import no KCL, the mapping's partial-batch and failure settings, and each
alarm's runbook."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import hcl2
import pytest

from tests.harness.paths import ROOT
from trustpipe.workers import INDEXER, LAMBDA_STAGES
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


def test_every_lambda_stage_has_a_stage_with_the_handler_its_zip_carries() -> None:
    stages = next(loc["stages"] for loc in hcl("infra/modules/pipeline/main.tf")["locals"] if "stages" in loc)
    declared = {unquote(k): unquote(v["handler"]) for k, v in stages.items()}
    assert declared == {w.name: stage_lambdas.handler_of(w) for w in LAMBDA_STAGES}
    assert declared["indexer"] == "trustpipe_search.lambda_handler.handler"
    streams = {unquote(k): unquote(v["stream"]) for k, v in stages.items()}
    assert {w.name: f"{streams[w.name]}_stream_name" for w in LAMBDA_STAGES} == {
        w.name: w.stream for w in LAMBDA_STAGES
    }


def test_every_stage_switch_lists_the_same_stages() -> None:
    # the pipeline's, the workers module's and the function module's validations, and the code's
    names = {w.name for w in LAMBDA_STAGES}
    for path in ("pipeline", "workers", "stream_lambda"):
        text = (ROOT / "infra" / "modules" / path / "variables.tf").read_text()
        listed = next(line for line in text.splitlines() if "condition" in line and '"scorer"' in line)
        quoted = {q for q in listed.split('"')[1::2] if q not in ("asg", "lambda")}
        assert quoted == names, path


def test_every_stage_handler_imports_without_the_kcl() -> None:
    # GIVEN an interpreter where the KCL cannot be imported (a stage's zip does not carry it)
    handlers = [stage_lambdas.handler_of(w).rsplit(".", 1)[0] for w in LAMBDA_STAGES]
    code = "import importlib, sys\nsys.modules['amazon_kclpy'] = None\n" + "".join(
        f"importlib.import_module({m!r})\n" for m in handlers
    )
    # WHEN every stage's handler module is imported THEN none reaches for it
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_the_indexers_zip_carries_its_search_client_and_the_others_do_not() -> None:
    assert {"opensearch-py", "requests", "urllib3"} <= set(stage_lambdas.deps_of(INDEXER))
    assert all("opensearch-py" not in stage_lambdas.deps_of(w) for w in LAMBDA_STAGES if w != INDEXER)


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


def test_the_review_app_is_listed_with_the_handler_and_zip_its_terraform_deploys() -> None:
    # GIVEN the review app's entry (built by `make lambda` once services/trustpipe_review exists)
    review = stage_lambdas.REVIEW
    assert stage_lambdas.APPS == (stage_lambdas.REVIEW,)
    variables = {k: v for b in hcl("infra/modules/review/variables.tf")["variable"] for k, v in b.items()}
    # THEN the module's handler is the app's, and its runtime the stages'
    assert (
        unquote(variables['"handler"']["default"])
        == review.handler
        == "trustpipe_review.lambda_handler.handler"
    )
    assert unquote(variables['"lambda_runtime"']["default"]) == stage_lambdas.STAGE_RUNTIME
    call = next(b['"review"'] for b in hcl("infra/modules/pipeline/main.tf")["module"] if '"review"' in b)
    assert "handler" not in call
    # and the cloud roots deploy the zip the builder writes
    for env in ("dev", "prod"):
        roots = {k: v for b in hcl(f"infra/envs/{env}/variables.tf")["variable"] for k, v in b.items()}
        assert unquote(roots['"review_lambda_zip"']["default"]).endswith(f"/build/{review.name}-lambda.zip")
    # and every package it is made of exists but the app's own
    assert set(stage_lambdas.missing_packages(review)) <= {"trustpipe_review"}
    assert {"opensearch-py", "pydantic", "psycopg"} <= set(review.deps)


def test_an_app_whose_dependency_the_lock_does_not_pin_is_refused(tmp_path: Path) -> None:
    # GIVEN an app that names a dependency the lock's runtime set lacks (pytest: a dev dependency)
    app = stage_lambdas.App(name="x", packages=("trustpipe_frontdoor",), deps=("avro", "pytest"))
    # WHEN it is built THEN the build stops naming it, before anything is written
    with pytest.raises(stage_lambdas.UnlockedDependencyError, match="x: pytest not among"):
        stage_lambdas.build_app(app, tmp_path)
    assert list(tmp_path.iterdir()) == []
