"""Hours of the lake indexed again: every scored object of each hour, as the batch path's
announcements would bring them. Idempotent: a document the index holds in the same or a newer
version is left as it is (external versioning), so a reindex over a live index only fills what
is missing or older."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from opensearchpy import OpenSearch

from trustpipe import layout, s3
from trustpipe.transient import is_transient
from trustpipe_search import aside
from trustpipe_search.indexing import index_all
from trustpipe_search.objects import UnreadableObjectError, downloaded, scored_chunks


@dataclass
class Reindexed:
    hours: int = 0
    objects: int = 0
    written: int = 0
    superseded: int = 0
    set_aside: list[str] = field(default_factory=list)
    """Where what could not be indexed was kept (archive bucket keys)."""


def reindex(
    client: OpenSearch,
    s3_client: Any,
    scored_bucket: str,
    archive_bucket: str,
    hours: list[datetime],
    refresh: bool = False,
    say: Callable[[str], None] = lambda _m: None,
) -> Reindexed:
    """Index every scored object of ``hours`` (``layout.scored_hour_prefix``) again."""
    done = Reindexed()
    for hour in hours:
        prefix = layout.scored_hour_prefix(hour) + "messages/"
        for obj in s3.list_objects(s3_client, scored_bucket, prefix):
            key, etag = obj["Key"], str(obj.get("ETag", "")).strip('"')
            try:
                with downloaded(s3_client, scored_bucket, key) as fo:
                    outcome = index_all(client, scored_chunks(fo), refresh=refresh)
            except Exception as err:
                if is_transient(err):
                    raise
                reason = (
                    str(err) if isinstance(err, UnreadableObjectError) else f"{type(err).__name__}: {err}"
                )
                done.set_aside.append(aside.keep_object(s3_client, archive_bucket, key, etag, reason))
                continue
            if outcome.refused:
                done.set_aside.append(aside.keep_rows(s3_client, archive_bucket, key, etag, outcome.refused))
            done.objects += 1
            done.written += outcome.written
            done.superseded += outcome.superseded
        done.hours += 1
        say(f"{layout.format_hour(hour)}: {done.objects} objects so far")
    return done
