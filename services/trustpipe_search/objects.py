"""A scored object of the lake read as rows to index: the batch path's announcements and the
reindex both come here. Only ``ScoredMessage`` objects hold documents (an hour's stats object
holds none); an object that cannot be read is ``UnreadableObjectError`` with its reason."""

from __future__ import annotations

import itertools
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Any

from botocore.exceptions import ClientError

from trustpipe import contracts
from trustpipe.codec import CodecError, ContainerReader
from trustpipe.errors import PermanentError

CHUNK_ROWS = 5_000
"""Rows of an object indexed at a time (memory holds one chunk, not the object)."""
SCORED_MESSAGE = "io.trustpipe.scoring.ScoredMessage"
SCORING_STATS = "io.trustpipe.scoring.ScoringStats"


class UnreadableObjectError(PermanentError, ValueError):
    """A scored object that can never be indexed (missing, not Avro, cut short, of an unknown
    schema): set aside with its reason."""


@contextmanager
def downloaded(s3: Any, bucket: str, key: str) -> Iterator[IO[bytes]]:
    """The object in a temporary file (streamed, not held in memory)."""
    try:
        body = s3.get_object(Bucket=bucket, Key=key)["Body"]
    except ClientError as err:
        if err.response["Error"]["Code"] in ("NoSuchKey", "404", "NoSuchBucket"):
            raise UnreadableObjectError(f"MissingObject: s3://{bucket}/{key} does not exist") from err
        raise
    with tempfile.TemporaryFile() as fo:
        shutil.copyfileobj(body, fo, 1 << 20)
        fo.seek(0)
        yield fo


def _fullname(schema: dict[str, Any]) -> str:
    name, namespace = str(schema.get("name", "")), schema.get("namespace")
    return name if "." in name or not namespace else f"{namespace}.{name}"


def scored_chunks(fo: IO[bytes]) -> Iterator[list[dict[str, Any]]]:
    """The object's scored messages, ``CHUNK_ROWS`` at a time, read through today's contract
    (none for a stats object); UnreadableObjectError for anything else or anything cut short."""
    try:
        reader = ContainerReader(fo)
        kind = _fullname(reader.writer_schema)
        if kind == SCORING_STATS:
            return
        if kind != SCORED_MESSAGE:
            raise UnreadableObjectError(f"SchemaMismatchError: {kind[:200]} is not a ScoredMessage")
        fo.seek(0)
        rows = iter(ContainerReader(fo, contracts.load(contracts.SCORED_MESSAGE)))
        while chunk := list(itertools.islice(rows, CHUNK_ROWS)):
            yield chunk
    except CodecError as err:
        raise UnreadableObjectError(f"{type(err).__name__}: {err}") from err
