"""A small hand-weighted model artifact: one enterprise profile, a few reputations, the weights a
test names (every other feature weighs nothing)."""

from __future__ import annotations

import dataclasses

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


def mixed(version: str) -> ModelArtifact:
    """A model whose verdicts mix on the simulator's mail: auth failures and look-alikes push a
    message over the thresholds (a test that needs a current model, not a trained one)."""
    return dataclasses.replace(
        artifact(
            spf_fail=1.5,
            dmarc_fail=1.5,
            lookalike_domain=4.0,
            display_name_spoof=4.0,
            reply_to_mismatch=2.0,
            risky_urls=2.0,
            executable_attachment=3.0,
        ),
        version=version,
        intercept=-2.0,
        default_thresholds=Thresholds(0.5, 0.2),
        thresholds={},
    )
