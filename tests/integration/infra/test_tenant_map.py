"""The tenant map as Terraform takes it: the pipeline module's `enterprises` variable, its type and
validations read from infra/modules/pipeline/variables.tf and planned by Terraform itself, and its
enterprise-id rule the same as trustpipe.tenants.ENTERPRISE_ID."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.harness.paths import ROOT
from trustpipe.tenants import ENTERPRISE_ID

PRINCIPAL = "arn:aws:iam::111122223333:role/sensors"
VARIABLE = re.compile(r'variable "enterprises" \{.*?\n\}\n', re.S)

pytestmark = pytest.mark.skipif(shutil.which("terraform") is None, reason="terraform is not on PATH")


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A root holding only the pipeline module's `enterprises` variable, verbatim, and an output."""
    out = tmp_path_factory.mktemp("tenant-map")
    found = VARIABLE.search((ROOT / "infra/modules/pipeline/variables.tf").read_text())
    assert found, "infra/modules/pipeline/variables.tf declares no enterprises variable"
    (out / "main.tf").write_text(found.group(0) + 'output "enterprises" {\n  value = var.enterprises\n}\n')
    return out


def _terraform(root: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TF_IN_AUTOMATION": "1", "CHECKPOINT_DISABLE": "1", "TF_DATA_DIR": str(root / ".tf")}
    return subprocess.run(
        ["terraform", f"-chdir={root}", *args],
        input=stdin,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _plan(root: Path, enterprises: Any) -> subprocess.CompletedProcess[str]:
    return _terraform(
        root, "plan", "-no-color", "-input=false", f"-var=enterprises={json.dumps(enterprises)}"
    )


@pytest.mark.parametrize(
    "enterprises",
    [
        {"acme": {}},
        {"a": {}, "x" * 32: {"sensor_principals": [PRINCIPAL]}, "9lives": {"consumer_principals": []}},
        {"contoso-eu-2": {"sensor_principals": [PRINCIPAL, "arn:aws:iam::111122223333:root"]}},
        {"umbrella": {"consumer_principals": ["arn:aws-us-gov:iam::111122223333:user/gateway"]}},
    ],
    ids=["one", "edges", "two-principals", "other-partition"],
)
def test_a_valid_map_plans(root: Path, enterprises: dict[str, Any]) -> None:
    done = _plan(root, enterprises)
    assert done.returncode == 0, done.stderr
    assert "Changes to Outputs" in done.stdout


@pytest.mark.parametrize(
    ("enterprises", "message"),
    [
        ({}, "must name at least one enterprise"),
        ({"Acme": {}}, "1-32 lower-case letters"),
        ({"-acme": {}}, "1-32 lower-case letters"),
        ({"acme-": {}}, "1-32 lower-case letters"),
        ({"x" * 33: {}}, "1-32 lower-case letters"),
        ({"ac_me": {}}, "1-32 lower-case letters"),
        ({"acme/b": {}}, "1-32 lower-case letters"),
        ({"": {}}, "1-32 lower-case letters"),
        ({"acme": {"sensor_principal": [PRINCIPAL]}}, "any other is a mistake"),
        ({"acme": {"sensor_principals": ["*"]}}, "hold IAM principal ARNs"),
        ({"acme": {"consumer_principals": ["arn:aws:iam::*:root"]}}, "hold IAM principal ARNs"),
        ({"acme": {"sensor_principals": ["arn:aws:iam::11112222:root"]}}, "hold IAM principal ARNs"),
        ({"acme": {"sensor_principals": ["arn:aws:iam::111122223333:role/*"]}}, "hold IAM principal ARNs"),
        ({"acme": {"sensor_principals": [""]}}, "hold IAM principal ARNs"),
        (
            {"acme": {"sensor_principals": "arn:aws:iam::111122223333:root"}},
            "Invalid value for input variable",
        ),
        ({"acme": []}, "Invalid value for input variable"),
    ],
    ids=[
        "empty",
        "upper-case",
        "leading-hyphen",
        "trailing-hyphen",
        "33-chars",
        "underscore",
        "separator",
        "empty-id",
        "misspelled-field",
        "star",
        "star-account",
        "short-account",
        "star-role",
        "empty-principal",
        "principal-not-a-list",
        "enterprise-not-an-object",
    ],
)
def test_a_malformed_map_is_refused_saying_why(root: Path, enterprises: Any, message: str) -> None:
    done = _plan(root, enterprises)
    assert done.returncode != 0
    assert message in " ".join(done.stderr.split()), done.stderr


def test_terraform_and_the_core_agree_on_every_enterprise_id(tmp_path: Path) -> None:
    # GIVEN the validation's pattern, as Terraform's RE2 evaluates it
    text = (ROOT / "infra/modules/pipeline/variables.tf").read_text()
    (pattern,) = re.findall(r'can\(regex\("(\^\[a-z0-9\][^"]*)", id\)\)', text)
    ids = ["a", "0", "a-b", "a--b", "x" * 32, "x" * 33, "-a", "a-", "A", "a_b", "a.b", "a b", "é", "", "a\nb"]
    ids += ["acme", "contoso-eu-2", "9lives", "a" * 31 + "-", "🙂", "acme\n"]
    probe = tmp_path  # an empty folder: `terraform console` needs no configuration for this
    expression = (
        "jsonencode(["
        + ", ".join(f"can(regex({json.dumps(pattern)}, {json.dumps(i, ensure_ascii=False)}))" for i in ids)
        + "])"
    )
    done = _terraform(probe, "console", stdin=expression + "\n")
    assert done.returncode == 0, done.stderr
    terraform = json.loads(json.loads(done.stdout.strip()))
    # THEN it accepts exactly the ids trustpipe.tenants accepts
    assert dict(zip(ids, terraform, strict=True)) == {i: bool(ENTERPRISE_ID.match(i)) for i in ids}
