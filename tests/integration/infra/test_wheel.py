"""The wheel the hosts install (`make image-inputs`): the core, the deployables, orchestration and
the shipped CLI; none of the developers' packages. Its `trustpipe` entry point imports and
registers every command the units start with those packages out of reach."""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

import pytest

from tests.harness.cli import run
from tests.harness.paths import ROOT

DEV_PACKAGES = (
    "trustpipe_devcli",
    "trustpipe_scenarios",
    "trustpipe_planning",
    "trustpipe_stack",
    "trustpipe_emulation",
    "trustpipe_deploy",
)
"""What a checkout has and a host must not: the local stack, its AWS emulation, the scenarios,
the planning tools, the deploy and the commands over them."""
SOURCE_DIRS = ("services", "schema_registry_lambda", "spark_jobs")
"""Where the checkout's editable install finds every package (pyproject's dev-mode-dirs)."""
UNIT_COMMANDS = {"scorer", "importer", "alerter", "db"}
"""What ansible/roles/trustpipe_worker's units and the Airflow host's connection command start."""
DEV_COMMANDS = {"local", "airflow", "demo", "chaos", "deploy", "simulate", "cost"}

PROBE = """
import importlib.util, json, sys
wheel, dev, hidden = sys.argv[1], json.loads(sys.argv[2]), set(sys.argv[3:])
sys.path[:] = [wheel] + [p for p in sys.path if p not in hidden and p not in ("", ".")]
from trustpipe_cli import main
app = main.full_app()
print(json.dumps({
    "file": main.__file__,
    "dev_found": [n for n in dev if importlib.util.find_spec(n) is not None],
    "dev_loaded": sorted(m for m in sys.modules if m.split(".")[0] in dev),
    "commands": sorted([c.name for c in app.registered_commands] + [g.name for g in app.registered_groups]),
}))
"""


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheelhouse")
    result = run([sys.executable, "-m", "uv", "build", "--wheel", "--out-dir", str(out)], timeout=300)
    assert result.returncode == 0, result.stderr
    (built,) = out.glob("trustpipe-*.whl")
    return built


def test_the_wheel_ships_no_dev_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        top = {name.split("/")[0] for name in archive.namelist()}
        entry_points = archive.read(next(n for n in archive.namelist() if n.endswith("entry_points.txt")))
    assert {"trustpipe", "trustpipe_cli", "trustpipe_stream", "trustpipe_importer"} <= top
    assert sorted(top & set(DEV_PACKAGES)) == []
    assert "trustpipe = trustpipe_cli.main:main" in entry_points.decode()


def test_the_shipped_cli_runs_without_the_dev_packages(wheel: Path, tmp_path: Path) -> None:
    # GIVEN the wheel unpacked, and the checkout's sources out of the interpreter's path
    unpacked = tmp_path / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(unpacked)
    hidden = [str(ROOT / d) for d in SOURCE_DIRS]
    # WHEN its entry point's module builds the command line
    result = run(
        [sys.executable, "-c", PROBE, str(unpacked), json.dumps(DEV_PACKAGES), *hidden], cwd=tmp_path
    )
    # THEN it comes from the wheel, finds no dev package, and has the units' commands alone
    assert result.returncode == 0, result.stderr
    probe = json.loads(result.stdout)
    assert probe["file"].startswith(str(unpacked)), probe["file"]
    assert probe["dev_found"] == [] and probe["dev_loaded"] == []
    assert set(probe["commands"]) >= UNIT_COMMANDS
    assert not DEV_COMMANDS & set(probe["commands"])
