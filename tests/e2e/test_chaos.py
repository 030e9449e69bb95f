"""`trustpipe chaos` at the size CI affords: one batch hour and a minute of streaming while every
worker type is SIGKILLed once, PostgreSQL restarts and AWS calls fail through the fault proxy;
nothing may be lost or doubled. (`make chaos` runs the same for longer.)"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.harness.models import mixed
from trustpipe.aws import AwsClients
from trustpipe.model import artifact as model_store
from trustpipe_scenarios import chaos
from trustpipe_stack.stack import LocalStack

SEED = 20261201


@pytest.mark.timeout(900)  # the stack's and Spark's start count in it
def test_a_chaos_run_loses_and_doubles_nothing(spark: Any, local_stack: LocalStack, aws: AwsClients) -> None:
    # (the session first: its JVM starts while the stack, begun early, is still applying)
    # GIVEN a current model (hand-weighted: the run builds none when one is current, and the
    # builds are tested on their own)
    model_store.save(aws.s3, aws.settings.archive_bucket, mixed("chaos-hand-weighted"), make_current=True)
    # WHEN the chaos run carries out its plan
    figures = chaos.run(local_stack, SEED, 60, say=lambda _m: None, spark=spark)
    if not figures["ok"]:  # what CI shows of a failing run: the figures, the leases, the workers' logs
        print(json.dumps(figures, indent=1, sort_keys=True, default=str))
        print(chaos.worker_log_tails(local_stack, SEED))
    # THEN every produced message is stored once, every actionable verdict acted on once
    assert figures["run_failures"] == []
    assert figures["produced"] > 500 and figures["lost_count"] == 0, figures["lost"]
    assert figures["duplicate_rows"] == 0
    assert figures["actionable"] > 0 and figures["actions"] == figures["actionable"]
    assert figures["missing_actions"] == figures["unexpected_actions"] == []
    assert figures["duplicate_actions"] == 0
    # and in the search store, whichever path brought it (one document per message by its id)
    assert figures["indexed"] == figures["stored"] and figures["not_indexed"] == 0
    assert {k.split("/")[1] for k in figures["by_enterprise_source"]} == {"BATCH", "STREAM"}
    # AND the poison went aside with its reasons (earlier tests' poison may be met again by a
    # group resuming from its last checkpoint: at least ours)
    for reason in ("scorer BadMagicByteError", "scorer UnknownSchemaIdError", "importer MalformedEventError"):
        assert figures["set_aside"].get(reason, 0) >= 1, figures["set_aside"]
    assert figures["set_aside_without_reason"] == 0
    assert figures["ok"]
    # AND the chaos was real: every worker died and came back, faults reached the SDKs
    assert set(figures["restarts"]) == set(chaos.WORKERS)
    assert any(d.endswith(" postgres") for d in figures["disruptions"])
    # and the counters' redis-server restarted (the stack serves them): the scorer went on, the
    # messages it scored on the model's snapshot meanwhile counted (none when it was itself
    # restarting through the server's restart, as with this seed's plan)
    assert any(d.endswith(" redis") for d in figures["disruptions"])
    assert isinstance(figures["counters_degraded"], int) and figures["counters_degraded"] >= 0
    # AND once the batch hour's tiles are recounted, as the next build writes them, every sender
    # domain and /24 of it reads back its exact count, the restart and the stream's adds since
    # notwithstanding
    exact = figures["counters_after_build"]
    assert exact["entities"] > 50 and exact["differ"] == 0, exact
    injected = figures["faults_injected"]
    for service in ("kinesis", "dynamodb"):
        assert sum(n for k, n in injected.items() if k.startswith(service)) > 0, injected
    assert {k.split()[1] for k in injected} >= {"throttle", "error", "slow"}, injected
