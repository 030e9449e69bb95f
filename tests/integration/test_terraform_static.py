"""Every Terraform module and root is formatted and valid (with the providers it pins)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.cli import ROOT
from trustpipe_cli.terraform import find_plugin_mirror

CONFIGS = sorted(p.parent for p in (ROOT / "infra").glob("*/*/versions.tf"))


def terraform(workdir: Path, data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "TF_DATA_DIR": str(data_dir),
        "TF_IN_AUTOMATION": "1",
        "CHECKPOINT_DISABLE": "1",
    }
    mirror = find_plugin_mirror()
    if mirror is not None:
        rc = data_dir / "terraformrc"
        rc.parent.mkdir(parents=True, exist_ok=True)
        rc.write_text(f'provider_installation {{\n  filesystem_mirror {{\n    path = "{mirror}"\n  }}\n}}\n')
        env["TF_CLI_CONFIG_FILE"] = str(rc)
    return subprocess.run(
        ["terraform", f"-chdir={workdir}", *args, "-no-color"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_every_config_is_found() -> None:
    names = {f"{p.parent.name}/{p.name}" for p in CONFIGS}
    assert {
        "modules/data_lake",
        "modules/messaging",
        "modules/streaming",
        "modules/schema_registry",
        "envs/local",
    } <= names


@pytest.mark.parametrize("config", CONFIGS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_fmt_and_validate(config: Path, tmp_path: Path) -> None:
    fmt = terraform(config, tmp_path, "fmt", "-check", "-diff")
    assert fmt.returncode == 0, fmt.stdout + fmt.stderr
    init = terraform(config, tmp_path, "init", "-backend=false", "-input=false")
    assert init.returncode == 0, init.stderr
    validate = terraform(config, tmp_path, "validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr
