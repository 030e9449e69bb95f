"""Kinesis Data Streams' PutRecords limits, and batches that keep them: one definition for every
writer of a stream (the stream workers' putter, the front door's Lambda)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator

KINESIS_MAX_RECORDS_PER_PUT = 500
"""PutRecords takes at most 500 records a call."""
KINESIS_MAX_BYTES_PER_PUT = 5 * 1024 * 1024
"""... and at most 5 MiB a call, data and partition keys together."""
KINESIS_MAX_RECORD_BYTES = 1024 * 1024
"""One record's data and partition key: at most 1 MiB."""

Entry = tuple[bytes, str]
"""(data, partition key) of one record."""


def batches(entries: Iterable[Entry]) -> Iterator[list[Entry]]:
    """``entries`` in PutRecords-sized batches (500 records, 5 MiB), order kept."""
    batch: list[Entry] = []
    size = 0
    for data, key in entries:
        n = len(data) + len(key.encode())
        if batch and (len(batch) == KINESIS_MAX_RECORDS_PER_PUT or size + n > KINESIS_MAX_BYTES_PER_PUT):
            yield batch
            batch, size = [], 0
        batch.append((data, key))
        size += n
    if batch:
        yield batch
