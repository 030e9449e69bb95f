"""Run the `trustpipe` CLI as a user would: a separate process, output captured."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.harness.paths import ROOT

CLI = [sys.executable, "-c", "from trustpipe_cli.main import main; main()"]


def run_cli(
    *args: str, cwd: Path = ROOT, timeout: float = 120, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*CLI, *args], capture_output=True, text=True, cwd=cwd, timeout=timeout, check=False, env=env
    )
