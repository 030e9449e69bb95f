"""The workers as systemd runs them, for the chaos run."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from collections import Counter
from contextlib import suppress
from pathlib import Path

import psutil

from trustpipe_scenarios.chaos.plan import RESTART_SECONDS, WORKERS
from trustpipe_stack.procs import shipped_command


class Supervisor:
    """The workers as systemd runs them: started, restarted ``RESTART_SECONDS`` after they die,
    SIGTERMed at the end. ``kill`` SIGKILLs a worker's whole process tree (a dead host)."""

    def __init__(self, settings_path: Path, work_dir: Path) -> None:
        self.settings_path, self.work_dir = settings_path, work_dir
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.restarts: Counter[str] = Counter()
        self.stopping = threading.Event()
        self._lock = threading.RLock()  # stop() kills a worker that ignored SIGTERM while holding it
        self._watch = threading.Thread(target=self._restart_dead, daemon=True)

    def start(self) -> None:
        for name in WORKERS:
            self._spawn(name)
        self._watch.start()

    def _spawn(self, name: str) -> None:
        self.work_dir.mkdir(parents=True, exist_ok=True)
        argv = shipped_command(*WORKERS[name], "--settings", str(self.settings_path))
        with (self.work_dir / f"{name}.out").open("ab") as out:
            self.procs[name] = subprocess.Popen(
                [*argv, "--work-dir", str(self.work_dir / name)],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )

    def kill(self, name: str) -> None:
        with self._lock:
            proc = self.procs[name]
            try:
                tree = psutil.Process(proc.pid)
                victims = [*tree.children(recursive=True), tree]
            except psutil.NoSuchProcess:
                return
            for p in victims:
                with suppress(psutil.NoSuchProcess):
                    p.kill()
            proc.wait()

    def exited(self) -> list[str]:
        return [name for name, proc in self.procs.items() if proc.poll() is not None]

    def _restart_dead(self) -> None:
        died: dict[str, float] = {}
        while not self.stopping.wait(0.5):
            with self._lock:
                for name, proc in self.procs.items():
                    if proc.poll() is None:
                        continue
                    died.setdefault(name, time.monotonic())
                    if time.monotonic() - died[name] >= RESTART_SECONDS:
                        del died[name]
                        self.restarts[name] += 1
                        self._spawn(name)

    def stop(self) -> dict[str, int]:
        self.stopping.set()
        self._watch.join(timeout=5)
        with self._lock:
            for proc in self.procs.values():
                if proc.poll() is None:
                    proc.send_signal(signal.SIGTERM)
            codes = {}
            for name, proc in self.procs.items():
                try:
                    codes[name] = proc.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    self.kill(name)
                    codes[name] = proc.wait()
        return codes
