"""Small factories for test records."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

RECEIVED = datetime(2026, 11, 26, 13, 5, tzinfo=UTC)


def email_v1(**overrides: Any) -> dict[str, Any]:
    record = {
        "message_id": "<m-1@partner.com>",
        "enterprise_id": "acme",
        "received_at": RECEIVED,
        "from_address": "alice@partner.com",
        "from_display_name": "Alice Chen",
        "return_path": "alice@partner.com",
        "client_ip": "198.51.100.7",
        "recipient_count": 2,
        "subject_length": 31,
        "size_bytes": 48_213,
        "spf": "PASS",
        "dkim": "PASS",
        "dmarc": "NONE",
        "url_count": 1,
        "attachment_count": 0,
    }
    record.update(overrides)
    return record


def email_v2(**overrides: Any) -> dict[str, Any]:
    record = email_v1(
        reply_to="billing@partner-payments.com",
        dkim_domain="partner.com",
        urls=["https://www.partner.com/invoice"],
        attachments=[{"filename": "invoice.pdf", "content_type": "application/pdf", "size_bytes": 40_000}],
    )
    record.update(overrides)
    return record


def email_v3(**overrides: Any) -> dict[str, Any]:
    record = email_v2()
    record["sending_ip"] = record.pop("client_ip")
    record.update(size_bytes=5_000_000_000, spf="TEMPERROR", in_known_thread=True)
    record.update(overrides)
    return record
