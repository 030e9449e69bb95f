"""The one retry policy for transient failures: capped exponential backoff with jitter. Each
caller names its own base and cap (the AWS call, the checkpoint, the SQS redelivery)."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Backoff:
    """Waits doubling from ``base`` seconds, capped at ``cap``, each jittered down to as little as
    half, so that workers that failed together do not retry together."""

    base: float
    cap: float

    def delay(self, failures: int, jitter: Callable[[], float] = random.random) -> float:
        """The wait after ``failures`` failures before this one in a row (0: the first failure)."""
        ceiling = min(self.cap, self.base * 2 ** max(failures, 0))
        return float(ceiling * (0.5 + 0.5 * jitter()))
