"""`trustpipe tenants list`: the tenant map of the settings, as a table or JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.cli import run_cli
from tests.harness.paths import ROOT
from trustpipe.settings import Settings
from trustpipe_cli.tenants import tenant_rows

FIXTURE = ROOT / "tests/unit/fixtures/settings.json"


def _settings_file(tmp_path: Path, tenants: object) -> Path:
    data = json.loads(FIXTURE.read_text())
    data["tenants"] = tenants
    path = tmp_path / "settings.json"
    path.write_text(json.dumps(data))
    return path


def test_json_is_the_settings_tenant_map() -> None:
    done = run_cli("tenants", "list", "--json", "--settings", str(FIXTURE))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == json.loads(FIXTURE.read_text())["tenants"]


def test_the_table_names_every_enterprise_with_its_four_resources_whole() -> None:
    done = run_cli("tenants", "list", "--settings", str(FIXTURE))
    assert done.returncode == 0, done.stderr
    assert "3 enterprises" in done.stdout
    # folded onto several lines, but every character of every ARN and URL is there
    expected = json.loads(FIXTURE.read_text())["tenants"]
    assert _rows(done.stdout) == [[e, *own.values()] for e, own in sorted(expected.items())]


def _rows(table: str) -> list[list[str]]:
    """A Rich table's body rows, each cell's folded lines joined again."""
    rows: list[list[str]] = []
    body = [line.split("│")[1:-1] for line in table.splitlines() if line.startswith("│")]
    for cells in body:  # (the header is drawn with another bar)
        if cells[0].strip():
            rows.append([""] * len(cells))
        rows[-1] = [done + cell.strip() for done, cell in zip(rows[-1], cells, strict=True)]
    return rows


def test_rows_are_by_id_and_name_what_the_settings_lack_as_empty() -> None:
    settings = Settings.from_dict({**json.loads(FIXTURE.read_text()), "tenants": {"zeta": {}, "acme": {}}})
    rows = tenant_rows(settings)
    assert [r["enterprise"] for r in rows] == ["acme", "zeta"]
    assert rows[0] == dict.fromkeys(rows[0], "") | {"enterprise": "acme"}


def test_a_deployment_without_tenants_lists_none(tmp_path: Path) -> None:
    done = run_cli("tenants", "list", "--json", "--settings", str(_settings_file(tmp_path, {})))
    assert done.returncode == 0 and json.loads(done.stdout) == {}


@pytest.mark.parametrize(
    ("tenants", "message"),
    [
        (["acme"], "tenants must be an object"),
        ({"Acme": {}}, "enterprise id 'Acme' must be 1-32"),
        ({"x" * 33: {}}, "must be 1-32 lower-case"),
        ({"acme\n": {}}, "must be 1-32 lower-case"),
        ({"acme": "arn:aws:iam::1:role/x"}, "'acme' must map names to strings"),
        ({"acme": {"action_queue_url": 7}}, "'acme' must map names to strings"),
        ({"acme": {"sensor_role": "arn"}}, "'acme' has unknown sensor_role"),
    ],
)
def test_a_malformed_tenant_map_is_one_line(tmp_path: Path, tenants: object, message: str) -> None:
    done = run_cli("tenants", "list", "--settings", str(_settings_file(tmp_path, tenants)))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert message in line, done.stderr
