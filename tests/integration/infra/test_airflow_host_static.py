"""The Airflow host's Terraform, read as text: the first hour is set once, and Airflow's keys
pass only through ephemeral values into a write-only argument (never into plan or state)."""

from __future__ import annotations

from typing import Any

import hcl2

from tests.harness.paths import ROOT

MODULE = ROOT / "infra" / "modules" / "orchestration" / "main.tf"


def _module() -> dict[str, Any]:
    with MODULE.open() as fh:
        return hcl2.load(fh)  # type: ignore[no-any-return]


def _resource(module: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    kind, name = f'"{kind}"', f'"{name}"'  # python-hcl2 keeps labels quoted
    (found,) = [r[kind][name] for r in module["resource"] if kind in r and name in r[kind]]
    return found  # type: ignore[no-any-return]


def test_the_first_hour_is_the_apply_time_and_no_later_apply_moves_it() -> None:
    parameter = _resource(_module(), "aws_ssm_parameter", "hourly_start")
    assert "plantimestamp()" in parameter["insecure_value"] and "hh:00:00Z" in parameter["insecure_value"]
    (lifecycle,) = parameter["lifecycle"]
    assert lifecycle["ignore_changes"] == ["insecure_value"]
    # and the host is told the kept value, not the expression
    assert "aws_ssm_parameter.hourly_start.insecure_value" in MODULE.read_text()


def test_airflows_keys_come_from_ephemeral_values_through_a_write_only_argument() -> None:
    module = _module()
    version = _resource(module, "aws_secretsmanager_secret_version", "host")
    assert "secret_string" not in version and version["secret_string_wo_version"] in (1, "1")
    written = version["secret_string_wo"]
    for key in ("fernet_key", "jwt_secret", "api_secret_key", "admin_password"):
        assert f"ephemeral.aws_secretsmanager_random_password.{key}.random_password" in written
    # and no random value of a data source (data sources are kept in state) is used anywhere
    assert not [d for d in module.get("data", []) if "aws_secretsmanager_random_password" in d]
