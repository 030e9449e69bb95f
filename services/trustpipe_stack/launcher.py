"""Named worker commands run as systemd runs a unit: each in its own session with its log file,
stopped with SIGTERM, killed with its whole process tree (a host that dies), started again under
the same arguments, and, with a restart policy, restarted when it exits on its own.

The demo, the chaos run, the stream path's tests and Airflow standalone's importer start their
workers here; every process is addressed by its pid, never by name.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import psutil

from trustpipe.errors import RunError

STOP_TIMEOUT_SECONDS = 120.0
"""How long a SIGTERMed worker may take to drain before its tree is killed (the stream workers'
final checkpoint takes up to the KCL's ``shutdownGraceMillis``, 60 s)."""
POLL_SECONDS = 0.5
"""How often the restart policy looks for workers that exited."""
CLEAN_SIGNALS = frozenset({signal.SIGHUP, signal.SIGINT, signal.SIGTERM, signal.SIGPIPE})
"""Deaths systemd's ``Restart=on-failure`` counts as clean (besides exit code 0)."""


class LauncherError(RunError):
    """A worker was started twice under one name."""


@dataclass(frozen=True)
class RestartPolicy:
    """systemd's ``Restart=`` and ``RestartSec=``: which exits are restarted, and after how long."""

    delay: float
    """``RestartSec``: seconds from the exit to the restart."""
    always: bool = False
    """``Restart=always``; otherwise ``on-failure``: a non-zero exit or an unclean signal."""

    def restarts(self, returncode: int) -> bool:
        """Whether a worker that exited with ``returncode`` (negative: killed by that signal) is
        started again."""
        if self.always:
            return True
        if returncode < 0:
            return -returncode not in CLEAN_SIGNALS
        return returncode != 0


class Launcher:
    """Workers by name, each a process in its own session, its output appended to
    ``<log_dir>/<name>.out``; ``restart`` makes it a supervisor."""

    def __init__(
        self,
        log_dir: Path,
        *,
        env: Mapping[str, str] | None = None,
        restart: RestartPolicy | None = None,
    ) -> None:
        self.log_dir, self.env, self.policy = log_dir, env, restart
        self.argv: dict[str, list[str]] = {}
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: Counter[str] = Counter()
        """How many times the policy started each worker again."""
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._stopped: set[str] = set()
        self._watch: threading.Thread | None = None

    def start(self, name: str, argv: Sequence[str]) -> int:
        """Start worker ``name`` as ``argv``; its pid."""
        with self._lock:
            if name in self.procs and self.procs[name].poll() is None:
                raise LauncherError(f"{name} is running already (pid {self.procs[name].pid})")
            self.argv[name] = list(argv)
            self._stopped.discard(name)
            self._spawn(name)
            if self.policy is not None and self._watch is None:
                self._watch = threading.Thread(target=self._supervise, name="launcher", daemon=True)
                self._watch.start()
            return self.procs[name].pid

    def restart(self, name: str, timeout: float = STOP_TIMEOUT_SECONDS) -> int:
        """Stop ``name`` if it runs, then start it under the arguments it was started with; its
        new pid."""
        with self._lock:
            self.stop(name, timeout=timeout)
            return self.start(name, self.argv[name])

    def kill(self, name: str) -> None:
        """SIGKILL ``name`` with every process it started, at once, as a host dies (the policy
        restarts it); nothing when it is not running."""
        with self._lock:
            proc = self.procs[name]
            if proc.poll() is None:
                kill_tree(proc.pid)
            proc.wait()

    def exited(self) -> list[str]:
        """The workers not running now."""
        with self._lock:
            return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def stop(self, *names: str, timeout: float = STOP_TIMEOUT_SECONDS) -> dict[str, int]:
        """SIGTERM the workers ``names`` (default: all, and the policy stops watching), wait up
        to ``timeout`` for them, kill the tree of any still running; each one's exit code. A
        worker stopped here is not restarted by the policy."""
        if not names:
            self._stopping.set()
            if self._watch is not None:
                self._watch.join(timeout=5)
        with self._lock:
            chosen = {n: self.procs[n] for n in (names or self.procs)}
            self._stopped.update(chosen)
            for proc in chosen.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            deadline = time.monotonic() + timeout
            codes = {}
            for name, proc in chosen.items():
                try:
                    codes[name] = proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    self.kill(name)
                    codes[name] = proc.wait()
            return codes

    def _spawn(self, name: str) -> None:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        with (self.log_dir / f"{name}.out").open("ab") as out:
            self.procs[name] = subprocess.Popen(
                self.argv[name],
                env=None if self.env is None else dict(self.env),
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )

    def _supervise(self) -> None:
        assert self.policy is not None
        died: dict[str, float] = {}
        while not self._stopping.wait(POLL_SECONDS):
            with self._lock:
                for name, proc in self.procs.items():
                    code = proc.poll()
                    if code is None or name in self._stopped or not self.policy.restarts(code):
                        died.pop(name, None)
                        continue
                    died.setdefault(name, time.monotonic())
                    if time.monotonic() - died[name] >= self.policy.delay:
                        del died[name]
                        self._spawn(name)  # counted once it runs: readers of restarts take no lock
                        self.restarts[name] += 1


def kill_tree(pid: int, timeout: float = 10.0) -> int:
    """SIGKILL ``pid``, every descendant and whatever is left in its process group (when it leads
    one); how many processes were signalled. Descendants in sessions of their own (a KCL daemon)
    are found through their parents, so the tree is read before anything dies. Waits until the
    descendants are gone; ``pid`` itself is left for its parent to reap."""
    try:
        root = psutil.Process(pid)
        descendants = root.children(recursive=True)
        leads_group = os.getpgid(pid) == pid
    except (psutil.NoSuchProcess, ProcessLookupError):
        return 0
    for proc in [*descendants, root]:
        with contextlib.suppress(psutil.NoSuchProcess):
            proc.kill()
    if leads_group:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while any(_alive(p) for p in descendants) and time.monotonic() < deadline:
        time.sleep(0.05)
    return len(descendants) + 1


def _alive(proc: psutil.Process) -> bool:
    """Running still: neither gone nor a zombie waiting for its parent."""
    try:
        return bool(proc.status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False
