"""The launcher with small real processes: started in their own session with their log, killed
with their whole tree, stopped with their exit codes, restarted under the same arguments, and
restarted by the policy as systemd's ``Restart=on-failure`` would."""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest

from trustpipe_stack import launcher
from trustpipe_stack.launcher import Launcher, LauncherError, RestartPolicy

SLEEPER = [sys.executable, "-c", "import sys, time; print(sys.argv[1:], flush=True); time.sleep(60)"]
TRAPS_SIGTERM = [
    sys.executable,
    "-c",
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(3))\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)",
]
TREE = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True)
grandchild = subprocess.Popen(
    [sys.executable, "-c", "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', "
     "'import time; time.sleep(60)']); time.sleep(60)"]
)
time.sleep(60)
"""
"""A worker like a stream worker: a child in a session of its own (the KCL daemon), another with a
child of its own."""


@pytest.fixture
def workers(tmp_path: Path) -> Iterator[Launcher]:
    started = Launcher(tmp_path / "logs")
    yield started
    started.stop(timeout=5)


def wait_until(what: str, check: Callable[[], bool], timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


def logged(workers: Launcher, name: str) -> str:
    return (workers.log_dir / f"{name}.out").read_text()


def alive(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def test_a_worker_runs_in_its_own_session_with_its_log(workers: Launcher) -> None:
    pid = workers.start("w", [*SLEEPER, "--slot", "1"])
    wait_until("the worker wrote its log", lambda: "--slot" in logged(workers, "w"))
    assert os.getsid(pid) == pid and os.getpgid(pid) == pid
    assert workers.exited() == []


def test_kill_leaves_nothing_of_the_tree_not_even_a_child_in_its_own_session(workers: Launcher) -> None:
    # GIVEN a worker with a child in a session of its own, and a grandchild
    pid = workers.start("w", [sys.executable, "-c", TREE])
    wait_until("the tree started", lambda: len(psutil.Process(pid).children(recursive=True)) == 3)
    tree = [p.pid for p in psutil.Process(pid).children(recursive=True)]
    # WHEN it is killed, as a host dies
    workers.kill("w")
    # THEN none of it is left, and the worker counts as exited by SIGKILL
    assert [p for p in [pid, *tree] if alive(p)] == []
    assert workers.exited() == ["w"]
    assert workers.procs["w"].returncode == -signal.SIGKILL


def test_stop_sigterms_every_worker_and_returns_their_exit_codes(workers: Launcher) -> None:
    workers.start("traps", TRAPS_SIGTERM)
    workers.start("plain", SLEEPER)
    wait_until("the handler is set", lambda: "ready" in logged(workers, "traps"))
    assert workers.stop(timeout=10) == {"traps": 3, "plain": -signal.SIGTERM}


def test_stop_kills_a_worker_that_outlives_its_timeout(workers: Launcher) -> None:
    ignores = [sys.executable, "-c", "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
               "print('ready', flush=True); time.sleep(60)"]  # fmt: skip
    workers.start("stubborn", ignores)
    wait_until("the handler is set", lambda: "ready" in logged(workers, "stubborn"))
    began = time.monotonic()
    assert workers.stop(timeout=1) == {"stubborn": -signal.SIGKILL}
    assert time.monotonic() - began < 10


def test_restart_starts_the_worker_again_under_the_same_arguments(workers: Launcher) -> None:
    first = workers.start("w", [*SLEEPER, "--slot", "2"])
    wait_until("the first run logged", lambda: "'--slot', '2'" in logged(workers, "w"))
    workers.kill("w")
    second = workers.restart("w")
    assert second != first and workers.exited() == []
    wait_until("the second run logged", lambda: logged(workers, "w").count("'--slot', '2'") == 2)


def test_a_worker_is_not_started_twice_under_one_name(workers: Launcher) -> None:
    workers.start("w", SLEEPER)
    with pytest.raises(LauncherError, match="running already"):
        workers.start("w", SLEEPER)


@pytest.mark.parametrize(
    ("returncode", "restarted"),
    [(0, False), (1, True), (-signal.SIGKILL, True), (-signal.SIGSEGV, True), (-signal.SIGTERM, False)],
)
def test_on_failure_restarts_what_systemd_would(returncode: int, restarted: bool) -> None:
    assert RestartPolicy(delay=5).restarts(returncode) is restarted
    assert RestartPolicy(delay=5, always=True).restarts(returncode)


def test_the_policy_restarts_a_killed_or_failed_worker_after_its_delay_but_not_a_clean_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(launcher, "POLL_SECONDS", 0.05)
    supervised = Launcher(tmp_path / "logs", restart=RestartPolicy(delay=0.3))
    try:
        # GIVEN a worker that runs, one that fails at once and one that is done at once
        runs = supervised.start("runs", SLEEPER)
        supervised.start("fails", [sys.executable, "-c", "raise SystemExit(1)"])
        supervised.start("done", [sys.executable, "-c", "pass"])
        # WHEN the one that runs is killed
        supervised.kill("runs")
        # THEN it is back after the delay, under a new pid; the failing one is restarted too
        wait_until("the killed worker restarted", lambda: supervised.restarts["runs"] == 1)
        assert supervised.procs["runs"].pid != runs
        wait_until("the failing worker restarted twice", lambda: supervised.restarts["fails"] >= 2)
        # and the one that exited 0 is left alone
        assert supervised.restarts["done"] == 0
    finally:
        codes = supervised.stop(timeout=5)
    # AND once stopped, nothing is restarted any more
    restarts = dict(supervised.restarts)
    time.sleep(0.5)
    assert dict(supervised.restarts) == restarts
    assert codes["runs"] == -signal.SIGTERM and codes["done"] == 0
