"""A stream stage's Lambda zip, as `make lambda` builds it, run under AWS's runtime interface
client (``awslambdaric``) against the local Runtime API server, with nothing on its path but the
zip and what Lambda's runtime brings (boto3, the runtime client)."""

from __future__ import annotations

import platform
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.harness.kinesis_events import recorded
from trustpipe.workers import INDEXER, LAMBDA_STAGES, SCORER
from trustpipe_deploy import stage_lambdas
from trustpipe_emulation.lambda_runtime import LocalFunction

pytestmark = pytest.mark.integration
LOCAL_PYTHON = f"{sys.version_info.major}.{sys.version_info.minor}"


@pytest.fixture(scope="module")
def scorer_zip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # The stages' runtime is python3.12; the zip is built by the same code for this interpreter's
    # Python, so that it runs here (its wheels are the only difference).
    assert platform.machine() == "x86_64"
    out = tmp_path_factory.mktemp("zips")
    return stage_lambdas.build(SCORER, out, python=LOCAL_PYTHON, compresslevel=1)


@pytest.fixture
def scorer(scorer_zip: Path, tmp_path: Path) -> Iterator[LocalFunction]:
    function = LocalFunction(
        scorer_zip,
        stage_lambdas.handler_of(SCORER),
        {"TRUSTPIPE_SETTINGS": str(tmp_path / "absent.json")},
        timeout_seconds=30,
        name="scorer",
        log_path=tmp_path / "function.log",
    )
    yield function
    function.close()


def test_the_zip_holds_its_handler_the_core_and_its_dependencies_but_no_kcl_or_sdk(scorer_zip: Path) -> None:
    names = zipfile.ZipFile(scorer_zip).namelist()
    tops = {n.split("/")[0] for n in names}
    assert "trustpipe_scorer/lambda_handler.py" in names
    assert "trustpipe/_schemas/scored_message.avsc" in names
    assert {"trustpipe", "trustpipe_stream", "fastavro", "rapidfuzz", "aws_lambda_powertools"} <= tops
    assert not tops & {"amazon_kclpy", "boto3", "botocore", "trustpipe_importer", "trustpipe_alerter"}


def test_the_zip_runs_under_awslambdaric_and_answers_through_the_runtime_api(scorer: LocalFunction) -> None:
    # GIVEN the built zip under the runtime interface client
    # WHEN it is invoked with an event that is no Kinesis batch
    refused = scorer.invoke({"Records": "x"})
    # THEN the handler's one reason comes back as the function's error
    assert refused.error is not None and refused.error["errorType"] == "ValueError"
    assert "not a Kinesis event" in refused.error["errorMessage"]
    # WHEN it is invoked with Lambda's recorded Kinesis event while its settings are missing
    unset = scorer.invoke(recorded())
    # THEN the worker is never built and the error names the settings (the batch goes back whole)
    assert unset.error is not None and unset.error["errorType"] == "SettingsError"
    assert "absent.json" in unset.error["errorMessage"]


def test_the_indexers_zip_carries_its_search_client_and_its_handler_starts_without_the_kcl(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    # GIVEN the indexer's zip (its package and opensearch-py beside the stages' common set)
    indexer_zip = stage_lambdas.build(
        INDEXER, tmp_path_factory.mktemp("zips"), python=LOCAL_PYTHON, compresslevel=1
    )
    tops = {n.split("/")[0] for n in zipfile.ZipFile(indexer_zip).namelist()}
    assert {
        "trustpipe_search",
        "trustpipe_stream",
        "opensearchpy",
        "requests",
        "aws_lambda_powertools",
    } <= tops
    assert not tops & {"amazon_kclpy", "boto3", "botocore", "trustpipe_scorer", "trustpipe_importer"}
    function = LocalFunction(
        indexer_zip,
        stage_lambdas.handler_of(INDEXER),
        {"TRUSTPIPE_SETTINGS": str(tmp_path / "absent.json")},
        timeout_seconds=30,
        name="indexer",
        log_path=tmp_path / "function.log",
    )
    try:
        # WHEN it is invoked with Lambda's recorded event while its settings are missing
        unset = function.invoke(recorded())
    finally:
        function.close()
    # THEN its handler module imported (no KCL, no missing wheel) and the error names the settings
    assert unset.error is not None and unset.error["errorType"] == "SettingsError", unset.error
    assert "absent.json" in unset.error["errorMessage"]


def test_every_stage_has_a_handler_module_the_builder_points_at() -> None:
    root = Path(stage_lambdas.__file__).resolve().parents[1]
    for w in LAMBDA_STAGES:
        module = stage_lambdas.handler_of(w).rsplit(".", 1)[0]
        assert (root / (module.replace(".", "/") + ".py")).is_file(), w.name


def test_the_review_apps_zip_is_built_from_its_packages_and_runs_its_handler(
    tmp_path_factory: pytest.TempPathFactory, tmp_path: Path
) -> None:
    # GIVEN the review API (stage_lambdas.REVIEW: its package, the search store's queries, the
    # alerter's channel and the stream batch code its worker module imports)
    app = stage_lambdas.REVIEW
    assert stage_lambdas.missing_packages(app) == []
    # WHEN the app builder builds it
    app_zip = stage_lambdas.build_app(
        app, tmp_path_factory.mktemp("zips"), python=LOCAL_PYTHON, compresslevel=1
    )
    # THEN the zip is named for the app and holds the core, its schemas, each of its packages
    # and the review page's files
    assert app_zip.name == "review-lambda.zip"
    names = zipfile.ZipFile(app_zip).namelist()
    assert "trustpipe_review/lambda_handler.py" in names and "trustpipe/_schemas/action.avsc" in names
    assert {"trustpipe_review/page/index.html", "trustpipe_review/page/page.js"} <= set(names)
    tops = {n.split("/")[0] for n in names}
    assert {
        "trustpipe",
        "trustpipe_review",
        "trustpipe_search",
        "trustpipe_alerter",
        "jwt",
        "pydantic",
    } <= tops
    assert not tops & {"boto3", "botocore", "trustpipe_scorer", "trustpipe_importer", "amazon_kclpy"}
    function = LocalFunction(
        app_zip,
        app.handler,
        {"TRUSTPIPE_SETTINGS": str(tmp_path / "absent.json")},
        timeout_seconds=30,
        name="review",
        log_path=tmp_path / "function.log",
    )
    try:
        # WHEN its handler is invoked while its settings are missing
        unset = function.invoke(recorded())
    finally:
        function.close()
    # THEN the handler the app names imported from the zip alone, and the error names the settings
    assert unset.error is not None and unset.error["errorType"] == "SettingsError", unset.error
