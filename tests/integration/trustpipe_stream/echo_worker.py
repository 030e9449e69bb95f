"""A stream worker for the tests: writes what it processes (data base64-encoded; records starting
with b"poison" set aside) to JSON lines in a folder, one file per processor process."""

from __future__ import annotations

import base64
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
                    json.dumps({"worker": self.worker, "data": _text(r.data), "seq": r.sequence_number})
                    + "\n"
                )
        return [
            Rejected(r, "PoisonRecord: starts with poison") for r in records if r.data.startswith(b"poison")
        ]

    def set_aside(self, shard_id: str, rejected: Sequence[Rejected]) -> None:
        with (self.out.parent / "set-aside.jsonl").open("a") as f:
            for r in rejected:
                f.write(
                    json.dumps({"shard": shard_id, "data": _text(r.record.data), "reason": r.reason}) + "\n"
                )


def _text(data: bytes) -> str:
    return base64.b64encode(data).decode()


if __name__ == "__main__":
    run(EchoWorker(Path(sys.argv[1]), sys.argv[2]))
