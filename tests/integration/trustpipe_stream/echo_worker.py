"""A stream worker for the tests: writes what it processes (and sets aside records starting with
b"poison") to JSON lines in a folder, one file per processor process."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from trustpipe_stream.processor import Rejected, StreamRecord, run


class EchoWorker:
    def __init__(self, out: Path, worker: str) -> None:
        self.out = out / f"{worker}-{os.getpid()}.jsonl"
        self.worker = worker

    def process(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
        with self.out.open("a") as f:
            for r in records:
                f.write(
                    json.dumps({"worker": self.worker, "data": r.data.decode(), "seq": r.sequence_number})
                    + "\n"
                )
        return [
            Rejected(r, "PoisonRecord: starts with poison") for r in records if r.data.startswith(b"poison")
        ]

    def set_aside(self, shard_id: str, rejected: Sequence[Rejected]) -> None:
        with (self.out.parent / "set-aside.jsonl").open("a") as f:
            for r in rejected:
                f.write(
                    json.dumps({"shard": shard_id, "data": r.record.data.decode(), "reason": r.reason}) + "\n"
                )


if __name__ == "__main__":
    run(EchoWorker(Path(sys.argv[1]), sys.argv[2]))
