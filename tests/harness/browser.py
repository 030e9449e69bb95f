"""The browser the UI tests drive: Debian's chromium (Playwright's own download is not reachable)."""

from __future__ import annotations

import shutil


def chromium() -> str:
    """Its path; a clear failure when it is not installed (`.ci/run` and `make test` install it)."""
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    assert path, "the browser tests need Debian's chromium: apt-get install chromium"
    return path
