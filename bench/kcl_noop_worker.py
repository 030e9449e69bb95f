"""P7's stream worker: does nothing with the records but note, per batch, when and how many."""

from __future__ import annotations

import sys
import time
from collections.abc import Sequence
from pathlib import Path

from trustpipe_stream.processor import Rejected, StreamRecord, run


class NoOp:
    def __init__(self, out: Path) -> None:
        self.out = out

    def process(self, records: Sequence[StreamRecord]) -> Sequence[Rejected]:
        with self.out.open("a") as f:
            f.write(f"{time.time():.6f} {len(records)}\n")
        return []

    def set_aside(self, shard_id: str, rejected: Sequence[Rejected]) -> None:
        raise AssertionError("the no-op worker rejects nothing")


if __name__ == "__main__":
    run(NoOp(Path(sys.argv[1])))
