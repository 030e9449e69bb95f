"""The pipeline's reconciliation report: records counted at each stage, and what was set aside."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class StageReport:
    """Stages in pipeline order; each must equal the one before minus what it set aside."""

    stages: dict[str, int] = field(default_factory=dict)
    set_aside: dict[str, int] = field(default_factory=dict)
    reasons: dict[str, list[str]] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)

    def stage(self, name: str, count: int, set_aside: int = 0, reasons: list[str] | None = None) -> None:
        """Record ``count`` records reaching ``name``, and ``set_aside`` put aside there."""
        self.stages[name] = count
        if set_aside or reasons:
            self.set_aside[name] = set_aside
            self.reasons[name] = list(reasons or [])

    def mismatches(self) -> list[str]:
        names = list(self.stages)
        problems = []
        for before, after in itertools.pairwise(names):
            expected = self.stages[before] - self.set_aside.get(after, 0)
            if self.stages[after] != expected:
                problems.append(
                    f"{after}: {self.stages[after]} records, expected {expected} "
                    f"({before} {self.stages[before]} - set aside {self.set_aside.get(after, 0)})"
                )
        return problems

    @property
    def reconciled(self) -> bool:
        return bool(self.stages) and not self.mismatches()

    def as_dict(self) -> dict[str, Any]:
        return {
            **self.extra,
            "stages": self.stages,
            "set_aside": self.set_aside,
            "set_aside_reasons": self.reasons,
            "reconciled": self.reconciled,
            "mismatches": self.mismatches(),
        }

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.as_dict(), indent=2, sort_keys=True) + "\n")
