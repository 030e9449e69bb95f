"""The stream front door's wire contract, shared by the front door and the sensors that post to it.

A sensor POSTs ``{"records": [{"data": <base64 of one Confluent-framed Avro record>,
"message_id": <the message's id>}, ...]}`` to ``<front door URL>/records``, SigV4-signed for
``execute-api`` with its enterprise's sensor credentials. The answer lists, per record and in
order, its sequence number on the raw stream or the error that kept it off.
"""

from __future__ import annotations

import base64
import json
import os
from collections.abc import Iterable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from trustpipe.kinesis import KINESIS_MAX_RECORDS_PER_PUT

RECORDS_PATH = "/records"
SIGNING_SERVICE = "execute-api"
"""What a SigV4 signature for an API Gateway API names as its service."""
API_GATEWAY_MAX_PAYLOAD_BYTES = 10 * 1024 * 1024
"""API Gateway HTTP API quota "Payload size": 10 MB per request (not adjustable)."""
MAX_REQUEST_RECORDS = KINESIS_MAX_RECORDS_PER_PUT
"""A request holds at most as many records as one PutRecords call takes."""
MAX_MESSAGE_ID_CHARS = 998
"""A Message-ID is one header line: RFC 5322 caps a line at 998 characters."""
MAX_REQUEST_DATA_BYTES = 5 * 1024 * 1024
"""What a sender packs into one request's records (before base64): base64 grows it by 4/3, so
a request stays well inside API Gateway's 10 MB."""
SENSOR_CREDENTIALS_FILE = "sensor-credentials.json"
"""Where the local stack keeps each enterprise's sensor session (under its state folder)."""


def request_body(entries: Iterable[tuple[bytes, str]]) -> bytes:
    """The JSON body of one front-door request for ``(data, message id)`` pairs."""
    records = [
        {"data": base64.b64encode(data).decode("ascii"), "message_id": message_id}
        for data, message_id in entries
    ]
    return json.dumps({"records": records}, separators=(",", ":")).encode()


@dataclass(frozen=True)
class SensorCredentials:
    """One enterprise's sensor session (STS AssumeRole of its sensor role) and the principal it
    authenticates as."""

    enterprise_id: str
    access_key_id: str
    secret_access_key: str
    session_token: str
    principal_arn: str
    """The session's ARN, ``arn:aws:sts::<account>:assumed-role/<role>/<session>``."""


def load_sensor_credentials(path: Path) -> dict[str, SensorCredentials]:
    """The local stack's sensor credentials file, by enterprise."""
    data = json.loads(path.read_text())
    return {ent: SensorCredentials(enterprise_id=ent, **creds) for ent, creds in data.items()}


def save_sensor_credentials(path: Path, sessions: Iterable[SensorCredentials]) -> None:
    """Write the file readable by its owner only: mode 0600 from its creation, renamed into
    place so a reader never sees half of it."""
    body = {s.enterprise_id: {k: v for k, v in asdict(s).items() if k != "enterprise_id"} for s in sessions}
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        json.dump(body, out, indent=2)
    os.replace(partial, path)


def assume_sensor_role(sts: Any, enterprise_id: str, role_arn: str, session_name: str) -> SensorCredentials:
    """A session of ``enterprise_id``'s sensor role (STS AssumeRole with ``sts``, a client of
    whoever may assume it), and the assumed-role ARN it authenticates as."""
    answer = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)
    creds = answer["Credentials"]
    return SensorCredentials(
        enterprise_id=enterprise_id,
        access_key_id=creds["AccessKeyId"],
        secret_access_key=creds["SecretAccessKey"],
        session_token=creds["SessionToken"],
        principal_arn=answer["AssumedRoleUser"]["Arn"],
    )
