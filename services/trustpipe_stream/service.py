"""A stream worker as a service: the KCL daemon started as its child, stopped with it.

systemd (or `trustpipe local`) runs the worker's command; the command runs this: it starts the
daemon, waits for SIGTERM/SIGINT, then stops the daemon within its grace (the processors finish
their batch, checkpoint, and the daemon releases its leases). A daemon that dies on its own ends
the service with an error, so systemd restarts both.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from pathlib import Path

from trustpipe_stream.daemon import Consumer, Daemon

log = logging.getLogger("trustpipe.stream")


def worker_id(group: str, slot: int | str) -> str:
    """Stable across restarts of the same unit (host + group + slot): a restarted worker takes
    its leases back at once instead of waiting out the old owner's lease."""
    return f"{socket.gethostname()}-{group}-{slot}"


def serve(
    c: Consumer, state_dir: Path, stop: threading.Event | None = None, poll_seconds: float = 1.0
) -> int:
    """Run the daemon until ``stop`` (default: SIGTERM or SIGINT); the exit code for the service."""
    stop = stop or _stop_on_signals()
    daemon = Daemon(c, state_dir)
    pid = daemon.start()
    log.info("%s: KCL daemon %d consuming %s as %s", c.application, pid, c.stream_name, c.worker_id)
    while not stop.wait(poll_seconds):
        if daemon.proc is not None and daemon.proc.poll() is not None:
            code = daemon.stop()
            log.error("%s: the KCL daemon exited (%s); see %s", c.application, code, state_dir)
            return 1
    log.info("%s: stopping; processors checkpoint and leases are released", c.application)
    daemon.stop()
    return 0


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signo, _frame: stop.set())
    return stop
