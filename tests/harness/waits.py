"""Waiting on an event, never for a fixed time."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_for(what: str, check: Callable[[], T], timeout: float = 240, every: float = 1.0) -> T:
    """``check()``'s first truthy answer, polled every ``every`` s; fails naming ``what`` after
    ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(every)
    return result
