"""Pid files name a process and its start time: a reused pid is never signalled."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from trustpipe_deploy.terraform import PLUGIN_MIRROR_ENV, find_plugin_mirror
from trustpipe_stack.procs import read_pid, started_at, stop_pid, write_pid


def test_a_recorded_process_is_found_while_it_runs_and_not_after(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        write_pid(tmp_path / "p.pid", proc.pid)
        assert read_pid(tmp_path / "p.pid") == proc.pid
    finally:
        stop_pid(proc.pid)
    assert read_pid(tmp_path / "p.pid") is None


def test_a_pid_now_held_by_another_process_is_not_ours(tmp_path: Path) -> None:
    # GIVEN a pid file naming a live pid (this test's own) but another start time, as after a reuse
    start = started_at(os.getpid())
    assert start is not None
    (tmp_path / "p.pid").write_text(f"{os.getpid()} {start - 3600:.3f}\n")
    # THEN it is not taken for the process that wrote the file
    assert read_pid(tmp_path / "p.pid") is None


@pytest.mark.parametrize("text", ["", "abc", "123", "123 nope"])
def test_unreadable_pid_files_name_no_process(tmp_path: Path, text: str) -> None:
    (tmp_path / "p.pid").write_text(text)
    assert read_pid(tmp_path / "p.pid") is None


def test_the_plugin_mirror_is_read_from_its_variable(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "registry.terraform.io" / "hashicorp" / "aws").mkdir(parents=True)
    monkeypatch.setenv(PLUGIN_MIRROR_ENV, str(tmp_path))
    assert find_plugin_mirror() == tmp_path
    monkeypatch.setenv(PLUGIN_MIRROR_ENV, str(tmp_path / "empty"))
    assert find_plugin_mirror() is None
