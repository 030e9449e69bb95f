"""The simulation's outputs: every policy on every trace, as JSON and as a picture drawn like the
talk's slides (visible and in-flight messages, CPU, instances over time; one panel per policy)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trustpipe_planning import traces
from trustpipe_planning.deployed import DeployedPolicy
from trustpipe_planning.policies import all_policies
from trustpipe_planning.scaling import Group, Run, Simulation, Trace


@dataclass(frozen=True)
class Scenario:
    """What is simulated: the deployed group, the load, and whether the drain hook is there."""

    deployed: DeployedPolicy
    mean_object_seconds: float
    object_seconds_source: str
    objects_per_hour: int
    objects_per_minute: float
    drain_hook: bool
    hours: int = 24
    slots: int = 2

    def group(self) -> Group:
        d = self.deployed
        hook = d.drain_seconds if self.drain_hook else None
        return Group(d.min_size, d.max_size, hook, d.visibility_timeout_seconds, self.slots, d.period_seconds)

    def traces(self) -> list[Trace]:
        seconds = self.hours * 3600
        return [
            traces.hourly_burst(self.mean_object_seconds, self.objects_per_hour, self.hours),
            traces.steady(self.mean_object_seconds, self.objects_per_minute, seconds),
            traces.idle(seconds),
        ]


def simulate(scenario: Scenario, seed: int = 7) -> list[Run]:
    """Every policy on every trace (each policy fresh for each trace)."""
    return [
        Simulation(trace, policy, scenario.group(), seed).run()
        for trace in scenario.traces()
        for policy in all_policies(scenario.deployed, scenario.mean_object_seconds)
    ]


def cost_of(run: Run, hourly_price: float) -> dict[str, float]:
    """The run's instance cost under per-second billing (60 s minimum) and under hourly billing."""
    return {
        "cost_per_second_billing": round(run.billed_seconds_per_second / 3600 * hourly_price, 2),
        "cost_hourly_billing": round(run.billed_hours * hourly_price, 2),
    }


def as_json(scenario: Scenario, runs: list[Run], hourly_price: float) -> dict[str, Any]:
    return {
        "scenario": {
            **{k: v for k, v in asdict(scenario).items() if k != "deployed"},
            "deployed": asdict(scenario.deployed),
            "hourly_price": hourly_price,
        },
        "runs": [{**r.as_dict(), **cost_of(r, hourly_price)} for r in runs],
    }


def write(out: Path, scenario: Scenario, runs: list[Run], hourly_price: float) -> tuple[Path, Path]:
    """scaling.json and scaling.png under ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    data = out / "scaling.json"
    data.write_text(json.dumps(as_json(scenario, runs, hourly_price), indent=1) + "\n")
    return data, draw(out / "scaling.png", runs)


PLOT_HOURS = 3
"""The pictures show the first hours of each trace: three bursts are the shape; a day is a blur."""


def draw(path: Path, runs: list[Run], hours_shown: int = PLOT_HOURS) -> Path:
    """One row per trace, one column per policy; in each panel messages (visible, in flight) and
    instances over the first ``hours_shown`` hours, CPU on a second axis."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    trace_names = list(dict.fromkeys(r.trace for r in runs))
    policy_names = list(dict.fromkeys(r.policy for r in runs))
    fig, axes = plt.subplots(
        len(trace_names),
        len(policy_names),
        figsize=(4.2 * len(policy_names), 2.8 * len(trace_names)),
        squeeze=False,
    )
    for run in runs:
        ax = axes[trace_names.index(run.trace)][policy_names.index(run.policy)]
        shown = [p for p in run.timeline if p.t < hours_shown * 3600]
        hours = [p.t / 3600 for p in shown]
        ax.plot(hours, [p.visible for p in shown], label="visible", color="tab:blue", lw=0.8)
        ax.plot(hours, [p.in_flight for p in shown], label="in flight", color="tab:orange", lw=0.8)
        ax.step(
            hours,
            [p.in_service for p in shown],
            label="instances",
            color="black",
            lw=1.2,
            where="post",
        )
        cpu = ax.twinx()
        cpu.plot(hours, [p.cpu for p in shown], color="tab:red", lw=0.5, alpha=0.4)
        cpu.set_ylim(0, 100)
        cpu.tick_params(labelsize=6, colors="tab:red")
        ax.set_title(
            f"{run.policy}\n{run.trace}: {run.redelivered} redelivered, peak {run.peak_instances}", fontsize=8
        )
        ax.tick_params(labelsize=6)
        ax.set_xlabel("hour", fontsize=7)
    axes[0][0].legend(fontsize=6, loc="upper right")
    fig.suptitle(
        f"importer queue and instances under each scaling policy, first {hours_shown} hours "
        "(CPU %, red, right axis; redeliveries counted over the whole run)",
        fontsize=10,
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
