"""`terraform apply` as the local stack runs it (Terraform's JSON UI): resources applied of the
plan's changes reach the progress bar, and a failed apply says Terraform's own error. Real
terraform, on built-in resources only (no provider, no network)."""

from __future__ import annotations

from pathlib import Path

import pytest

from trustpipe_deploy.terraform import APPLY_PROGRESS, Terraform, TerraformError

RESOURCES = """
terraform {
  backend "local" {}
}

resource "terraform_data" "step" {
  count = 4
  input = count.index
}
"""


def test_apply_reports_each_resource_of_the_plan(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "main.tf").write_text(RESOURCES)
    tf = Terraform(workdir=tmp_path / "root", state_dir=tmp_path / "state", log_file=tmp_path / "tf.log")
    tf.init()
    heard: list[tuple[str, int, int | None]] = []
    tf.apply({}, progress=lambda *step: heard.append(step))
    assert heard[-1] == (APPLY_PROGRESS, 4, 4)
    assert [done for _, done, _ in heard if done] == [1, 2, 3, 4]
    assert "Apply complete! Resources: 4 added" in (tmp_path / "tf.log").read_text()
    # and a second apply has nothing to change
    heard.clear()
    tf.apply({}, progress=lambda *step: heard.append(step))
    assert heard[-1][1:] == (0, 0)


def test_a_failed_apply_is_terraforms_error_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "root").mkdir()
    (tmp_path / "root" / "main.tf").write_text(
        RESOURCES + 'data "terraform_remote_state" "gone" {\n  backend = "local"\n'
        '  config = { path = "nowhere.tfstate" }\n}\n'
    )
    tf = Terraform(workdir=tmp_path / "root", state_dir=tmp_path / "state")
    tf.init()
    with pytest.raises(TerraformError, match=r"^terraform apply failed: Unable to find remote state"):
        tf.apply({})
