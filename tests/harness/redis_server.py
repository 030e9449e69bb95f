"""A real redis-server of a test's own (Debian's, `make redis`), started and stopped by pid."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from trustpipe import counters
from trustpipe_stack.servers import RedisServer


@contextmanager
def own_redis(state_dir: Path) -> Iterator[RedisServer]:
    """A redis-server in ``state_dir`` on a free loopback port, stopped (by its pid) at the end."""
    server = RedisServer(state_dir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def port_of(server: RedisServer) -> int:
    return int(server.port_file.read_text())


def client_of(server: RedisServer) -> Any:
    """The client the scorer makes for the server's URL (its timeouts, no retries)."""
    return counters.client(server.url)
