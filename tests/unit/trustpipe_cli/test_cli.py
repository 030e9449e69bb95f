"""Bad CLI input ends with one clear line and a non-zero exit, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.harness.cli import run_cli as run
from tests.harness.paths import ROOT


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["sensors", "run", "--hour", "2026-11-26 13h"],
            "hour '2026-11-26 13h' is not of the form YYYY-MM-DDTHH",
        ),
        (["sensors", "run", "--hour", "2026-11-26T13", "-e", "hooli"], "the local stack is not up"),
        (["landing", "inspect", "--hour", "2026-11-26T13"], "the local stack is not up"),
        (["backfill", "--from", "2026-11-26T10", "--to", "2026-11-26T09"], "is before --from 2026-11-26T10"),
        (["backfill", "--from", "2025-01-01T00", "--to", "2026-11-26T09"], "one backfill covers at most 744"),
        (["backfill", "--from", "yesterday", "--to", "2026-11-26T09"], "hour 'yesterday' is not of the form"),
        (["backfill", "--from", "2026-11-26T08", "--to", "2026-11-26T09"], "the local stack is not up"),
        (
            ["search", "reindex", "--from", "2026-11-26T10", "--to", "2026-11-26T09"],
            "is before --from 2026-11-26T10",
        ),
        (
            ["search", "reindex", "--from", "today", "--to", "2026-11-26T09"],
            "hour 'today' is not of the form",
        ),
        (
            ["search", "reindex", "--from", "2026-11-26T08", "--to", "2026-11-26T09"],
            "the local stack is not up",
        ),
        (["search", "reconcile", "--hour", "2026-11-26T08"], "the local stack is not up"),
    ],
)
def test_bad_input_is_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    result = run(*args, "--state-dir", str(tmp_path / "state"))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr


def test_unknown_enterprise_named_with_the_known_ones(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text(Path(ROOT / "tests/unit/fixtures/settings.json").read_text())
    result = run("sensors", "run", "--hour", "2026-11-26T13", "-e", "hooli", "--settings", str(settings))
    assert result.returncode == 2
    assert result.stderr.strip() == "error: unknown enterprise hooli; known: acme, globex, initech"


def test_malformed_settings_file(tmp_path: Path) -> None:
    settings = tmp_path / "settings.json"
    settings.write_text('{"region": ')
    result = run("landing", "inspect", "--settings", str(settings))
    assert result.returncode == 2
    assert "is not valid JSON" in result.stderr and "Traceback" not in result.stderr


def test_outside_a_checkout(tmp_path: Path) -> None:
    result = run("local", "status", cwd=tmp_path)
    assert result.returncode == 2
    assert "no trustpipe checkout" in result.stderr


def test_status_of_a_stack_that_is_not_up(tmp_path: Path) -> None:
    result = run("local", "status", "--state-dir", str(tmp_path))
    assert result.returncode == 1
    assert '"running": false' in result.stdout


def test_scale_out_of_range_is_a_usage_error(tmp_path: Path) -> None:
    result = run("sensors", "run", "--scale", "0", "--state-dir", str(tmp_path))
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
