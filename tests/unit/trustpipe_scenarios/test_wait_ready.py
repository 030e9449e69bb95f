"""The stream workers are ready when this run's workers own every lease: a lease left to a worker
of an earlier run (another slot) does not count."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from tests.harness.paths import ROOT
from trustpipe.settings import Settings
from trustpipe_scenarios import stream_demo
from trustpipe_stream.daemon import application_name
from trustpipe_stream.service import worker_id

SETTINGS = Settings.from_dict(json.loads((ROOT / "tests/unit/fixtures/settings.json").read_text()))


class NotFound(Exception):
    pass


class FakeAws:
    """Two shards a stream; each group's lease table as ``owners`` says (table -> owners)."""

    def __init__(self, owners: dict[str, list[str | None]]) -> None:
        self.settings = SETTINGS
        self.owners = owners
        self.scans = 0

    def client(self, name: str) -> Any:
        if name == "kinesis":
            return SimpleNamespace(list_shards=lambda StreamName: {"Shards": [{}, {}]})
        return SimpleNamespace(
            scan=self._scan, exceptions=SimpleNamespace(ResourceNotFoundException=NotFound)
        )

    def _scan(self, TableName: str) -> dict[str, Any]:
        self.scans += 1
        if TableName not in self.owners:
            raise NotFound(TableName)
        return {"Items": [{"leaseOwner": {"S": o}} if o else {} for o in self.owners[TableName]]}


def tables(owner_of: Any) -> dict[str, list[str | None]]:
    return {
        application_name(stream, group): owner_of(group)
        for stream, group in stream_demo.consumers(SETTINGS, stream_demo.DEMO_WORKERS)
    }


def test_ready_when_this_runs_workers_own_every_lease() -> None:
    aws = FakeAws(tables(lambda g: [worker_id(g, stream_demo.WORKER_SLOT)] * 2))
    stream_demo.wait_ready(aws, lambda: [], Path("logs"), timeout=0, workers=stream_demo.DEMO_WORKERS)  # type: ignore[arg-type]
    assert aws.scans == 4  # the scorer's, the stream importer's, the alerter's and the indexer's


@pytest.mark.parametrize(
    "owners",
    [
        lambda g: [worker_id(g, stream_demo.WORKER_SLOT), worker_id(g, "2")],  # an earlier run's second slot
        lambda g: [worker_id(g, stream_demo.WORKER_SLOT), None],  # a shard nobody holds yet
    ],
)
def test_a_lease_held_by_another_worker_or_none_is_not_ready(owners: Any) -> None:
    aws = FakeAws(tables(owners))
    with pytest.raises(stream_demo.StreamDemoError, match="stream workers not ready"):
        stream_demo.wait_ready(aws, lambda: [], Path("logs"), timeout=0)  # type: ignore[arg-type]


def test_a_group_without_its_lease_table_yet_is_not_ready_and_a_dead_worker_is_named() -> None:
    aws = FakeAws({})
    with pytest.raises(stream_demo.StreamDemoError, match=r"exited: \['scorer'\]"):
        stream_demo.wait_ready(aws, lambda: ["scorer"], Path("logs"), timeout=60)  # type: ignore[arg-type]


def test_a_stage_on_lambda_is_ready_when_its_mapping_reads_every_shard(tmp_path: Path) -> None:
    # GIVEN the alerter on Lambda (no lease table of its own) and the other groups leased
    from trustpipe.workers import ALERTER
    from trustpipe_scenarios import lambda_stages

    aws = FakeAws(tables(lambda g: [worker_id(g, stream_demo.WORKER_SLOT)] * 2 if g != ALERTER.group else []))
    # WHEN its mapping has not said it reads every shard THEN the path is not ready
    with pytest.raises(stream_demo.StreamDemoError, match="stream workers not ready"):
        stream_demo.wait_ready(aws, lambda: [], tmp_path, timeout=0, on_lambda=[ALERTER])  # type: ignore[arg-type]
    # WHEN it has THEN it is, and the alerter's lease table is never asked
    folder = lambda_stages.state_dir_of(tmp_path, ALERTER)
    folder.mkdir()
    (folder / "ready").write_text("1\n")
    aws.scans = 0
    stream_demo.wait_ready(aws, lambda: [], tmp_path, timeout=0, on_lambda=[ALERTER])  # type: ignore[arg-type]
    assert aws.scans == 2
