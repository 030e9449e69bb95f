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
from trustpipe.progress import Progress, quiet

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
            raise TerraformError("terraform is not on PATH; install Terraform >= 1.11")
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

    def apply(
        self, variables: dict[str, str], parallelism: int | None = None, progress: Progress = quiet
    ) -> None:
        """``terraform apply``; ``parallelism`` above Terraform's 10 suits a moto server (no
        API rate limits), where most of an apply is the provider waiting between polls.
        ``progress`` hears resources applied of the plan's changes (Terraform's JSON UI)."""
        args = [f"-var={k}={v}" for k, v in variables.items()]
        if parallelism is not None:
            args.append(f"-parallelism={parallelism}")
        command = ["terraform", f"-chdir={self.workdir}", "apply", "-json", "-auto-approve", *args]
        proc = subprocess.Popen(
            command, env=self._env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert proc.stdout is not None and proc.stderr is not None
        counter = ApplyCounter()
        lines = []
        shown: tuple[int, int | None] | None = None
        for line in proc.stdout:
            message = counter.feed(line)
            if message is not None:
                lines.append(message)
            if counter.total is not None and (counter.done, counter.total) != shown:
                shown = (counter.done, counter.total)
                progress(APPLY_PROGRESS, *shown)
        stderr = proc.stderr.read()
        proc.wait()
        if self.log_file is not None:
            with self.log_file.open("a") as log:
                log.write("$ terraform apply -json\n" + "\n".join(lines) + f"\n{stderr}\n")
        if proc.returncode != 0:
            detail = counter.errors or stderr.strip().splitlines()
            raise TerraformError("terraform apply failed: " + " ".join(d.strip("│ ") for d in detail[:12]))

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


APPLY_PROGRESS = "terraform apply: resources"


@dataclass
class ApplyCounter:
    """Reads ``terraform apply -json``'s lines: the plan's change count, changes applied, errors."""

    total: int | None = None
    done: int = 0
    errors: list[str] = field(default_factory=list)

    def feed(self, line: str) -> str | None:
        """One line of output; its human message (None for a line that is not Terraform's JSON)."""
        try:
            event = json.loads(line)
        except ValueError:
            return None
        kind = event.get("type")
        if kind == "change_summary" and event["changes"].get("operation") == "plan":
            changes = event["changes"]
            self.total = changes["add"] + changes["change"] + changes["remove"]
        elif kind == "apply_complete" and event["hook"].get("action") != "read":
            self.done = min(self.done + 1, self.total or self.done + 1)
        elif kind == "diagnostic" and event.get("@level") == "error":
            diagnostic = event["diagnostic"]
            self.errors.append(f"{diagnostic['summary']}: {diagnostic.get('detail', '')}".strip(": "))
        return str(event.get("@message", ""))


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
