"""What a chaos seed decides: the same plan every time, every worker type and fault met."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from trustpipe.errors import UserError
from trustpipe.metrics import COUNTERS_DEGRADED
from trustpipe.telemetry import WorkerMetrics
from trustpipe_emulation.fault_proxy import KINDS
from trustpipe_scenarios.chaos import FAULTED_SERVICES, HISTORY_HOURS, MAX_BATCH_HOURS, WORKERS, plan
from trustpipe_scenarios.chaos.run import counters_degraded


def test_a_seed_is_one_plan() -> None:
    assert plan(7, 120) == plan(7, 120)
    assert plan(7, 120) != plan(8, 120)


def test_every_worker_type_dies_and_postgresql_restarts_inside_the_run() -> None:
    p = plan(3, 60)
    assert {d.target for d in p.disruptions} == {*WORKERS, "postgres"}
    assert all(0 < d.at < 60 for d in p.disruptions)
    assert [d.at for d in p.disruptions] == sorted(d.at for d in p.disruptions)


def test_every_fault_kind_meets_every_faulted_service() -> None:
    p = plan(3, 60)
    assert {(w.service, w.kind) for w in p.windows} == {(s, k) for s in FAULTED_SERVICES for k in KINDS}
    assert all(0 < w.start < w.end <= 60 * 1.1 and 0 < w.probability < 1 for w in p.windows)


def test_longer_runs_disrupt_more_often() -> None:
    assert len(plan(3, 600).disruptions) > len(plan(3, 60).disruptions)


def test_seeds_have_their_own_hours_history_included() -> None:
    one, two = plan(1, 60, batch_hours=MAX_BATCH_HOURS), plan(2, 60, batch_hours=MAX_BATCH_HOURS)
    assert len(set(one.hours)) == MAX_BATCH_HOURS
    assert max(one.hours) < min(two.hours) - timedelta(hours=HISTORY_HOURS)


def test_a_run_too_short_to_disrupt_or_with_too_many_hours_is_refused() -> None:
    with pytest.raises(UserError, match="at least 30 seconds"):
        plan(1, 10)
    with pytest.raises(UserError, match="1 to 24"):
        plan(1, 60, batch_hours=MAX_BATCH_HOURS + 1)


def test_with_counters_their_redis_restarts_too_and_the_seeds_other_draws_stay() -> None:
    # GIVEN a seed's plan without the counters and with them
    without, with_counters = plan(3, 600), plan(3, 600, counters=True)
    # THEN with them the counters' server restarts inside the run, as often as every worker dies
    restarts = [d for d in with_counters.disruptions if d.target == "redis"]
    assert len(restarts) == len([d for d in without.disruptions if d.target == "postgres"])
    assert all(0 < d.at < 600 for d in restarts)
    assert [d.at for d in with_counters.disruptions] == sorted(d.at for d in with_counters.disruptions)
    # and everything else the seed decides is what it was
    assert [d for d in with_counters.disruptions if d.target != "redis"] == list(without.disruptions)
    assert with_counters.windows == without.windows and with_counters.hours == without.hours
    assert "redis" not in {d.target for d in without.disruptions}


def test_the_runs_degraded_count_is_what_its_scorers_batches_said(tmp_path: Path) -> None:
    # GIVEN two scorer processes' metrics logs (one restarted) and an importer's
    for name, degraded in (("scorer/w1", [0, 40, 12]), ("scorer/w2", [7]), ("batch-importer/importer", [])):
        log = tmp_path / "workers" / f"{name}-metrics.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        writer = WorkerMetrics(name.split("/")[0], log)
        for n in degraded:
            writer.batch(100, 0, more=[(COUNTERS_DEGRADED, n)])
        writer.batch(5, 0)
    # WHEN the run counts them THEN every batch's figure adds up
    assert counters_degraded(tmp_path) == 59
