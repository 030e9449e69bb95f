"""The scaling policies compared: the deployed queue policy and three the talk and AWS suggest.

Each sees what CloudWatch would give it (one datapoint per period) and answers the desired
capacity. Target tracking follows AWS's documented behaviour: scale out after 3 datapoints above
the target, scale in after 15 below 90 % of it, to ceil(capacity x metric / target), and scale-in
chooses its instance by the termination policy, not by whether it is busy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from trustpipe_planning.deployed import DeployedPolicy
from trustpipe_planning.scaling import Datapoint, Group

TARGET_OUT_DATAPOINTS = 3
TARGET_IN_DATAPOINTS = 15
TARGET_IN_FRACTION = 0.9


def _last(history: Sequence[Datapoint], n: int) -> Sequence[Datapoint]:
    return history[-n:] if len(history) >= n else ()


@dataclass
class QueueSteps:
    """The deployed policy: +step while messages are visible for N periods; -1 only when nothing
    is visible or in flight for M periods; each step waits out the cooldown."""

    deployed: DeployedPolicy
    name: str = "queue (deployed)"
    _last_action: int = -(10**9)

    def desired(self, history: Sequence[Datapoint], capacity: int, group: Group, t: int) -> int:
        if t - self._last_action < self.deployed.cooldown_seconds:
            return capacity
        out = _last(history, self.deployed.scale_out_periods)
        if out and all(p.visible > self.deployed.scale_out_visible_threshold for p in out):
            self._last_action = t
            return capacity + self.deployed.scale_out_step
        idle = _last(history, self.deployed.scale_in_periods)
        if idle and all(p.visible + p.in_flight <= 0 for p in idle) and capacity > group.min_size:
            self._last_action = t
            return capacity - 1
        return capacity


@dataclass
class TargetTracking:
    """AWS target tracking on one metric per in-service instance."""

    name: str
    target: float
    metric: str
    """``cpu`` (average CPU %), ``backlog`` (visible per instance) or ``work`` ((visible +
    in flight) per instance)."""

    def value(self, p: Datapoint) -> float:
        if self.metric == "cpu":
            return p.cpu
        per = max(p.in_service, 1)
        return (p.visible if self.metric == "backlog" else p.visible + p.in_flight) / per

    def desired(self, history: Sequence[Datapoint], capacity: int, group: Group, t: int) -> int:
        out = _last(history, TARGET_OUT_DATAPOINTS)
        if out and all(self.value(p) > self.target for p in out):
            return max(capacity + 1, self._proportional(out[-1], capacity))
        low = _last(history, TARGET_IN_DATAPOINTS)
        if low and all(self.value(p) < TARGET_IN_FRACTION * self.target for p in low):
            return min(capacity - 1, self._proportional(low[-1], capacity)) if capacity > 0 else 0
        return capacity

    def _proportional(self, p: Datapoint, capacity: int) -> int:
        if self.metric == "cpu":
            return math.ceil(max(capacity, 1) * self.value(p) / self.target)
        total = self.value(p) * max(p.in_service, 1)
        return math.ceil(total / self.target)


def all_policies(deployed: DeployedPolicy, mean_object_seconds: float) -> list[QueueSteps | TargetTracking]:
    """The four policies compared. The backlog targets follow AWS's guidance: acceptable backlog
    per instance = acceptable latency (one scaling period) / time to import one object x slots."""
    per_instance = max(1.0, 2 * deployed.period_seconds / max(mean_object_seconds, 0.1))
    return [
        TargetTracking("cpu target 50%", 50.0, "cpu"),
        QueueSteps(deployed),
        TargetTracking("backlog per instance", per_instance, "backlog"),
        TargetTracking("visible + in flight per instance", per_instance, "work"),
    ]
