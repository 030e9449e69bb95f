"""`trustpipe local up` after infra/ changed: a fresh moto server and a fresh apply (fakes)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.harness.orchestration import SETTINGS
from tests.harness.paths import ROOT
from trustpipe.settings import Settings
from trustpipe_deploy.terraform import TerraformError
from trustpipe_review.users import Pool
from trustpipe_stack import stack as stack_module
from trustpipe_stack.stack import LocalStack, infra_fingerprint


class FakeServer:
    def __init__(self) -> None:
        self.up = True
        self.stops = 0
        self.resets = 0
        self.endpoint = "http://127.0.0.1:1"
        self.url = "postgresql://pg@127.0.0.1:2/trustpipe"

    def running(self) -> bool:
        return self.up

    def start(self, *_settings_path: Path) -> bool:
        started, self.up = not self.up, True
        return started

    def stop(self) -> None:
        self.stops += 1
        self.up = False

    def reset_database(self) -> None:
        self.resets += 1


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[LocalStack, list[bool]]:
    stack = LocalStack(ROOT, tmp_path)
    # no real process: the moto server, PostgreSQL, the registry, the front door, the search
    # emulator and the review API are fakes
    stack.moto, stack.postgres, stack.registry = FakeServer(), FakeServer(), FakeServer()  # type: ignore[assignment]
    stack.frontdoor, stack.search = FakeServer(), FakeServer()  # type: ignore[assignment]
    stack.redis, stack.review = FakeServer(), FakeServer()  # type: ignore[assignment]
    stack.redis.url = "redis://127.0.0.1:3/0"  # type: ignore[misc]
    monkeypatch.setattr(stack_module, "assume_sensor_roles", lambda _settings: [])
    monkeypatch.setattr(stack_module, "register_contracts", lambda _settings: None)
    monkeypatch.setattr(stack_module, "review_pool", lambda _settings: Pool("us-east-1_p", "c"))
    applies: list[bool] = []

    def apply(fresh_aws: bool, progress: Any) -> dict[str, Any]:
        applies.append(fresh_aws)
        return {"settings": {"value": SETTINGS}}

    monkeypatch.setattr(stack, "_apply", apply)
    Settings.from_dict(SETTINGS).save(stack.settings_path)
    return stack, applies


def test_unchanged_infra_is_not_applied_again(stack: tuple[LocalStack, list[bool]]) -> None:
    local, applies = stack
    (local.state_dir / "infra.sha256").write_text(infra_fingerprint(ROOT))
    local.up(say=lambda _m: None)
    assert applies == [] and local.moto.stops == 0  # type: ignore[attr-defined]
    assert local.postgres.resets == 0  # type: ignore[attr-defined]


def test_changed_infra_restarts_moto_and_applies_afresh(stack: tuple[LocalStack, list[bool]]) -> None:
    local, applies = stack
    (local.state_dir / "infra.sha256").write_text("an older infra/")
    said: list[str] = []
    local.up(say=said.append)
    assert local.moto.stops == 1 and applies == [True]  # type: ignore[attr-defined]
    # and the database starts empty with it (no rows of objects the new moto does not have)
    assert local.postgres.resets == 1  # type: ignore[attr-defined]
    assert (local.state_dir / "infra.sha256").read_text() == infra_fingerprint(ROOT)
    assert "infra/ changed since the last apply: restarting the moto server to apply afresh" in said
    # and the front door is restarted on the new server's sensor roles
    assert local.frontdoor.stops == 1 and local.frontdoor.running()  # type: ignore[attr-defined]
    # and the search emulator starts empty with it (no documents of objects it no longer has)
    assert local.search.stops == 1 and local.search.running()  # type: ignore[attr-defined]


def test_a_failed_apply_is_tried_once_more_on_a_fresh_moto_server(
    stack: tuple[LocalStack, list[bool]], monkeypatch: pytest.MonkeyPatch
) -> None:
    local, applies = stack
    (local.state_dir / "infra.sha256").write_text("an older infra/")
    # GIVEN an apply that fails once (a create retried into a conflict on a slow moto server)
    applied_once = local._apply

    def conflict_first(fresh_aws: bool, progress: Any) -> dict[str, Any]:
        outputs = applied_once(fresh_aws, progress)
        if len(applies) == 1:
            raise TerraformError("terraform apply failed: InvalidSubnet.Conflict")
        return outputs

    monkeypatch.setattr(local, "_apply", conflict_first)
    said: list[str] = []
    # WHEN the stack comes up
    local.up(say=said.append)
    # THEN the second apply ran on a moto server started afresh, with an emptied database
    assert applies == [True, True] and local.moto.stops == 2  # type: ignore[attr-defined]
    assert local.postgres.resets == 2  # type: ignore[attr-defined]
    assert any("restarting the moto server to apply afresh, once" in m for m in said)
    assert (local.state_dir / "infra.sha256").read_text() == infra_fingerprint(ROOT)

    # and an apply that fails twice fails the stack's start with its reason
    def always(fresh_aws: bool, progress: Any) -> dict[str, Any]:
        raise TerraformError("terraform apply failed: a real mistake")

    monkeypatch.setattr(local, "_apply", always)
    (local.state_dir / "infra.sha256").write_text("an older infra/")
    with pytest.raises(TerraformError, match="a real mistake"):
        local.up(say=said.append)


def test_fingerprint_covers_templates_and_ignores_terraform_state(tmp_path: Path) -> None:
    # GIVEN a project with a module, a template and Terraform's own working files
    module = tmp_path / "infra" / "modules" / "m"
    module.mkdir(parents=True)
    (tmp_path / "infra" / "envs" / "local").mkdir(parents=True)
    (module / "main.tf").write_text("a")
    (module / "user_data.sh.tftpl").write_text("b")
    before = infra_fingerprint(tmp_path)
    # WHEN only Terraform's working files change, THEN nothing to apply
    (tmp_path / "infra" / "envs" / "local" / ".terraform.lock.hcl").write_text("lock")
    assert infra_fingerprint(tmp_path) == before
    # WHEN a template changes, THEN the stack is applied again
    (module / "user_data.sh.tftpl").write_text("c")
    assert infra_fingerprint(tmp_path) != before
