"""Every Terraform module and root is formatted and valid (with the providers it pins)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.harness.paths import ROOT
from trustpipe_deploy.terraform import find_plugin_mirror

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
    modules = ("keys", "network", "data_lake", "messaging", "streaming", "schema_registry", "workers", "emr")
    modules += ("code", "database", "orchestration", "monitoring", "pipeline", "private_bucket", "alerting")
    modules += ("tenants", "ingest", "stream_lambda", "search", "counters", "review")
    assert {f"modules/{m}" for m in modules} | {"envs/local", "envs/dev", "envs/prod"} == names


@pytest.mark.parametrize("module", sorted((ROOT / "infra" / "modules").iterdir()), ids=lambda p: p.name)
def test_modules_have_the_four_file_shape_and_described_variables(module: Path) -> None:
    assert {"main.tf", "variables.tf", "outputs.tf", "versions.tf"} <= {p.name for p in module.glob("*.tf")}
    blocks = (module / "variables.tf").read_text().split('variable "')[1:]
    for block in blocks:
        assert "description" in block and "type" in block, block.splitlines()[0]


def test_cloud_roots_keep_state_in_s3_with_a_lock() -> None:
    for env in ("dev", "prod"):
        versions = (ROOT / "infra" / "envs" / env / "versions.tf").read_text()
        assert 'backend "s3"' in versions and "encrypt = true" in versions
        example = (ROOT / "infra" / "envs" / env / "backend.hcl.example").read_text()
        assert "dynamodb_table" in example


ROOTS = [c for c in CONFIGS if c.parent.name == "envs"]


@pytest.mark.parametrize("config", ROOTS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_each_root_and_every_module_it_calls_is_valid(config: Path, tmp_path: Path) -> None:
    # (validating a root validates each module it calls, with the values it passes: every module
    # is called, below; `make lint` holds the formatting of all of infra/)
    init = terraform(config, tmp_path, "init", "-backend=false", "-input=false")
    assert init.returncode == 0, init.stderr
    validate = terraform(config, tmp_path, "validate")
    assert validate.returncode == 0, validate.stdout + validate.stderr


def test_every_module_is_called_from_a_root() -> None:
    called: set[Path] = set()
    todo = list(ROOTS)
    while todo:
        config = todo.pop()
        for tf in config.glob("*.tf"):
            for block in _hcl(tf).get("module", []):
                for body in block.values():
                    module = (config / body["source"].strip('"')).resolve()
                    if module not in called:
                        called.add(module)
                        todo.append(module)
    assert {c.resolve() for c in CONFIGS if c.parent.name == "modules"} <= called


def _hcl(path: Path) -> dict[str, Any]:
    import hcl2

    with path.open() as f:
        return hcl2.load(f)  # type: ignore[no-any-return]


@pytest.mark.parametrize("env", ["local", "dev", "prod"])
def test_every_root_is_a_thin_root_over_the_pipeline_with_one_settings_output(env: Path) -> None:
    root = ROOT / "infra" / "envs" / str(env)
    main = _hcl(root / "main.tf")
    modules = [name.strip('"') for block in main.get("module", []) for name in block]
    assert modules == ["pipeline"], f"{env} wires {modules}: compose modules/pipeline instead"
    outputs = {n.strip('"'): b for block in _hcl(root / "outputs.tf")["output"] for n, b in block.items()}
    assert outputs["settings"]["value"] == "${module.pipeline.settings}"


def test_the_pipeline_settings_are_the_services_settings() -> None:
    from dataclasses import fields

    from trustpipe.settings import Settings

    main = _hcl(ROOT / "infra" / "modules" / "pipeline" / "main.tf")
    settings = next(block["settings"] for block in main["locals"] if "settings" in block)
    assert {k.strip('"') for k in settings} == {f.name for f in fields(Settings)}
    # On AWS the settings name the SSM parameter the domain's URL is published in (the URL cannot
    # be in them: the domain is made after the hosts that read them), and it is that parameter the
    # pipeline writes the search module's URL to and the indexer's and Airflow's roles may read
    assert settings["search_url"] is None
    # and the review pool's ids reach its function by its environment, not these settings
    assert settings["review_user_pool_id"] is None and settings["review_client_id"] is None
    assert settings["search_url_parameter"] == "${local.search_url_parameter}"
    (parameter,) = [
        r['"aws_ssm_parameter"']['"search_url"'] for r in main["resource"] if '"aws_ssm_parameter"' in r
    ]
    assert parameter["name"] == "${local.search_url_parameter}"
    assert parameter["value"] == "${one(module.search[*].url)}"
    assert parameter["type"].strip('"') == "String" and parameter["count"] == "${var.enable_search ? 1 : 0}"
    local = {k: v for block in main["locals"] for k, v in block.items()}
    assert "/search/url" in local["search_url_parameter"]
    assert ":parameter${local.search_url_parameter}" in local["search_url_parameter_arn"]
    modules = {name.strip('"'): body for block in main["module"] for name, body in block.items()}
    for module in ("workers", "orchestration"):
        assert modules[module]["search_url_parameter_arn"] == "${local.search_url_parameter_arn}", module
    for module in ("workers", "orchestration"):
        text = (ROOT / "infra" / "modules" / module / "main.tf").read_text()
        assert 'actions   = ["ssm:GetParameter"]\n' in text and "[var.search_url_parameter_arn]" in text, (
            module
        )
        assert "es:DescribeDomain" not in text, module
