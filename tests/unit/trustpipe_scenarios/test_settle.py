"""The one settle-and-reconcile: it waits until every message is stored and acted on, waits out
a PostgreSQL that is away, catches a late duplicate, and names what is lost, missing, doubled or
unexpected, a message being the pair (enterprise, message id)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from trustpipe_scenarios import settle as settling
from trustpipe_scenarios.settle import Settled, Stored

AT = datetime(2031, 1, 1, tzinfo=UTC)


def row(verdict: str) -> Stored:
    return Stored("STREAM", verdict, AT)


def action(message_id: str, enterprise: str = "acme") -> dict[str, Any]:
    return {"message_id": message_id, "enterprise_id": enterprise, "action": "QUARANTINE"}


def m(message_id: str, enterprise: str = "acme") -> tuple[str, str]:
    return enterprise, message_id


def test_the_reconciliation_names_what_is_lost_missing_doubled_and_unexpected() -> None:
    settled = Settled(
        produced=frozenset({m("q"), m("l"), m("p"), m("lost")}),
        rows={m("q"): row("QUARANTINE"), m("l"): row("LABEL"), m("p"): row("PASS_THROUGH")},
        actions=[action("q"), action("q"), action("p"), action("another-run")],
    )
    assert settled.lost == {m("lost")}
    assert settled.actionable == {m("q"), m("l")}
    assert settled.delivered == {m("q"): 2, m("p"): 1}
    assert settled.duplicate_actions == 1
    assert settled.missing_actions == {m("l")}
    assert settled.unexpected_actions == {m("p")}
    assert not settled.complete and not settled.reconciled


def test_one_message_id_at_two_enterprises_is_two_messages_each_acted_on_once() -> None:
    # GIVEN one Message-ID produced at acme and globex, both stored as QUARANTINE
    both = {m("q", "acme"): row("QUARANTINE"), m("q", "globex"): row("QUARANTINE")}
    # WHEN each enterprise got its action
    settled = Settled(frozenset(both), both, [action("q", "acme"), action("q", "globex")])
    # THEN neither is a duplicate of the other, and nothing is missing
    assert settled.delivered == {m("q", "acme"): 1, m("q", "globex"): 1}
    assert settled.reconciled
    # and when only acme's came, twice, globex's is missing and acme's doubled
    one_sided = Settled(frozenset(both), both, [action("q", "acme"), action("q", "acme")])
    assert one_sided.missing_actions == {m("q", "globex")} and one_sided.duplicate_actions == 1
    # and an action for an enterprise the message was not produced at is not counted as its own
    stray = Settled(frozenset(both), both, [*settled.actions, action("q", "initech")])
    assert stray.reconciled and sum(stray.delivered.values()) == 2


def test_settle_waits_for_every_stage_then_catches_a_late_duplicate(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN PostgreSQL away at first, then the rows stored, then the action, then a duplicate of it
    stored: Iterator[dict[tuple[str, str], Stored] | None] = iter([None, {m("q"): row("QUARANTINE")}])
    drained = iter([[], [], [action("q")], [action("q")]])
    monkeypatch.setattr(settling, "_stored", lambda _aws, _ids: next(stored, {m("q"): row("QUARANTINE")}))
    monkeypatch.setattr(settling, "drain_actions", lambda _aws: next(drained, []))
    polls: list[int] = []
    mailbox = [action("earlier")]
    # WHEN settled
    settled = settling.settle(
        None,  # type: ignore[arg-type]
        [m("q")],
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
    settled = settling.settle(None, [m("q")], timeout=0.05, every=0.01)  # type: ignore[arg-type]
    assert settled.lost == {m("q")} and settled.settle_s < 5
