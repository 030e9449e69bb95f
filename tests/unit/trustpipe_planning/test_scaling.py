"""The scaling simulator on small traces: the talk's claim, checked against the deployed policy."""

from __future__ import annotations

import json
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from tests.harness.paths import ROOT
from trustpipe_planning import report, traces
from trustpipe_planning.deployed import DeployedPolicy, TerraformReadError, read_deployed
from trustpipe_planning.policies import QueueSteps, TargetTracking
from trustpipe_planning.scaling import Group, Simulation, Trace

DEV = read_deployed(ROOT / "infra", "dev")


def no_hook(d: DeployedPolicy, min_size: int | None = None) -> Group:
    """The group without the drain lifecycle hook: what the policy alone guarantees."""
    return Group(d.min_size if min_size is None else min_size, d.max_size, None, d.visibility_timeout_seconds)


def long_tail() -> Trace:
    """The talk's slide 42: a burst scales the group out, then the last few imports are long ones
    (big parts, a slow database) while the CPU of the group as a whole falls to noise."""
    burst = [(60, 90.0)] * 40
    tail = [(600 + 1200 * n, 3000.0) for n in range(4)]
    return Trace("burst with a long tail", 4 * 3600, burst + tail)


def test_cpu_scaling_in_with_work_in_flight_redelivers_and_the_queue_policy_does_not() -> None:
    # WHEN the CPU policy and the deployed queue policy scale the group, neither with a drain hook
    trace = long_tail()
    cpu = Simulation(trace, TargetTracking("cpu", 50.0, "cpu"), no_hook(DEV)).run()
    queue = Simulation(trace, QueueSteps(DEV), no_hook(DEV)).run()
    # THEN CPU-based scale-in removed busy importers and their messages came back; queue-based never
    assert cpu.redelivered > 0
    assert queue.redelivered == 0
    # and both imported everything in the end (a redelivered import starts over)
    assert cpu.imported == queue.imported == len(trace.arrivals)


def test_with_a_drain_hook_longer_than_the_imports_cpu_scale_in_loses_nothing() -> None:
    group = replace(no_hook(DEV), drain_hook_seconds=4000)
    assert Simulation(long_tail(), TargetTracking("cpu", 50.0, "cpu"), group).run().redelivered == 0


@pytest.mark.parametrize("policy", ["cpu", "queue", "backlog", "work"])
def test_after_a_burst_zero_traffic_ends_at_the_minimum(policy: str) -> None:
    # GIVEN one burst, then nothing for five hours
    burst = Trace("burst then idle", 6 * 3600, [(60, 120.0)] * 60)
    chosen = {
        "cpu": TargetTracking("cpu", 50.0, "cpu"),
        "queue": QueueSteps(DEV),
        "backlog": TargetTracking("backlog", 4, "backlog"),
        "work": TargetTracking("work", 4, "work"),
    }[policy]
    run = Simulation(burst, chosen, no_hook(DEV)).run()
    # THEN it scaled out for the burst and back to the minimum, every object imported
    assert run.peak_instances > DEV.min_size
    assert run.timeline[-1].in_service == DEV.min_size
    assert run.imported == 60


def test_the_deployed_policy_drains_the_hourly_burst_before_the_next_hour() -> None:
    rows_per_s, _ = traces.measured_rows_per_s(ROOT / "bench" / "results.json")
    mean = traces.ROWS_PER_OBJECT / rows_per_s
    trace = traces.hourly_burst(mean, objects_per_hour=120, hours=4)
    group = Group(DEV.min_size, DEV.max_size, DEV.drain_seconds, DEV.visibility_timeout_seconds)
    run = Simulation(trace, QueueSteps(DEV), group).run()
    assert run.imported == 4 * 120
    assert run.drain_seconds < 3600 - traces.SCORING_LAG_SECONDS
    assert run.redelivered == 0


def test_the_simulation_reads_what_terraform_deploys(tmp_path: Path) -> None:
    # GIVEN a copy of the Terraform whose workers module scales in after 3 idle periods, not 10
    infra = tmp_path / "infra"
    shutil.copytree(ROOT / "infra", infra, ignore=shutil.ignore_patterns(".terraform*"))
    variables = infra / "modules" / "workers" / "variables.tf"
    text = variables.read_text()
    block = text[text.index('variable "importer_scale_in_periods"') :]
    old = block[: block.index("}") + 1]
    variables.write_text(text.replace(old, old.replace("default     = 10", "default     = 3")))
    # and whose dev root allows 9 importers
    dev = infra / "envs" / "dev" / "variables.tf"
    text = dev.read_text()
    block = text[text.index('variable "importer_max_size"') :]
    old = block[: block.index("}") + 1]
    dev.write_text(text.replace(old, old.replace("default     = 4", "default     = 9")))
    # WHEN it is read
    changed = read_deployed(infra, "dev")
    # THEN the simulation's input follows the Terraform, and so does its outcome
    assert (DEV.scale_in_periods, changed.scale_in_periods) == (10, 3)
    assert (DEV.max_size, changed.max_size) == (4, 9)
    burst = Trace("burst", 4 * 3600, [(60, 120.0)] * 200)
    before = Simulation(burst, QueueSteps(DEV), no_hook(DEV)).run()
    after = Simulation(burst, QueueSteps(changed), no_hook(changed)).run()
    assert after.peak_instances > before.peak_instances
    assert after.instance_seconds != before.instance_seconds


def test_every_env_root_is_read_and_an_unknown_env_is_refused() -> None:
    assert {read_deployed(ROOT / "infra", env).env for env in ("dev", "prod", "local")} == {
        "dev",
        "prod",
        "local",
    }
    assert read_deployed(ROOT / "infra", "local").min_size == 0
    with pytest.raises(TerraformReadError, match="env must be one of dev, prod, local"):
        read_deployed(ROOT / "infra", "staging")


def test_the_picture_is_drawn_and_not_blank(tmp_path: Path) -> None:
    import matplotlib.image

    scenario = report.Scenario(DEV, 60.0, "test", 40, 1.0, drain_hook=False, hours=3)
    runs = report.simulate(scenario)
    data, picture = report.write(tmp_path, scenario, runs, 0.0408)
    pixels = matplotlib.image.imread(picture)
    assert pixels.shape[0] > 600 and pixels.shape[1] > 1200
    assert float(np.std(pixels[..., :3])) > 0.05  # lines and text, not one flat colour
    assert len(runs) == 12 and data.exists()


def test_the_command_writes_json_and_a_picture_and_refuses_an_unknown_env(tmp_path: Path) -> None:
    import json

    from tests.harness.cli import run_cli

    result = run_cli("simulate", "scaling", "--hours", "2", "--out", str(tmp_path), "--json", timeout=300)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {r["policy"] for r in data["runs"]} == {
        "cpu target 50%",
        "queue (deployed)",
        "backlog per instance",
        "visible + in flight per instance",
    }
    assert data["scenario"]["deployed"]["max_size"] == DEV.max_size
    assert (tmp_path / "scaling.png").stat().st_size > 20_000
    bad = run_cli("simulate", "scaling", "--env", "staging", "--out", str(tmp_path))
    assert bad.returncode == 2
    assert bad.stderr.strip() == "error: env must be one of dev, prod, local, not 'staging'"


def test_import_times_follow_one_importer_process_as_deployed(tmp_path: Path) -> None:
    results = tmp_path / "results.json"
    results.write_text(json.dumps({"P2": {"value": 114_000.0, "in_process_rows_per_s": 69_700}}))
    assert traces.measured_rows_per_s(results)[0] == 69_700  # not the decode workers' headline
    results.write_text(json.dumps({"P2": {"value": 62_700.0}}))  # before the decode workers
    assert traces.measured_rows_per_s(results)[0] == 62_700
    assert traces.measured_rows_per_s(tmp_path / "none.json")[0] == traces.MEASURED_IMPORT_ROWS_PER_S
