"""A thin wrapper around the terraform CLI (python-terraform has had no release since 2019)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trustpipe.errors import RunError

# Machines without registry access keep the AWS provider in a filesystem mirror.
PLUGIN_MIRROR_ENV = "TRUSTPIPE_TF_PLUGIN_MIRROR"
_DEFAULT_MIRRORS = (Path("/opt/tf-plugins"),)


class TerraformError(RunError):
    """terraform failed or is missing."""


def find_plugin_mirror(explicit: str | None = None) -> Path | None:
    """The provider mirror to use, if this machine has one: ``explicit``, else
    $TRUSTPIPE_TF_PLUGIN_MIRROR, else the usual places."""
    explicit = explicit or os.environ.get(PLUGIN_MIRROR_ENV)
    candidates = [Path(explicit)] if explicit else list(_DEFAULT_MIRRORS)
    for path in candidates:
        if (path / "registry.terraform.io" / "hashicorp" / "aws").is_dir():
            return path
    return None


@dataclass
class Terraform:
    """Runs terraform in ``workdir`` with state and plugins under ``state_dir``."""

    workdir: Path
    state_dir: Path
    plugin_mirror: Path | None = None
    log_file: Path | None = None
    _env: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        if shutil.which("terraform") is None:
            raise TerraformError("terraform is not on PATH; install Terraform >= 1.6")
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self._env = {
            **os.environ,
            "TF_DATA_DIR": str(self.state_dir / "data"),
            "TF_IN_AUTOMATION": "1",
            "TF_INPUT": "0",
            "CHECKPOINT_DISABLE": "1",
        }
        if self.plugin_mirror is not None:
            rc = self.state_dir / "terraformrc"
            rc.write_text(_MIRROR_CONFIG.format(path=self.plugin_mirror))
            self._env["TF_CLI_CONFIG_FILE"] = str(rc)

    @property
    def state_file(self) -> Path:
        return self.state_dir / "terraform.tfstate"

    def init(self, backend_config: str | None = None) -> None:
        """``terraform init``: with the local backend under ``state_dir``, or the root's own
        backend configured from ``backend_config`` (a cloud root's backend.hcl)."""
        backend = backend_config or f"path={self.state_file}"
        self._run("init", "-no-color", f"-backend-config={backend}", "-reconfigure")

    def apply(self, variables: dict[str, str], parallelism: int | None = None) -> None:
        """``terraform apply``; ``parallelism`` above Terraform's 10 suits a moto server (no
        API rate limits), where most of an apply is the provider waiting between polls."""
        args = [f"-var={k}={v}" for k, v in variables.items()]
        if parallelism is not None:
            args.append(f"-parallelism={parallelism}")
        self._run("apply", "-no-color", "-auto-approve", *args)

    def outputs(self) -> dict[str, Any]:
        result: dict[str, Any] = json.loads(self._run("output", "-no-color", "-json"))
        return result

    def _run(self, *args: str) -> str:
        proc = subprocess.run(
            ["terraform", f"-chdir={self.workdir}", *args],
            env=self._env,
            capture_output=True,
            text=True,
            check=False,
        )
        if self.log_file is not None:
            with self.log_file.open("a") as log:
                log.write(f"$ terraform {' '.join(args)}\n{proc.stdout}{proc.stderr}\n")
        if proc.returncode != 0:
            detail = proc.stderr.strip().splitlines()
            raise TerraformError(
                f"terraform {args[0]} failed: " + " ".join(line.strip("│ ") for line in detail[:12])
            )
        return proc.stdout


_MIRROR_CONFIG = """provider_installation {{
  filesystem_mirror {{
    path    = "{path}"
    include = ["registry.terraform.io/hashicorp/aws"]
  }}
  direct {{
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }}
}}
"""
