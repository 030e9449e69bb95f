"""Memories bounded by what an input can make them hold: bytes, not entries, and time.

A producer chooses the strings a scorer sees; a cache keyed on them must cost at most a stated
number of bytes however long or many they are, and a remembered "no" must be forgotten in time.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable

ENTRY_OVERHEAD_BYTES = 104
"""An OrderedDict entry beyond its key and value (hash slot, index, link node): about 91 bytes
measured on average over 100,000 entries, rounded up for the table's growth slack."""


def str_entry_bytes(key: str, value: str) -> int:
    """What one ``key -> value`` entry of strings holds: both objects and the entry around them."""
    return sys.getsizeof(key) + sys.getsizeof(value) + ENTRY_OVERHEAD_BYTES


class ByteBoundedMemo:
    """``compute`` memoised for string keys, least recently used first out once the entries hold
    more than ``max_bytes``; a key longer than ``max_key_chars`` is computed every time, never
    kept (it would only push out the keys that repeat). Thread-safe. Call ``lookup`` (or the memo
    itself): a plain function, as cheap to call as Python allows on a hot path."""

    def __init__(self, compute: Callable[[str], str], max_bytes: int, max_key_chars: int) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()
        self.held_bytes = 0
        """Bytes the entries hold now (keys, values and entries), never above ``max_bytes``."""
        self.lookup = self._lookup(compute, max_key_chars)

    def __call__(self, key: str) -> str:
        return self.lookup(key)

    def _lookup(self, compute: Callable[[str], str], max_key_chars: int) -> Callable[[str], str]:
        # A closure over bound C methods: a hit is two C calls, no attribute or slot lookups.
        get, touch, keep = self._entries.get, self._entries.move_to_end, self._keep

        def lookup(key: str) -> str:
            value = get(key)
            if value is not None:
                try:  # noqa: SIM105 - suppress() would cost a context manager on every hit
                    touch(key)
                except KeyError:  # pushed out by another thread meanwhile
                    pass
                return value
            value = compute(key)
            if len(key) <= max_key_chars:
                keep(key, value)
            return value

        return lookup

    def __len__(self) -> int:
        return len(self._entries)

    def _keep(self, key: str, value: str) -> None:
        cost = str_entry_bytes(key, value)
        with self._lock:
            if key in self._entries or cost > self.max_bytes:
                return
            self._entries[key] = value
            self.held_bytes += cost
            while self.held_bytes > self.max_bytes:
                old_key, old_value = self._entries.popitem(last=False)
                self.held_bytes -= str_entry_bytes(old_key, old_value)


class ExpiringSet:
    """Members forgotten ``ttl_seconds`` after they were added, and the oldest first once there
    are ``max_members``. Thread-safe; ``clock`` is monotonic seconds."""

    def __init__(
        self, ttl_seconds: float, max_members: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.ttl_seconds = ttl_seconds
        self.max_members = max_members
        self._clock = clock
        self._expiry: OrderedDict[Hashable, float] = OrderedDict()
        self._lock = threading.Lock()

    def add(self, member: Hashable) -> None:
        with self._lock:
            self._expiry.pop(member, None)
            self._expiry[member] = self._clock() + self.ttl_seconds
            while len(self._expiry) > self.max_members:
                self._expiry.popitem(last=False)

    def __contains__(self, member: object) -> bool:
        if not self._expiry:
            return False
        with self._lock:
            expiry = self._expiry.get(member)
            if expiry is None:
                return False
            if self._clock() < expiry:
                return True
            del self._expiry[member]
            return False

    def __len__(self) -> int:
        return len(self._expiry)
