"""A small hand-weighted model artifact: one enterprise profile, a few reputations, the weights a
test names (every other feature weighs nothing)."""

from __future__ import annotations

from trustpipe.model.artifact import ModelArtifact, Thresholds
from trustpipe.model.features import FEATURES, Profile, Reputation

PROFILE = Profile(("acme-corp.com",), frozenset({"wile coyote"}))
REPUTATION = Reputation({"partner.com": 0.02, "evil-docs.top": 0.9}, {"198.51.100": 0.01}, prior=0.05)


def artifact(**weights: float) -> ModelArtifact:
    """Version "t", intercept -3, default thresholds 0.9/0.5 and acme's 0.6/0.3."""
    return ModelArtifact(
        "t",
        -3.0,
        {f: weights.get(f, 0.0) for f in FEATURES},
        Thresholds(0.9, 0.5),
        {"acme": Thresholds(0.6, 0.3)},
        {"acme": PROFILE},
        REPUTATION,
    )
