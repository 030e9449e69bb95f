"""Transient failures: the message stays, hidden for a capped, jittered backoff by receive count."""

from __future__ import annotations

import pytest

from trustpipe.announcement_queue import RETRY_BASE_SECONDS, RETRY_CAP_SECONDS, retry_delay


@pytest.mark.parametrize("receives", [1, 2, 3, 4, 5, 6, 7, 8, 20, 1000])
def test_the_delay_doubles_with_each_receive_up_to_the_cap(receives: int) -> None:
    ceiling = min(RETRY_CAP_SECONDS, RETRY_BASE_SECONDS * 2 ** (receives - 1))
    assert retry_delay(receives, jitter=lambda: 1.0) == ceiling
    assert retry_delay(receives, jitter=lambda: 0.0) == ceiling // 2


def test_jitter_spreads_workers_that_failed_together() -> None:
    import random

    rng = random.Random(7)
    delays = {retry_delay(4, jitter=rng.random) for _ in range(50)}
    assert len(delays) > 10
    assert all(RETRY_BASE_SECONDS * 8 // 2 <= d <= RETRY_BASE_SECONDS * 8 for d in delays)


def test_a_missing_or_nonsense_receive_count_counts_as_the_first() -> None:
    assert retry_delay(0, jitter=lambda: 1.0) == RETRY_BASE_SECONDS
    assert retry_delay(-3, jitter=lambda: 1.0) == RETRY_BASE_SECONDS
