"""A hand-made trust model built from the simulator's World: every feature weighted, every
enterprise profiled, reputation tables about as large as a trained model's.

For what needs a realistic model without training one first: the benchmarks and the tests
(a trained model takes Spark and an hour of labelled history). Never deployed as a model."""

from __future__ import annotations

from trustpipe.model.artifact import ModelArtifact, Thresholds
from trustpipe.model.features import FEATURES, Profile, Reputation
from trustpipe_sensors.world import World


def artifact(seed: int = 42) -> ModelArtifact:
    """The hand-made model of the World built from ``seed``."""
    world = World.build(seed)
    profiles = {
        e.enterprise_id: Profile(e.domains, frozenset(n.lower() for n in e.executives + e.employees))
        for e in world.enterprises.values()
    }
    # Weights of both signs and of varied size, so ties and ordering of reasons are exercised.
    weights = {name: round(((i * 7919) % 23 - 9) / 3.7, 6) for i, name in enumerate(FEATURES)}
    # Tables about as large as a trained model's: every correspondent and attacker domain, and
    # every /24 seen (the internal 10.x.y ranges alone are a thousand).
    partners = [p.domain for p in world.partners + world.newsletters]
    internal = {f"10.{a}.{b}": 0.001 for a in range(4) for b in range(256)}
    external = {".".join(ip.split(".")[:3]): 0.02 for p in world.partners for ip in p.ips}
    reputation = Reputation(
        domains={**{d: 0.01 for d in partners}, **{d: 0.8 for d in world.attacker_domains}},
        ip_prefixes={
            **internal,
            **external,
            **{".".join(ip.split(".")[:3]): 0.7 for ip in world.attacker_ips[:40]},
        },
        prior=0.05,
    )
    return ModelArtifact(
        version="handmade",
        intercept=-2.5,
        weights=weights,
        default_thresholds=Thresholds(0.9, 0.5),
        thresholds={"acme": Thresholds(0.8, 0.4), "globex": Thresholds(0.85, 0.3)},
        profiles=profiles,
        reputation=reputation,
    )
