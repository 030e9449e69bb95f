"""`trustpipe db upgrade --wait`: a database that is not answering yet is retried until it does,
or until the wait is over; any other error fails at once."""

from __future__ import annotations

import pytest

from trustpipe.errors import DatabaseUnreachableError
from trustpipe.settings import Settings, SettingsError
from trustpipe_importer import app

REQUIRED = (
    *("region", "landing_bucket", "scored_bucket", "archive_bucket", "scored_topic_arn"),
    *("importer_queue_url", "importer_dlq_url", "raw_stream_name", "scored_stream_name"),
    *("imported_stream_name", "registry_table_name"),
)
SETTINGS = Settings.from_dict(
    {**dict.fromkeys(REQUIRED, "x"), "database_url": "postgresql://u:p@db.example/trustpipe"}
)


def _flaky(monkeypatch: pytest.MonkeyPatch, failures: int, error: Exception) -> list[str]:
    calls: list[str] = []

    def upgrade(url: str) -> None:
        calls.append(url)
        if len(calls) <= failures:
            raise error

    monkeypatch.setattr(app.migrate, "upgrade", upgrade)
    monkeypatch.setattr(app.time, "sleep", lambda s: None)
    return calls


def test_an_unreachable_database_is_waited_for(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _flaky(monkeypatch, 3, DatabaseUnreachableError("cannot reach the database at db.example:5432"))
    said: list[str] = []
    app.upgrade(SETTINGS, wait_seconds=600, say=said.append)
    assert len(calls) == 4 and len(said) == 3 and "retrying in 2 s" in said[0]


def test_without_a_wait_or_past_it_the_error_stands(monkeypatch: pytest.MonkeyPatch) -> None:
    _flaky(monkeypatch, 1, DatabaseUnreachableError("down"))
    with pytest.raises(DatabaseUnreachableError):
        app.upgrade(SETTINGS)


def test_other_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _flaky(monkeypatch, 5, SettingsError("bad URL"))
    with pytest.raises(SettingsError):
        app.upgrade(SETTINGS, wait_seconds=600)
    assert len(calls) == 1
