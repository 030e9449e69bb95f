"""The one settle-and-reconcile: it waits until every message is stored and acted on, waits out
a PostgreSQL that is away, catches a late duplicate, and names what is lost, missing, doubled or
unexpected."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from trustpipe_scenarios import settle as settling
from trustpipe_scenarios.settle import Settled, Stored

AT = datetime(2031, 1, 1, tzinfo=UTC)


def row(verdict: str) -> Stored:
    return Stored("STREAM", verdict, "acme", AT)


def action(message_id: str) -> dict[str, Any]:
    return {"message_id": message_id, "action": "QUARANTINE"}


def test_the_reconciliation_names_what_is_lost_missing_doubled_and_unexpected() -> None:
    settled = Settled(
        produced=frozenset({"q", "l", "p", "lost"}),
        rows={"q": row("QUARANTINE"), "l": row("LABEL"), "p": row("PASS_THROUGH")},
        actions=[action("q"), action("q"), action("p"), action("another-run")],
    )
    assert settled.lost == {"lost"}
    assert settled.actionable == {"q", "l"}
    assert settled.delivered == {"q": 2, "p": 1}
    assert settled.duplicate_actions == 1
    assert settled.missing_actions == {"l"}
    assert settled.unexpected_actions == {"p"}
    assert not settled.complete and not settled.reconciled


def test_settle_waits_for_every_stage_then_catches_a_late_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN PostgreSQL away at first, then the rows stored, then the action, then a duplicate of it
    stored: Iterator[dict[str, Stored] | None] = iter([None, {"q": row("QUARANTINE")}])
    drained = iter([[], [], [action("q")], [action("q")]])
    monkeypatch.setattr(settling, "_stored", lambda _aws, _ids: next(stored, {"q": row("QUARANTINE")}))
    monkeypatch.setattr(settling, "drain_actions", lambda _aws: next(drained, []))
    polls: list[int] = []
    mailbox = [action("earlier")]
    # WHEN settled
    settled = settling.settle(
        None,  # type: ignore[arg-type]
        ["q"],
        timeout=10,
        every=0,
        linger=0.01,
        mailbox=mailbox,
        on_poll=lambda: polls.append(1),
    )
    # THEN it looked until the action came, then caught the duplicate, into the caller's mailbox
    assert len(polls) == 3
    assert settled.complete and settled.duplicate_actions == 1 and not settled.reconciled
    assert settled.actions is mailbox and len(mailbox) == 3


def test_settle_gives_up_at_its_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(settling, "_stored", lambda _aws, _ids: {})
    monkeypatch.setattr(settling, "drain_actions", lambda _aws: [])
    settled = settling.settle(None, ["q"], timeout=0.05, every=0.01)  # type: ignore[arg-type]
    assert settled.lost == {"q"} and settled.settle_s < 5
