"""What `terraform apply` deploys for the importers' scaling, read from the Terraform itself.

A value is resolved the way Terraform resolves it: the env root's argument to ``module
"pipeline"`` (a literal, or the root variable's default), else the pipeline module's own default
as it passes it to ``module "workers"`` / ``module "messaging"``, else that module's default. The
simulation therefore runs what the roots apply, and changes when the Terraform changes.
"""

from __future__ import annotations

import copy
import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from trustpipe.errors import UserError

ENVS = ("dev", "prod", "local")
_VAR = re.compile(r"^\$\{var\.(\w+)\}$")


class TerraformReadError(UserError):
    """The Terraform does not say what the simulation needs."""


@dataclass(frozen=True)
class DeployedPolicy:
    """The importer group and its queue-based scaling, as an env root deploys them."""

    env: str
    min_size: int
    max_size: int
    instance_type: str
    scale_out_visible_threshold: float
    scale_out_periods: int
    scale_in_periods: int
    period_seconds: int
    scale_out_step: int
    cooldown_seconds: int
    drain_seconds: int
    """The termination lifecycle hook's heartbeat: the longest a draining importer may take."""
    visibility_timeout_seconds: int


def _hcl(path: Path) -> dict[str, Any]:
    try:
        st = path.stat()
    except FileNotFoundError as err:
        raise TerraformReadError(f"no Terraform at {path}") from err
    # A copy: the parse is shared by every reader of the same file as it is now.
    return copy.deepcopy(_parsed(str(path.resolve()), st.st_mtime_ns, st.st_size))


@functools.lru_cache(maxsize=512)
def _parsed(path: str, mtime_ns: int, size: int) -> dict[str, Any]:
    """A Terraform file parsed once per version of it (parsing is most of a cost estimate's time)."""
    import hcl2

    with open(path) as f:
        return hcl2.load(f)  # type: ignore[no-any-return,unused-ignore]


def _unquote(value: Any) -> Any:
    return value.strip('"') if isinstance(value, str) else value


def _defaults(module_dir: Path) -> dict[str, Any]:
    variables = _hcl(module_dir / "variables.tf").get("variable", [])
    return {_unquote(k): body.get("default") for block in variables for k, body in block.items()}


def _module_args(main_tf: Path, name: str) -> dict[str, Any]:
    for block in _hcl(main_tf).get("module", []):
        for key, body in block.items():
            if _unquote(key) == name:
                return {k: v for k, v in body.items()}
    raise TerraformReadError(f"{main_tf} has no module {name!r}")


class _Resolver:
    """Values of a child module's variables as the env root applies them."""

    def __init__(self, infra: Path, env: str) -> None:
        self.root = infra / "envs" / env
        self.pipeline = infra / "modules" / "pipeline"
        self.infra = infra
        self.root_args = _module_args(self.root / "main.tf", "pipeline")
        self.root_defaults = _defaults(self.root)
        self.pipeline_defaults = _defaults(self.pipeline)

    def pipeline_var(self, name: str) -> Any:
        if name in self.root_args:
            return self._value(self.root_args[name], self.root_defaults, "root")
        return self.pipeline_defaults.get(name)

    def child_var(self, module: str, name: str) -> Any:
        args = _module_args(self.pipeline / "main.tf", module)
        if name in args:
            return self._value(args[name], None, module)
        return _defaults(self.infra / "modules" / module).get(name)

    def _value(self, raw: Any, root_defaults: dict[str, Any] | None, where: str) -> Any:
        raw = _unquote(raw)
        match = _VAR.match(raw) if isinstance(raw, str) else None
        if match is None:
            return raw
        if root_defaults is not None:
            return root_defaults.get(match[1])
        return self.pipeline_var(match[1])


def read_deployed(infra: Path, env: str = "dev") -> DeployedPolicy:
    """The importer scaling that ``infra/envs/<env>`` deploys."""
    value = resolve(infra, env)

    def workers(name: str) -> Any:
        return value("workers", name)

    types = workers("instance_types")
    return DeployedPolicy(
        env=env,
        min_size=int(workers("importer_min_size")),
        max_size=int(workers("importer_max_size")),
        instance_type=str(_unquote(types["importer"])),
        scale_out_visible_threshold=float(workers("importer_scale_out_visible_threshold")),
        scale_out_periods=int(workers("importer_scale_out_periods")),
        scale_in_periods=int(workers("importer_scale_in_periods")),
        period_seconds=int(workers("importer_scaling_period_seconds")),
        scale_out_step=int(workers("importer_scale_out_step")),
        cooldown_seconds=int(workers("importer_scaling_cooldown_seconds")),
        drain_seconds=int(workers("drain_seconds")),
        visibility_timeout_seconds=int(value("messaging", "visibility_timeout_seconds")),
    )


def pipeline_value(infra: Path, env: str, name: str) -> Any:
    """The value ``infra/envs/<env>`` gives the pipeline module's variable ``name``."""
    if env not in ENVS:
        raise TerraformReadError(f"env must be one of {', '.join(ENVS)}, not {env!r}")
    return _Resolver(infra, env).pipeline_var(name)


def resolve(infra: Path, env: str) -> Callable[[str, str], Any]:
    """A lookup ``value(module, variable)`` of what ``infra/envs/<env>`` gives the pipeline's
    child modules (``value("pipeline", variable)``: the pipeline's own, such as its switches); a
    TerraformReadError when the Terraform leaves it without a value."""
    if env not in ENVS:
        raise TerraformReadError(f"env must be one of {', '.join(ENVS)}, not {env!r}")
    r = _Resolver(infra, env)

    def value(module: str, name: str) -> Any:
        found = r.pipeline_var(name) if module == "pipeline" else r.child_var(module, name)
        if found is None:
            raise TerraformReadError(f"infra/modules/{module}: {name} has no value for env {env}")
        return found

    return value
