"""Processes the local stack starts: recorded by pid and start time, stopped by pid, never by name.

A pid file names a process and when it started: after a reboot or a long pause the same pid may
belong to another process, which must never be signalled. ``read_pid`` answers only for a
process that is alive and started when the file says.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path

SHIPPED_CLI = "trustpipe_cli"
"""The module of the shipped `trustpipe` command: what a worker host's units run."""


def shipped_command(*args: str) -> list[str]:
    """``trustpipe ARGS`` as a worker host runs it: the shipped commands alone, in this
    interpreter (never the developers' commands, which this package sits under)."""
    return [sys.executable, "-m", SHIPPED_CLI, *args]


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie child of ours still answers kill(0): reap it if it is ours.
    try:
        done, _ = os.waitpid(pid, os.WNOHANG)
    except ChildProcessError:
        return True
    return done == 0


START_TOLERANCE_SECONDS = 2.0
"""How far a recorded start time may be from the process's own (PostgreSQL records whole seconds)."""


def started_at(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch), or None when there is no such process."""
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except (psutil.NoSuchProcess, psutil.AccessDenied):
        return None


def write_pid(path: Path, pid: int) -> None:
    """Record ``pid`` with its start time."""
    path.write_text(f"{pid} {started_at(pid) or 0:.3f}\n")


def same_process(pid: int, recorded_start: float) -> bool:
    """``pid`` is alive and is the process that started at ``recorded_start``."""
    actual = started_at(pid)
    return actual is not None and abs(actual - recorded_start) <= START_TOLERANCE_SECONDS and pid_alive(pid)


def read_pid(path: Path) -> int | None:
    """The pid recorded in ``path`` if that very process is still running, else None."""
    try:
        fields = path.read_text().split()
        pid, start = int(fields[0]), float(fields[1])
    except (FileNotFoundError, ValueError, IndexError):
        return None
    return pid if same_process(pid, start) else None


def stop_pid(pid: int, sig: int = signal.SIGTERM, timeout: float = 15.0) -> None:
    """Signal ``pid`` and wait for it to exit; SIGKILL after ``timeout``."""
    if not pid_alive(pid):
        return
    os.kill(pid, sig)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    while pid_alive(pid):
        time.sleep(0.05)


def wait_for_port(host: str, port: int, timeout: float, pid: int | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pid is not None and not pid_alive(pid):
            raise RuntimeError(f"process {pid} exited before listening on {host}:{port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listened on {host}:{port} within {timeout:.0f}s")
