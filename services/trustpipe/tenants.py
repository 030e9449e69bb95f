"""Tenants: which enterprise a message belongs to, and the one key that names a message.

The enterprise comes from the channel a sensor authenticated on (its landing prefix, the stream
front door's stamp), never from the record; a record whose own ``enterprise_id`` disagrees is set
aside. Message-IDs are chosen by whoever sends the mail and collide across enterprises (one
campaign to two of them carries one Message-ID), so every key that names a message is the pair
(enterprise, message id): the store's key, the actions ledger, action ids, partition keys.
"""

from __future__ import annotations

import re

from trustpipe.errors import PermanentError, UserError

MAX_ENTERPRISE_ID = 32
"""Enterprise ids name AWS resources (``<name>-actions-<id>.fifo`` has 80 characters at most, a
role name 64): 32 leaves room for the deployment's name prefix."""
ENTERPRISE_ID = re.compile(rf"^[a-z0-9](?:[a-z0-9-]{{0,{MAX_ENTERPRISE_ID - 2}}}[a-z0-9])?\Z")
"""\\Z, not $: Python's $ also matches before a final newline ("acme\\n" would pass)."""
KEY_SEPARATOR = "/"
"""Between the enterprise and the message id of a key: enterprise ids never contain it."""
KINESIS_MAX_PARTITION_KEY = 256
"""A Kinesis partition key is 1 to 256 Unicode characters (PutRecords API)."""


class TenantError(UserError, ValueError):
    """An enterprise id or tenant map that cannot be used."""


class EnterpriseMismatchError(PermanentError):
    """A record claims an enterprise other than the one whose channel it arrived on."""


class UnknownEnterpriseError(PermanentError):
    """A record or object for an enterprise this deployment does not serve."""


def check_enterprise_id(enterprise_id: str) -> str:
    """``enterprise_id`` itself, or TenantError saying what an enterprise id may be."""
    if not ENTERPRISE_ID.match(enterprise_id):
        raise TenantError(
            f"enterprise id {enterprise_id!r} must be 1-{MAX_ENTERPRISE_ID} lower-case letters, "
            "digits and inner hyphens"
        )
    return enterprise_id


def message_key(enterprise_id: str, message_id: str) -> str:
    """The one name of a message: ``<enterprise>/<message id>`` (unambiguous, since enterprise
    ids hold no separator)."""
    return f"{enterprise_id}{KEY_SEPARATOR}{message_id}"


def partition_key(enterprise_id: str, message_id: str) -> str:
    """A stream record's partition key: the message key, cut to Kinesis's 256 characters (it only
    spreads records over shards and carries the enterprise, which always fits)."""
    return message_key(enterprise_id, message_id)[:KINESIS_MAX_PARTITION_KEY]


def enterprise_of_key(key: str) -> str:
    """The enterprise of a message key or partition key (the part before the first separator)."""
    return key.partition(KEY_SEPARATOR)[0]


def check_claim(claimed: str, channel: str, served: frozenset[str] | set[str]) -> str:
    """The enterprise a record belongs to: ``channel`` (where it authenticated), provided the
    deployment serves it and the record's own ``claimed`` enterprise agrees."""
    if channel not in served:
        raise UnknownEnterpriseError(f"enterprise {channel!r} is not served by this deployment")
    if claimed != channel:
        raise EnterpriseMismatchError(
            f"record claims enterprise {claimed[:40]!r} but arrived on the channel of {channel!r}"
        )
    return channel
