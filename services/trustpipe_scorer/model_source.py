"""The current model for a long-running scorer: loaded once, reloaded when ``current.json`` moves
(checked at most every ``check_seconds``), swapped between batches so no record is dropped."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from trustpipe.model.artifact import ModelArtifact
from trustpipe.model.scorer import TrustModel

log = logging.getLogger("trustpipe.scorer")
CHECK_SECONDS = 30.0
"""How often the pointer is read: a promotion reaches every scorer within a minute."""


@dataclass
class CurrentModel:
    current_version: Callable[[], str | None]
    load: Callable[[str | None], ModelArtifact]
    """The artifact of a version (None: the current one, or ModelNotFoundError)."""
    check_seconds: float = CHECK_SECONDS
    clock: Callable[[], float] = time.monotonic
    _model: TrustModel | None = field(default=None, init=False)
    _checked: float = field(default=float("-inf"), init=False)

    def get(self) -> TrustModel:
        """The model to score the next batch with (the first call loads it: ModelNotFoundError
        when no model was promoted yet)."""
        now = self.clock()
        if self._model is None or now - self._checked >= self.check_seconds:
            self._checked = now
            version = self.current_version()
            if self._model is None or (version is not None and version != self._model.version):
                self._model = TrustModel(self.load(version))
                log.info("scoring with model %s", self._model.version)
        return self._model
