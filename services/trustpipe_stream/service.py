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
from trustpipe.telemetry import WorkerMetrics, configure_logging
from trustpipe.workers import Worker
from trustpipe_stream import processor
from trustpipe_stream.daemon import Consumer, Daemon, consumer
from trustpipe_stream.processor import StreamWorker

log = logging.getLogger("trustpipe.stream")


def worker_id(group: str, slot: int | str) -> str:
    """Stable across restarts of the same unit (host + group + slot): a restarted worker takes
    its leases back at once instead of waiting out the old owner's lease."""
    return f"{socket.gethostname()}-{group}-{slot}"


def run_group(settings: Settings, settings_path: Path, worker: Worker, slot: str, work_dir: Path) -> int:
    """Run this host's ``worker`` in ``slot`` (its consumer group, on its stream) until SIGTERM;
    the daemon starts ``python -m PROCESSOR SETTINGS SERVICE METRICS_FILE`` for each shard it
    leases."""
    group, stream_name = worker.group, worker.stream_name(settings)
    configure_logging(group)
    wid = worker_id(group, slot)
    work_dir.mkdir(parents=True, exist_ok=True)
    metrics = (work_dir / f"{wid}-metrics.log").resolve()
    command = [sys.executable, "-m", worker.processor, str(settings_path), worker.service, str(metrics)]
    pid_file = work_dir / f"{wid}.pid"
    # `trustpipe local status` reads it (pid and start time, as the local stack records its own)
    pid_file.write_text(f"{os.getpid()} {_started_at():.3f}\n")
    try:
        return serve(consumer(settings, group, stream_name, command, wid), work_dir)
    finally:
        pid_file.unlink(missing_ok=True)


def processor_main(build: Callable[[AwsClients], StreamWorker], argv: list[str] | None = None) -> None:
    """A shard's processor process (argv: SETTINGS SERVICE METRICS_FILE): ``build`` the worker from
    the settings ($DATABASE_URL, when set, is the database), log JSON to stderr (the daemon keeps
    it), append each batch's metrics to the file, speak the multilang protocol on stdin/stdout."""
    _, settings_path, service_name, metrics_path = argv if argv is not None else sys.argv
    configure_logging(service_name)
    settings = Settings.load(Path(settings_path)).with_database_url(os.environ.get("DATABASE_URL"))
    processor.run(build(AwsClients(settings)), WorkerMetrics(service_name, Path(metrics_path)))


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


def _started_at() -> float:
    """This process's start (epoch seconds), from /proc as psutil reads it."""
    fields = Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()
    boot = next(
        int(line.split()[1])
        for line in Path("/proc/stat").read_text().splitlines()
        if line.startswith("btime")
    )
    return boot + int(fields[19]) / os.sysconf("SC_CLK_TCK")


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda _signo, _frame: stop.set())
    return stop
