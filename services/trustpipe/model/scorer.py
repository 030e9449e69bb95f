"""The pure-Python engine: one message in, its score, verdict and top reasons out. No I/O."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from trustpipe.model.artifact import ModelArtifact
from trustpipe.model.features import FEATURES, Reputation, features

TOP_REASONS = 3


@dataclass(frozen=True)
class Verdict:
    score: float
    verdict: str
    reasons: list[str]


class TrustModel:
    """Applies one artifact; build once per process and reuse."""

    def __init__(self, artifact: ModelArtifact) -> None:
        self.artifact = artifact
        self._weights = [artifact.weights[f] for f in FEATURES]

    @property
    def version(self) -> str:
        return self.artifact.version

    def score(self, record: Mapping[str, Any], reputation: Reputation | None = None) -> Verdict:
        """The message's verdict; its reputation features from ``reputation`` when given (the
        counters' current tables for its batch, ``trustpipe.counters``), else the artifact's."""
        enterprise = record["enterprise_id"]
        artifact = self.artifact
        values = features(
            record, artifact.profile_for(enterprise), reputation or artifact.reputation, artifact.suffixes
        )
        z = self.artifact.intercept
        contributions = []
        for name, weight, value in zip(FEATURES, self._weights, values, strict=True):
            z += weight * value
            contributions.append((weight * value, name))
        score = 1.0 / (1.0 + math.exp(-z))
        # Strongest first; ties broken by name, as Spark's sort_array on (contribution, name) does.
        positive = sorted((c for c in contributions if c[0] > 0), reverse=True)
        reasons = [name for _, name in positive[:TOP_REASONS]]
        return Verdict(score, self.artifact.thresholds_for(enterprise).verdict(score), reasons)
