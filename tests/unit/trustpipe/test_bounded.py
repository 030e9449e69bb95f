"""Bounded memories: an expiring set forgets in time and past its size, oldest first."""

from __future__ import annotations

from trustpipe.bounded import ByteBoundedMemo, ExpiringSet, str_entry_bytes


def test_an_expiring_set_forgets_after_its_time_and_beyond_its_size() -> None:
    # GIVEN a set of at most 3 members kept 10 s
    now = [0.0]
    members = ExpiringSet(10.0, 3, clock=lambda: now[0])
    # WHEN 4 are added THEN the oldest is gone
    for member in range(4):
        members.add(member)
    assert [m in members for m in range(4)] == [False, True, True, True]
    assert len(members) == 3
    # AND after 10 s none is left
    now[0] = 10.0
    assert not any(m in members for m in range(4))


def test_a_memo_lets_go_of_the_least_recently_used_and_never_keeps_a_long_key() -> None:
    # GIVEN a memo with room for two one-letter entries
    calls: list[str] = []

    def upper(key: str) -> str:
        calls.append(key)
        return key.upper()

    memo = ByteBoundedMemo(upper, 2 * str_entry_bytes("a", "A"), max_key_chars=5)
    # WHEN a, b are kept, a used again, then c comes
    assert [memo(k) for k in ("a", "b", "a", "c")] == ["A", "B", "A", "C"]
    # THEN b (least recently used) went, a stayed; a long key is answered each time, never kept
    assert memo("a") == "A" and memo("b") == "B"
    assert memo("toolong") == memo("toolong") == "TOOLONG"
    assert calls == ["a", "b", "c", "b", "toolong", "toolong"]
    assert memo.held_bytes <= memo.max_bytes and len(memo) == 2
