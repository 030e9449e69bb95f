"""A deployment's settings as the orchestration reads them (names only: nothing is called)."""

from __future__ import annotations

SETTINGS = {
    "region": "us-east-1",
    "landing_bucket": "l",
    "scored_bucket": "s",
    "archive_bucket": "a",
    "scored_topic_arn": "arn:t",
    "importer_queue_url": "q",
    "importer_dlq_url": "d",
    "raw_stream_name": "r",
    "scored_stream_name": "ss",
    "imported_stream_name": "imp",
    "registry_table_name": "rt",
    "oncall_topic_arn": "arn:oncall",
}
