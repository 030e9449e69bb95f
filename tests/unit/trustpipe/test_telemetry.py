"""The workers' metrics: EMF documents with the names the monitoring module alarms on."""

from __future__ import annotations

import io
import json
import logging
import re
from pathlib import Path

from trustpipe import telemetry

MONITORING = Path(__file__).parents[3] / "infra" / "modules" / "monitoring"


def test_a_batch_is_one_emf_line_with_service_processed_and_errors(tmp_path: Path) -> None:
    path = tmp_path / "scorer-metrics.log"
    metrics = telemetry.WorkerMetrics("scorer", path)
    metrics.batch(processed=98, errors=2)
    metrics.batch(processed=50, errors=0)
    docs = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(docs) == 2
    (directive,) = docs[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "trustpipe/workers"
    assert directive["Dimensions"] == [["Service"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"Processed", "Errors"}
    assert (docs[0]["Service"], docs[0]["Processed"], docs[0]["Errors"]) == ("scorer", [98.0], [2.0])
    health = telemetry.totals([path])
    assert health["metrics"] == {"Processed": 148.0, "Errors": 2.0} and health["last_batch_ms"]


def test_the_alarms_and_dashboard_name_what_the_workers_emit() -> None:
    text = (MONITORING / "main.tf").read_text()
    alarm = text[text.index('resource "aws_cloudwatch_metric_alarm" "worker_errors"') :]
    alarm = alarm[: alarm.index("\nresource ")]
    assert set(re.findall(r'namespace\s*=\s*"([^"]+)"', alarm)) == {telemetry.NAMESPACE}
    assert set(re.findall(r'metric_name\s*=\s*"([^"]+)"', alarm)) == {telemetry.PROCESSED, telemetry.ERRORS}
    assert "dimensions  = { Service = each.value }" in alarm and telemetry.SERVICE_DIMENSION == "Service"
    variables = (MONITORING / "variables.tf").read_text()
    services = re.search(r'variable "worker_services".*?default\s*=\s*\[([^\]]*)\]', variables, re.S)
    assert services and set(re.findall(r'"(\w+)"', services.group(1))) == set(telemetry.SERVICES)


def test_logs_are_json_lines_for_every_trustpipe_logger() -> None:
    logging.getLogger("trustpipe.scorer")
    out = io.StringIO()
    telemetry.configure_logging("scorer", out)
    logging.getLogger("trustpipe.scorer").info("scored %d", 5)
    line = json.loads(out.getvalue().splitlines()[-1])
    assert line["message"] == "scored 5" and line["service"] == "scorer" and line["level"] == "INFO"
