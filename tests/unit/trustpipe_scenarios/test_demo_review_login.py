"""The demo's last lines: the review page's URL and a login of acme's reviewer, with how to get a
token for curl; nothing when the stack serves no review API."""

from __future__ import annotations

import io
from dataclasses import replace
from typing import Any

import pytest
from rich.console import Console

from tests.harness.orchestration import SETTINGS
from trustpipe.settings import Settings
from trustpipe_review import users
from trustpipe_scenarios import demo


class Aws:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def client(self, service: str) -> Any:
        assert service == "cognito-idp"
        return object()


def printed(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> str:
    logins: list[tuple[str, str]] = []
    monkeypatch.setattr(users, "login_of", lambda _c, pool, ent, email: logins.append((ent, email)) or "Pw-1")
    out = io.StringIO()
    demo._print_review_login(Aws(settings), Console(file=out, width=200))  # type: ignore[arg-type]
    assert logins in ([], [("acme", demo.REVIEWER)])
    return out.getvalue()


def test_the_demo_prints_the_review_page_and_acmes_login(monkeypatch: pytest.MonkeyPatch) -> None:
    settings = replace(
        Settings.from_dict(SETTINGS),
        review_url="http://127.0.0.1:8082",
        review_user_pool_id="us-east-1_p",
        review_client_id="c",
    )
    text = printed(settings, monkeypatch)
    assert "review page: http://127.0.0.1:8082/" in text
    assert f"acme's reviewer: {demo.REVIEWER} / Pw-1" in text
    assert "trustpipe review token --email reviewer@acme.test --password 'Pw-1'" in text


def test_without_a_review_api_the_demo_prints_nothing_of_it(monkeypatch: pytest.MonkeyPatch) -> None:
    assert printed(Settings.from_dict(SETTINGS), monkeypatch) == ""
