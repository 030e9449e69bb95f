"""A discrete-time simulation of the importer queue and its Auto Scaling group (one-second ticks).

What it models, and why each matters to the talk's claim (slides 41-43):
- SQS: messages are visible until an importer receives one; in flight while it works (the
  importer's heartbeat keeps extending the visibility); a message whose importer died becomes
  visible again one visibility timeout after the last heartbeat, and is received again: a
  *redelivery*, the cost of a premature scale-in.
- Instances: launched, warming up, in service (``slots`` objects at a time, one process per core),
  and on scale-in either draining through the termination lifecycle hook (no new work, finish
  what they hold, at most the hook's heartbeat) or, without the hook, gone at once.
- CloudWatch and the policy: one datapoint per period (maximum visible and in-flight messages,
  average CPU of the in-service instances); alarms need N consecutive datapoints; simple-scaling
  policies wait out their cooldown.
- Billing: instance-seconds under per-second billing (60 s minimum a launch) and under hourly
  billing (each started hour).
The simulation is pure Python and deterministic for its seed; it makes no AWS call.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

BASE_CPU = 3.0
"""Percent CPU of an idle importer (the agent, long polls)."""
WARMUP_SECONDS = 180
"""Boot, the CloudWatch agent and the importer unit's start, before an instance takes work."""
PER_SECOND_MINIMUM = 60
"""EC2 per-second billing charges at least a minute per launch."""


@dataclass
class Message:
    id: int
    arrived: int
    service_seconds: float
    visible_at: int = 0
    receives: int = 0


@dataclass
class Instance:
    id: int
    launched: int
    ready_at: int
    slots: int
    busy: dict[int, tuple[Message, float]] = field(default_factory=dict)
    """message id -> (message, second its import completes)."""
    draining_since: int | None = None
    terminated: int | None = None

    def in_service(self, t: int) -> bool:
        return self.terminated is None and self.draining_since is None and t >= self.ready_at

    @property
    def alive(self) -> bool:
        return self.terminated is None

    def cpu(self) -> float:
        return BASE_CPU + (100.0 - BASE_CPU) * len(self.busy) / self.slots


@dataclass(frozen=True)
class Datapoint:
    """One CloudWatch period, as the alarms see it."""

    t: int
    visible: int
    in_flight: int
    cpu: float
    in_service: int


@dataclass(frozen=True)
class Group:
    """The Auto Scaling group's bounds, as deployed."""

    min_size: int
    max_size: int
    drain_hook_seconds: int | None
    """The termination lifecycle hook's heartbeat; None: no hook, scale-in terminates at once."""
    visibility_timeout: int
    slots: int = 2
    period: int = 60


class Policy(Protocol):
    name: str

    def desired(self, history: Sequence[Datapoint], capacity: int, group: Group, t: int) -> int:
        """The group's desired capacity after this datapoint (unchanged when nothing fires)."""
        ...


@dataclass
class Trace:
    """Objects announced on the queue: (arrival second, import seconds) each."""

    name: str
    seconds: int
    arrivals: list[tuple[int, float]]


@dataclass
class Run:
    """What one policy did on one trace."""

    policy: str
    trace: str
    redelivered: int = 0
    imported: int = 0
    drain_seconds: float = 0.0
    """Longest time from an object's arrival to the queue being empty again (visible + in flight)."""
    instance_seconds: float = 0.0
    billed_seconds_per_second: float = 0.0
    billed_hours: int = 0
    peak_instances: int = 0
    timeline: list[Datapoint] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "trace": self.trace,
            "imported": self.imported,
            "redelivered": self.redelivered,
            "drain_seconds": round(self.drain_seconds, 1),
            "instance_minutes": round(self.instance_seconds / 60, 1),
            "peak_instances": self.peak_instances,
            "billed_seconds_per_second": round(self.billed_seconds_per_second),
            "billed_hours": self.billed_hours,
        }


class Simulation:
    """One trace through one policy; ``run`` returns the figures and the per-period timeline."""

    def __init__(self, trace: Trace, policy: Policy, group: Group, seed: int = 7) -> None:
        self.trace, self.policy, self.group = trace, policy, group
        self.rng = random.Random(seed)
        self.visible: deque[Message] = deque()
        self.returning: list[Message] = []
        self.instances: list[Instance] = []
        self.capacity = group.min_size
        self.result = Run(policy.name, trace.name)
        self.busy_since: int | None = None
        self._period_max = (0, 0)
        self._cpu_samples: list[float] = []

    def run(self) -> Run:
        arrivals = deque(sorted(self.trace.arrivals))
        ids = 0
        for _ in range(self.capacity):
            self._launch(0, ready=True)
        for t in range(self.trace.seconds):
            while arrivals and arrivals[0][0] <= t:
                _, service = arrivals.popleft()
                self.visible.append(Message(ids, t, service))
                ids += 1
            self._tick(t)
        self._finish(self.trace.seconds)
        return self.result

    def _tick(self, t: int) -> None:
        self._return_lost(t)
        for inst in self.instances:
            if inst.alive:
                self._complete(inst, t)
        for inst in self.instances:
            if inst.in_service(t):
                while self.visible and len(inst.busy) < inst.slots:
                    msg = self.visible.popleft()
                    msg.receives += 1
                    if msg.receives > 1:
                        self.result.redelivered += 1
                    inst.busy[msg.id] = (msg, t + msg.service_seconds)
            elif inst.draining_since is not None and inst.alive:
                self._drain(inst, t)
        self._measure(t)

    def _complete(self, inst: Instance, t: int) -> None:
        for mid, (_msg, done) in list(inst.busy.items()):
            if done <= t:
                del inst.busy[mid]
                self.result.imported += 1

    def _drain(self, inst: Instance, t: int) -> None:
        assert inst.draining_since is not None
        hook = self.group.drain_hook_seconds or 0
        if not inst.busy or t - inst.draining_since >= hook:
            self._terminate(inst, t)

    def _return_lost(self, t: int) -> None:
        back = [m for m in self.returning if m.visible_at <= t]
        if back:
            self.returning = [m for m in self.returning if m.visible_at > t]
            self.visible.extend(back)

    def _terminate(self, inst: Instance, t: int) -> None:
        for msg, _done in inst.busy.values():
            # The heartbeat stopped with the instance: visible again one timeout later.
            msg.visible_at = t + self.group.visibility_timeout
            self.returning.append(msg)
        inst.busy.clear()
        inst.terminated = t

    def _launch(self, t: int, ready: bool = False) -> None:
        warm = 0 if ready else WARMUP_SECONDS
        self.instances.append(Instance(len(self.instances), t, t + warm, self.group.slots))

    def _measure(self, t: int) -> None:
        visible = len(self.visible)
        # A dead importer's messages stay invisible until their timeout: SQS counts them in flight.
        in_flight = sum(len(i.busy) for i in self.instances if i.alive) + len(self.returning)
        self._period_max = (max(self._period_max[0], visible), max(self._period_max[1], in_flight))
        serving = [i for i in self.instances if i.in_service(t)]
        self._cpu_samples.append(sum(i.cpu() for i in serving) / len(serving) if serving else 0.0)
        self._track_drain(t, visible + in_flight)
        if (t + 1) % self.group.period == 0:
            point = Datapoint(
                t, *self._period_max, sum(self._cpu_samples) / len(self._cpu_samples), len(serving)
            )
            self.result.timeline.append(point)
            self._period_max, self._cpu_samples = (0, 0), []
            self._scale(t, self.policy.desired(self.result.timeline, self.capacity, self.group, t))
        alive = sum(1 for i in self.instances if i.alive)
        self.result.peak_instances = max(self.result.peak_instances, alive)

    def _track_drain(self, t: int, work: int) -> None:
        if work and self.busy_since is None:
            self.busy_since = t
        elif not work and self.busy_since is not None:
            self.result.drain_seconds = max(self.result.drain_seconds, t - self.busy_since)
            self.busy_since = None

    def _scale(self, t: int, desired: int) -> None:
        desired = max(self.group.min_size, min(self.group.max_size, desired))
        while self.capacity < desired:
            self._launch(t)
            self.capacity += 1
        while self.capacity > desired:
            self._scale_in_one(t)
            self.capacity -= 1

    def _scale_in_one(self, t: int) -> None:
        """AWS picks the instance by its termination policy, not by whether it is busy: here, any
        in-service instance at random (seeded), as likely busy as idle."""
        candidates = [i for i in self.instances if i.alive and i.draining_since is None]
        if not candidates:
            return
        victim = self.rng.choice(candidates)
        if self.group.drain_hook_seconds:
            victim.draining_since = t
        else:
            self._terminate(victim, t)

    def _finish(self, end: int) -> None:
        if self.busy_since is not None:
            self.result.drain_seconds = max(self.result.drain_seconds, end - self.busy_since)
        for inst in self.instances:
            stop = inst.terminated if inst.terminated is not None else end
            seconds = stop - inst.launched
            self.result.instance_seconds += seconds
            self.result.billed_seconds_per_second += max(PER_SECOND_MINIMUM, seconds)
            self.result.billed_hours += max(1, math.ceil(seconds / 3600))
