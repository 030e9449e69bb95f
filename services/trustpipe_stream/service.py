"""A stream worker as a service: the KCL daemon started as its child, stopped with it.

systemd (or `trustpipe local`) runs the worker's command; the command runs this: it starts the
daemon, waits for SIGTERM/SIGINT, then stops the daemon within its grace (the processors finish
their batch, checkpoint, and the daemon releases its leases). A daemon that dies on its own ends
the service with an error, so systemd restarts both.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import sys
import threading
from collections.abc import Callable
from pathlib import Path

from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_stream import processor
from trustpipe_stream.daemon import Consumer, Daemon, consumer
from trustpipe_stream.processor import StreamWorker

log = logging.getLogger("trustpipe.stream")


def worker_id(group: str, slot: int | str) -> str:
    """Stable across restarts of the same unit (host + group + slot): a restarted worker takes
    its leases back at once instead of waiting out the old owner's lease."""
    return f"{socket.gethostname()}-{group}-{slot}"


def run_group(
    settings: Settings,
    settings_path: Path,
    group: str,
    stream_name: str,
    module: str,
    slot: str,
    work_dir: Path,
) -> int:
    """Run this host's worker ``slot`` of consumer ``group`` on ``stream_name`` until SIGTERM; the
    daemon starts ``python -m module SETTINGS`` for each shard it leases."""
    command = [sys.executable, "-m", module, str(settings_path)]
    return serve(consumer(settings, group, stream_name, command, worker_id(group, slot)), work_dir)


def processor_main(build: Callable[[AwsClients], StreamWorker], argv: list[str] | None = None) -> None:
    """A shard's processor process: ``build`` the worker from the settings file in ``argv[1]``
    ($DATABASE_URL, when set, is the database) and speak the multilang protocol on stdin/stdout
    (logs go to stderr, which the daemon keeps)."""
    argv = argv if argv is not None else sys.argv
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    settings = Settings.load(Path(argv[1])).with_database_url(os.environ.get("DATABASE_URL"))
    processor.run(build(AwsClients(settings)))


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
