"""Run a command as a user would: a separate process, its output captured as text."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from tests.harness.paths import ROOT

CLI = [sys.executable, "-c", "from trustpipe_cli.main import main; main()"]


def run(
    argv: Sequence[str], cwd: Path = ROOT, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``argv`` run to its end; its exit code is the caller's to judge."""
    return subprocess.run(
        list(argv), capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False, env=env
    )


def run_cli(
    *args: str, cwd: Path = ROOT, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """The `trustpipe` command with ``args``."""
    return run([*CLI, *args], cwd, timeout, env)
