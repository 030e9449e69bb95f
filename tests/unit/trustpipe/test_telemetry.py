"""The workers' metrics: EMF documents with the names the monitoring module alarms on."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

import pytest

from trustpipe import metrics, telemetry


def test_a_batch_is_one_emf_line_with_service_processed_errors_lag_and_a_heartbeat(tmp_path: Path) -> None:
    path = tmp_path / "scorer-metrics.log"
    worker = telemetry.WorkerMetrics("scorer", path)
    worker.batch(processed=98, errors=2, lag_seconds=1.5)
    worker.batch(processed=50, errors=0)
    docs = [json.loads(line) for line in path.read_text().splitlines()]
    assert len(docs) == 2
    (directive,) = docs[0]["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == metrics.WORKERS == "trustpipe/workers"
    assert directive["Dimensions"] == [["Service"]]
    assert {m["Name"] for m in directive["Metrics"]} == {"Processed", "Errors", "Heartbeat", "LagSeconds"}
    assert {m["Name"]: m["Unit"] for m in directive["Metrics"]}["LagSeconds"] == "Seconds"
    assert (docs[0]["Service"], docs[0]["Processed"], docs[0]["Errors"]) == ("scorer", [98.0], [2.0])
    assert docs[0]["LagSeconds"] == [1.5] and "LagSeconds" not in docs[1]
    health = telemetry.totals([path])
    assert health["metrics"]["Processed"] == 148.0 and health["metrics"]["Errors"] == 2.0
    assert health["metrics"]["Heartbeat"] == 2.0 and health["last_batch_ms"]


def test_an_idle_worker_beats_every_30_seconds_and_no_more(tmp_path: Path) -> None:
    now = [1000.0]
    path = tmp_path / "importer-metrics.log"
    worker = telemetry.WorkerMetrics("importer", path, clock=lambda: now[0])
    beats = []
    for _ in range(13):  # a poll every 5 s for 60 s
        beats.append(worker.alive() is not None)
        now[0] += 5
    assert beats == [True] + [False] * 5 + [True] + [False] * 5 + [True]
    # and a batch is a heartbeat too: the next idle one waits 30 s from it
    worker.batch(processed=1, errors=0)
    now[0] += 29
    assert worker.alive() is None
    now[0] += 1
    assert worker.alive() is not None
    docs = [json.loads(line) for line in path.read_text().splitlines()]
    assert [d.get("Heartbeat") for d in docs] == [[1.0]] * 5
    assert all(d["_aws"]["CloudWatchMetrics"][0]["Dimensions"] == [["Service"]] for d in docs)


def test_a_datum_takes_exactly_the_dimensions_its_metric_names() -> None:
    datum = metrics.datum(metrics.VERDICTS, 7, Dag="d", Enterprise="acme", Verdict="LABEL")
    assert datum["MetricName"] == "Verdicts" and datum["Value"] == 7.0 and datum["Unit"] == "Count"
    assert datum["Dimensions"] == [
        {"Name": "Dag", "Value": "d"},
        {"Name": "Enterprise", "Value": "acme"},
        {"Name": "Verdict", "Value": "LABEL"},
    ]
    with pytest.raises(ValueError, match=r"Verdicts takes dimensions \('Dag', 'Enterprise', 'Verdict'\)"):
        metrics.datum(metrics.VERDICTS, 7, Dag="d", Enterprise="acme")
    with pytest.raises(ValueError, match="RecordsIn takes dimensions"):
        metrics.datum(metrics.RECORDS_IN, 7, Service="importer")


def test_the_catalog_names_each_metric_once_in_the_scheme() -> None:
    keys = [(m.namespace, m.name) for m in metrics.ALL]
    assert len(keys) == len(set(keys))
    for m in metrics.ALL:
        assert m.namespace in (metrics.WORKERS, metrics.PIPELINE, metrics.REGISTRY)
        assert m.dimensions[0] == ("Dag" if m.namespace == metrics.PIPELINE else "Service")


def test_logs_are_json_lines_for_every_trustpipe_logger() -> None:
    logging.getLogger("trustpipe.scorer")
    out = io.StringIO()
    telemetry.configure_logging("scorer", out)
    logging.getLogger("trustpipe.scorer").info("scored %d", 5)
    line = json.loads(out.getvalue().splitlines()[-1])
    assert line["message"] == "scored 5" and line["service"] == "scorer" and line["level"] == "INFO"
