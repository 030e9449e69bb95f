"""`trustpipe review`: its OpenAPI document on stdout, and one line for a reviewer that cannot be
added or a server that cannot serve (a separate process, nothing of the local stack running)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.cli import run_cli
from tests.harness.paths import ROOT

FIXTURE = ROOT / "tests/unit/fixtures/settings.json"


def settings_file(tmp_path: Path, **changes: object) -> Path:
    path = tmp_path / "settings.json"
    path.write_text(json.dumps({**json.loads(FIXTURE.read_text()), **changes}))
    return path


def test_openapi_prints_the_committed_document() -> None:
    result = run_cli("review", "openapi", "--out", "-")
    assert result.returncode == 0, result.stderr
    assert result.stdout == (ROOT / "docs" / "review-openapi.json").read_text()


@pytest.mark.parametrize(
    ("args", "changes", "message"),
    [
        pytest.param(
            ["user", "add", "--enterprise", "acme", "--email", "a@acme.test"],
            {},
            "no review user pool",
            id="no-pool",
        ),
        pytest.param(
            ["user", "add", "--enterprise", "nobody", "--email", "a@x.test"],
            {"review_user_pool_id": "us-east-1_p", "review_client_id": "c"},
            "is not served by this deployment",
            id="unserved-enterprise",
        ),
        pytest.param(["serve"], {}, "no review user pool and client", id="serve-without-pool"),
    ],
)
def test_review_commands_refuse_with_one_line(
    tmp_path: Path, args: list[str], changes: dict[str, str], message: str
) -> None:
    result = run_cli("review", *args, "--settings", str(settings_file(tmp_path, **changes)))
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
