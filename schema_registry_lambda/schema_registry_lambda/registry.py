"""The registry's semantics, as Confluent Schema Registry defines them for Avro."""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from typing import Any

import avro.errors
import avro.schema

from schema_registry_lambda import errors
from schema_registry_lambda.errors import VersionTaken
from schema_registry_lambda.store import Store, SubjectVersion
from trustpipe import decodable
from trustpipe.compat import ParsedSchema, check_parsed, parse

# A schema and its keys must fit one DynamoDB item (400 KB); keep a margin.
MAX_SCHEMA_BYTES = 256 * 1024
MAX_SUBJECT_LENGTH = 255
MAX_VERSION = 2**31 - 1
DEFAULT_COMPATIBILITY = "BACKWARD"
LEVELS = (
    "NONE",
    "BACKWARD",
    "BACKWARD_TRANSITIVE",
    "FORWARD",
    "FORWARD_TRANSITIVE",
    "FULL",
    "FULL_TRANSITIVE",
)
_REGISTER_ATTEMPTS = 8  # concurrent registrations to one subject retry on a taken version


@dataclass(frozen=True)
class Candidate:
    """A schema from a request: its stored text, parsed form and identity."""

    text: str
    parsed: ParsedSchema
    fingerprint: str


def check_subject(subject: str) -> str:
    if not subject:
        raise errors.invalid_subject("the subject name is empty")
    if len(subject) > MAX_SUBJECT_LENGTH:
        raise errors.invalid_subject(f"the subject name is {len(subject)} characters; the limit is 255")
    if any(ord(c) < 32 or ord(c) == 127 for c in subject):
        raise errors.invalid_subject("the subject name contains control characters")
    return subject


def check_level(level: object) -> str:
    if not isinstance(level, str) or level.upper() not in LEVELS:
        raise errors.invalid_compatibility_level(level)
    return level.upper()


def parse_candidate(body: Any) -> Candidate:
    """The schema in a register/lookup/compatibility request body, or a 42201/42209 error."""
    if not isinstance(body, dict) or "schema" not in body:
        raise errors.invalid_schema('the request body needs a "schema" field')
    text = body["schema"]
    if not isinstance(text, str):
        raise errors.invalid_schema('"schema" must be a string holding the schema\'s JSON')
    if len(text.encode()) > MAX_SCHEMA_BYTES:
        raise errors.schema_too_large(len(text.encode()), MAX_SCHEMA_BYTES)
    schema_type = body.get("schemaType") or "AVRO"
    if schema_type != "AVRO":
        raise errors.invalid_schema(f"schemaType {schema_type} is not supported; only AVRO is")
    if body.get("references"):
        raise errors.invalid_schema("schema references are not supported")
    try:
        as_json = json.loads(text)
        parsed = parse(as_json)
    except (json.JSONDecodeError, avro.errors.AvroException, TypeError, ValueError) as err:
        raise errors.invalid_schema(str(err)) from err
    except RecursionError as err:  # JSON nested thousands deep
        raise errors.invalid_schema("the schema nests too deeply to be read") from err
    # Legal Avro, but a few bytes of its data could claim unbounded work from every consumer.
    refused = decodable.count_refusal(parsed)
    if refused:
        raise errors.invalid_schema(refused)
    # Identity is the schema as written (defaults and docs count), not its parsing canonical form;
    # key order inside JSON objects does not count.
    identity = json.dumps(as_json, sort_keys=True, separators=(",", ":"))
    return Candidate(
        text=json.dumps(as_json, separators=(",", ":")),
        parsed=parsed,
        fingerprint=hashlib.sha256(identity.encode()).hexdigest(),
    )


def parse_version(text: str) -> int | None:
    """A version path segment: None for latest (``latest`` or ``-1``), else 1..2^31-1."""
    if text in ("latest", "-1"):
        return None
    try:
        version = int(text)
    except ValueError:
        raise errors.invalid_version(text) from None
    if not 1 <= version <= MAX_VERSION:
        raise errors.invalid_version(text)
    return version


def incompatibilities(level: str, candidate: ParsedSchema, existing: list[ParsedSchema]) -> list[str]:
    """Why ``candidate`` may not follow ``existing`` (oldest first) under ``level``; [] if ok."""
    if level == "NONE" or not existing:
        return []
    targets = existing if level.endswith("_TRANSITIVE") else existing[-1:]
    messages: list[str] = []
    for old in targets:
        if level.startswith(("BACKWARD", "FULL")):
            messages += check_parsed(reader=candidate, writer=old).messages
        if level.startswith(("FORWARD", "FULL")):
            messages += check_parsed(reader=old, writer=candidate).messages
    return messages


class Registry:
    """Confluent-compatible operations over a Store; every method returns the response body."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._parsed: dict[int, ParsedSchema] = {}
        self._lock = threading.Lock()

    # -- schemas -------------------------------------------------------------------------------

    def schema_text(self, schema_id: int) -> str:
        text = self.store.schema(schema_id)
        if text is None:
            raise errors.schema_not_found(schema_id)
        return text

    def schema_by_id(self, schema_id: int) -> dict[str, Any]:
        return {"schema": self.schema_text(schema_id)}

    def _parsed_schema(self, schema_id: int) -> ParsedSchema:
        with self._lock:
            if schema_id not in self._parsed:
                self._parsed[schema_id] = parse(json.loads(self.schema_text(schema_id)))
            return self._parsed[schema_id]

    # -- subjects and versions -----------------------------------------------------------------

    def _versions(self, subject: str, deleted: bool = False) -> list[SubjectVersion]:
        """The subject's versions (live only unless ``deleted``); 40401 when there are none."""
        versions = [v for v in self.store.versions(check_subject(subject)) if deleted or not v.deleted]
        if not versions:
            raise errors.subject_not_found(subject)
        return versions

    def _version(self, subject: str, version_text: str, deleted: bool = False) -> SubjectVersion:
        wanted = parse_version(version_text)
        versions = self._versions(subject, deleted)
        if wanted is None:
            return versions[-1]
        for v in versions:
            if v.version == wanted:
                return v
        raise errors.version_not_found(wanted)

    def subjects(self, deleted: bool = False) -> list[str]:
        return [
            s for s in self.store.subjects() if deleted or any(not v.deleted for v in self.store.versions(s))
        ]

    def versions(self, subject: str, deleted: bool = False) -> list[int]:
        return [v.version for v in self._versions(subject, deleted)]

    def version(self, subject: str, version_text: str, deleted: bool = False) -> dict[str, Any]:
        v = self._version(subject, version_text, deleted)
        return {
            "subject": subject,
            "version": v.version,
            "id": v.schema_id,
            "schema": self.schema_text(v.schema_id),
        }

    def register(self, subject: str, body: Any) -> dict[str, Any]:
        """Register under ``subject``: the existing id when it is there, else a new version."""
        check_subject(subject)
        candidate = parse_candidate(body)
        for _ in range(_REGISTER_ATTEMPTS):
            versions = self.store.versions(subject)
            live = [v for v in versions if not v.deleted]
            known = self.store.find_id(candidate.fingerprint)
            if known is not None and any(v.schema_id == known for v in live):
                return {"id": known}
            level = self.level(subject)
            existing = [self._parsed_schema(v.schema_id) for v in live]
            problems = incompatibilities(level, candidate.parsed, existing)
            if problems:
                raise errors.incompatible(problems)
            schema_id = self.store.id_for(candidate.fingerprint, candidate.text)
            number = max((v.version for v in versions), default=0) + 1
            try:
                self.store.add_version(SubjectVersion(subject, number, schema_id))
            except VersionTaken:
                continue
            return {"id": schema_id}
        raise errors.store_failed(f"could not add a version to '{subject}': too many concurrent writers")

    def lookup(self, subject: str, body: Any, deleted: bool = False) -> dict[str, Any]:
        versions = self._versions(subject, deleted)
        candidate = parse_candidate(body)
        known = self.store.find_id(candidate.fingerprint)
        for v in reversed(versions):
            if v.schema_id == known:
                return {
                    "subject": subject,
                    "version": v.version,
                    "id": v.schema_id,
                    "schema": self.schema_text(v.schema_id),
                }
        raise errors.schema_not_found()

    def delete_subject(self, subject: str, permanent: bool = False) -> list[int]:
        versions = self._versions(subject, deleted=True)
        live = [v for v in versions if not v.deleted]
        if permanent:
            if live:
                raise errors.subject_not_soft_deleted(subject)
            for v in versions:
                self.store.remove_version(subject, v.version)
            return [v.version for v in versions]
        if not live:
            raise errors.subject_soft_deleted(subject)
        for v in live:
            self.store.mark_deleted(subject, v.version)
        return [v.version for v in live]

    def delete_version(self, subject: str, version_text: str, permanent: bool = False) -> int:
        wanted = parse_version(version_text)
        if permanent and wanted is None:
            raise errors.invalid_version(version_text)  # 'latest' is ambiguous once deleted
        v = self._version(subject, version_text, deleted=wanted is not None)
        if permanent:
            if not v.deleted:
                raise errors.version_not_soft_deleted(subject, v.version)
            self.store.remove_version(subject, v.version)
        else:
            if v.deleted:
                raise errors.version_soft_deleted(subject, v.version)
            self.store.mark_deleted(subject, v.version)
        return v.version

    # -- compatibility and config --------------------------------------------------------------

    def test_compatibility(
        self, subject: str, version_text: str | None, body: Any, verbose: bool = False
    ) -> dict[str, Any]:
        """Test a candidate against one version (or, with None, every version the level names)."""
        candidate = parse_candidate(body)
        level = self.level(subject)
        if version_text is None:
            live = [v for v in self.store.versions(check_subject(subject)) if not v.deleted]
        else:
            live = [self._version(subject, version_text)]
            level = level.removesuffix("_TRANSITIVE")
        problems = incompatibilities(
            level, candidate.parsed, [self._parsed_schema(v.schema_id) for v in live]
        )
        result: dict[str, Any] = {"is_compatible": not problems}
        if verbose:
            result["messages"] = problems
        return result

    def level(self, subject: str | None) -> str:
        """The level in force: the subject's, else the global one, else BACKWARD."""
        configured = self.store.compatibility(subject) if subject is not None else None
        return configured or self.store.compatibility(None) or DEFAULT_COMPATIBILITY

    def get_config(self, subject: str | None, default_to_global: bool = False) -> dict[str, Any]:
        if subject is None:
            return {"compatibilityLevel": self.level(None)}
        configured = self.store.compatibility(check_subject(subject))
        if configured is None:
            if not default_to_global:
                raise errors.subject_config_not_set(subject)
            configured = self.level(None)
        return {"compatibilityLevel": configured}

    def set_config(self, subject: str | None, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or "compatibility" not in body:
            raise errors.invalid_compatibility_level(None)
        level = check_level(body["compatibility"])
        self.store.set_compatibility(check_subject(subject) if subject is not None else None, level)
        return {"compatibility": level}

    def delete_config(self, subject: str) -> dict[str, Any]:
        previous = self.get_config(subject)
        self.store.set_compatibility(subject, None)
        return previous
