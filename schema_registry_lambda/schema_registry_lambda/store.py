"""Where the registry keeps schemas, ids, subject versions and config; an in-memory store."""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from dataclasses import dataclass, replace

from schema_registry_lambda.errors import VersionTaken


@dataclass(frozen=True)
class SubjectVersion:
    """One version of a subject: which schema id it holds, and whether it is soft-deleted."""

    subject: str
    version: int
    schema_id: int
    deleted: bool = False


class Store(ABC):
    """The registry's storage. Implementations must be safe under concurrent writers:
    ``id_for`` never hands out two ids for one schema nor one id for two schemas, and
    ``add_version`` raises VersionTaken when the version was stored by someone else first.
    """

    @abstractmethod
    def id_for(self, fingerprint: str, schema: str) -> int:
        """The id of the schema with ``fingerprint``, assigned now if it has none."""

    @abstractmethod
    def find_id(self, fingerprint: str) -> int | None:
        """The id of the schema with ``fingerprint``, without assigning one."""

    @abstractmethod
    def schema(self, schema_id: int) -> str | None:
        """The schema text registered under ``schema_id``."""

    @abstractmethod
    def versions(self, subject: str) -> list[SubjectVersion]:
        """Every stored version of ``subject`` (soft-deleted too), oldest first."""

    @abstractmethod
    def add_version(self, entry: SubjectVersion) -> None:
        """Store a new version; VersionTaken if that version already exists."""

    @abstractmethod
    def mark_deleted(self, subject: str, version: int) -> None: ...

    @abstractmethod
    def remove_version(self, subject: str, version: int) -> None: ...

    @abstractmethod
    def subjects(self) -> list[str]:
        """Every subject that has ever had a version stored and not permanently removed."""

    @abstractmethod
    def compatibility(self, subject: str | None) -> str | None:
        """The configured level for ``subject`` (None: the global one), or None when unset."""

    @abstractmethod
    def set_compatibility(self, subject: str | None, level: str | None) -> None:
        """Set (or with None, clear) the level for ``subject`` or, with None, the global one."""


class InMemoryStore(Store):
    """A Store in a dict, for unit tests and local work; one lock serialises writers."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._ids: dict[str, int] = {}
        self._schemas: dict[int, str] = {}
        self._versions: dict[str, dict[int, SubjectVersion]] = {}
        self._config: dict[str | None, str] = {}

    def id_for(self, fingerprint: str, schema: str) -> int:
        with self._lock:
            if fingerprint not in self._ids:
                new_id = len(self._schemas) + 1
                self._ids[fingerprint] = new_id
                self._schemas[new_id] = schema
            return self._ids[fingerprint]

    def find_id(self, fingerprint: str) -> int | None:
        return self._ids.get(fingerprint)

    def schema(self, schema_id: int) -> str | None:
        return self._schemas.get(schema_id)

    def versions(self, subject: str) -> list[SubjectVersion]:
        with self._lock:
            return sorted(self._versions.get(subject, {}).values(), key=lambda v: v.version)

    def add_version(self, entry: SubjectVersion) -> None:
        with self._lock:
            versions = self._versions.setdefault(entry.subject, {})
            if entry.version in versions:
                raise VersionTaken(entry.subject, entry.version)
            versions[entry.version] = entry

    def mark_deleted(self, subject: str, version: int) -> None:
        with self._lock:
            entry = self._versions[subject][version]
            self._versions[subject][version] = replace(entry, deleted=True)

    def remove_version(self, subject: str, version: int) -> None:
        with self._lock:
            del self._versions[subject][version]
            if not self._versions[subject]:
                del self._versions[subject]

    def subjects(self) -> list[str]:
        with self._lock:
            return sorted(self._versions)

    def compatibility(self, subject: str | None) -> str | None:
        return self._config.get(subject)

    def set_compatibility(self, subject: str | None, level: str | None) -> None:
        with self._lock:
            if level is None:
                self._config.pop(subject, None)
            else:
                self._config[subject] = level
