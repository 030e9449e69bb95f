"""The versioned model artifact in S3: weights, thresholds, profiles, reputation, metadata."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from trustpipe import layout, s3
from trustpipe.errors import RunError, TrustpipeError, UserError
from trustpipe.model.features import FEATURES, Profile, Reputation
from trustpipe.model.suffixes import SuffixList


class ModelError(TrustpipeError, LookupError):
    """A model artifact is missing, malformed or could not be built."""


class ModelNotFoundError(ModelError, UserError):
    """No current model, or no model of the version asked for: build one first."""


class MalformedModelError(ModelError, RunError):
    """A stored artifact does not parse as a model of these features."""


class ModelBuildError(ModelError, UserError):
    """There is not enough labelled history to build a model."""


class ModelNotPromotedError(ModelError, RunError):
    """A candidate failed the promotion gate."""


@dataclass(frozen=True)
class Thresholds:
    """Scores at or above ``quarantine`` are quarantined; at or above ``label``, labelled."""

    quarantine: float
    label: float

    def verdict(self, score: float) -> str:
        if score >= self.quarantine:
            return "QUARANTINE"
        return "LABEL" if score >= self.label else "PASS_THROUGH"


@dataclass(frozen=True)
class ModelArtifact:
    """Everything both engines need to score, plus how the model was made and how it did."""

    version: str
    intercept: float
    weights: dict[str, float]
    default_thresholds: Thresholds
    thresholds: dict[str, Thresholds]
    profiles: dict[str, Profile]
    reputation: Reputation
    metadata: dict[str, Any] = field(default_factory=dict)
    suffixes: SuffixList = field(default_factory=SuffixList.bundled)
    """The Public Suffix List the model was trained with: both engines score with it."""
    promotion: int = 0
    """The number of the model's latest promotion (``promote``; 0: never promoted), read from
    ``current.json`` when loaded, never part of the artifact: each verdict carries it and the
    store orders verdicts by it."""

    def thresholds_for(self, enterprise_id: str) -> Thresholds:
        return self.thresholds.get(enterprise_id, self.default_thresholds)

    def profile_for(self, enterprise_id: str) -> Profile:
        return self.profiles.get(enterprise_id, Profile())

    def to_json(self) -> str:
        doc = {
            "version": self.version,
            "features": list(FEATURES),
            "intercept": self.intercept,
            "weights": self.weights,
            "default_thresholds": asdict(self.default_thresholds),
            "thresholds": {k: asdict(v) for k, v in self.thresholds.items()},
            "profiles": {
                k: {"domains": list(p.domains), "names": sorted(p.names)} for k, p in self.profiles.items()
            },
            "reputation": {
                "domains": dict(self.reputation.domains),
                "ip_prefixes": dict(self.reputation.ip_prefixes),
                "prior": self.reputation.prior,
            },
            "metadata": self.metadata,
            "public_suffix_list": self.suffixes.to_doc(),
        }
        return json.dumps(doc, indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ModelArtifact:
        try:
            doc = json.loads(text)
            if doc["features"] != list(FEATURES):
                raise MalformedModelError(
                    f"model {doc.get('version')} was built for other features: {doc['features']}"
                )
            return cls(
                version=doc["version"],
                intercept=float(doc["intercept"]),
                weights={k: float(doc["weights"][k]) for k in FEATURES},
                default_thresholds=Thresholds(**doc["default_thresholds"]),
                thresholds={k: Thresholds(**v) for k, v in doc["thresholds"].items()},
                profiles={
                    k: Profile(tuple(p["domains"]), frozenset(p["names"])) for k, p in doc["profiles"].items()
                },
                reputation=Reputation(
                    doc["reputation"]["domains"],
                    doc["reputation"]["ip_prefixes"],
                    float(doc["reputation"]["prior"]),
                ),
                metadata=doc.get("metadata", {}),
                # Artifacts from before the list was recorded score with the installed one.
                suffixes=SuffixList.from_doc(doc["public_suffix_list"])
                if "public_suffix_list" in doc
                else SuffixList.bundled(),
            )
        except (KeyError, TypeError, ValueError) as err:
            raise MalformedModelError(f"malformed model artifact: {err!r}") from err


def save(client: Any, bucket: str, artifact: ModelArtifact, make_current: bool) -> str:
    """Write the artifact under its version; move ``current`` to it last, when asked."""
    key = layout.model_key(artifact.version)
    s3.put(client, bucket, key, artifact.to_json().encode())
    if make_current:
        promote(client, bucket, artifact)
    return key


def promote(client: Any, bucket: str, artifact: ModelArtifact) -> int:
    """Point ``current`` at a saved artifact (scorers load it from their next hour or restart)
    under the next promotion number, and return it. Every promotion takes a new number, so a
    rollback, which promotes the previous version again, outranks the version it replaces. The
    pointer keeps each promoted version's latest number. Promotions of one bucket are made one at
    a time (the nightly build's promote task, or the on-call's ``trustpipe promote-model``)."""
    pointer = _pointer(client, bucket) or {}
    promoted = {str(k): int(v) for k, v in pointer.get("promoted", {}).items()}
    number = max([int(pointer.get("promotion", 0)), *promoted.values()]) + 1
    promoted[artifact.version] = number
    pointer = {
        "version": artifact.version,
        "key": layout.model_key(artifact.version),
        "promotion": number,
        "promoted": promoted,
        "metrics": artifact.metadata.get("metrics", {}),
    }
    s3.put(client, bucket, layout.CURRENT_MODEL_KEY, json.dumps(pointer).encode())
    return number


def _pointer(client: Any, bucket: str) -> dict[str, Any] | None:
    try:
        pointer = json.loads(s3.get(client, bucket, layout.CURRENT_MODEL_KEY))
    except client.exceptions.NoSuchKey:
        return None
    if not isinstance(pointer, dict):
        raise MalformedModelError(f"s3://{bucket}/{layout.CURRENT_MODEL_KEY} is not a JSON object")
    return pointer


def current_version(client: Any, bucket: str) -> str | None:
    pointer = _pointer(client, bucket)
    return None if pointer is None else str(pointer["version"])


def load(client: Any, bucket: str, version: str | None = None) -> ModelArtifact:
    """The artifact of ``version``, or the current one, with its latest promotion number (0 when
    it was never promoted); ModelError when there is none."""
    pointer = _pointer(client, bucket) or {}
    version = version or pointer.get("version")
    if version is None:
        raise ModelNotFoundError(
            f"no current model in s3://{bucket}/{layout.CURRENT_MODEL_KEY}: run `trustpipe build-model`"
        )
    try:
        loaded = ModelArtifact.from_json(s3.get(client, bucket, layout.model_key(version)).decode())
    except client.exceptions.NoSuchKey as err:
        raise ModelNotFoundError(f"no model {version} in s3://{bucket}/{layout.MODELS_PREFIX}") from err
    return replace(loaded, promotion=promotion_of(pointer, loaded.version))


def promotion_of(pointer: dict[str, Any], version: str) -> int:
    """``version``'s latest promotion number in a ``current.json`` pointer (0: none)."""
    try:
        return int(pointer.get("promoted", {}).get(version, 0))
    except (AttributeError, TypeError, ValueError) as err:
        raise MalformedModelError(f"malformed promotions in the current-model pointer: {err!r}") from err
