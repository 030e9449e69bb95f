"""Registrable domains from the Public Suffix List (``mail.acme.co.uk`` -> ``acme.co.uk``,
``x.github.io`` -> ``x.github.io``).

The list is the snapshot bundled with ``publicsuffixlist`` (never downloaded at run time), and a
model artifact carries the rules it was trained with, so both engines score with that list.
Python answers with ``publicsuffixlist`` itself; ``rules_by_depth`` and ``tails`` give the Spark
twin (``spark_jobs.trust_columns.with_org_domains``) the same rules as sets per label count.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache
from importlib import resources
from typing import Any

import publicsuffixlist
from publicsuffixlist import PublicSuffixList

from trustpipe.bounded import ByteBoundedMemo

_NO_DIGITS = str.maketrans("", "", "0123456789")


def is_address_literal(name: str) -> bool:
    """An address literal (``[192.0.2.1]``, ``[IPv6:…]``) or a bare dotted quad (ASCII digits and
    three dots): kept whole, never cut at a suffix (the list would make ``1.2.3.4`` ``3.4``)."""
    return (name.startswith("[") and name.endswith("]")) or name.translate(_NO_DIGITS) == "..."


ORG_CACHE_BYTES = 16 << 20
"""Sender domains repeat, so the answers for recent ones are kept per list, up to this many bytes
(keys, answers and entries): about 75,000 ordinary domains, and no more than this however long or
many the names a producer sends."""
MAX_DOMAIN_CHARS = 253
"""The longest name DNS allows (RFC 1035, dots included): a longer one is answered, never kept."""


@dataclass(frozen=True)
class DepthRules:
    """The rules whose name has one label count: exact suffixes, wildcard parents (``*.ck`` ->
    ``ck``) and exception names (``!www.ck`` -> ``www.ck``), each in Unicode and punycode."""

    exact: frozenset[str]
    wildcard: frozenset[str]
    exception: frozenset[str]


class SuffixList:
    """One version of the Public Suffix List: its rules and the registrable-domain function."""

    def __init__(self, version: str, rules: Iterable[str]) -> None:
        self.version = version
        self.rules = tuple(rules)
        self._psl = PublicSuffixList(self.rules)
        self.org_cache = ByteBoundedMemo(self._org_domain, ORG_CACHE_BYTES, MAX_DOMAIN_CHARS)
        self.org_domain = self.org_cache.lookup
        self.orgs = lru_cache(maxsize=1024)(self._orgs)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, SuffixList) and (self.version, self.rules) == (other.version, other.rules)

    def __hash__(self) -> int:
        return hash((self.version, self.rules))

    def __reduce__(self) -> tuple[Any, tuple[str, tuple[str, ...]]]:
        # Pickled by its rules (a Spark task, a worker process), not its caches.
        return _parsed, (self.version, self.rules)

    def __repr__(self) -> str:
        return f"SuffixList({self.version!r}, {len(self.rules)} rules)"

    @classmethod
    def bundled(cls) -> SuffixList:
        """The snapshot installed with ``publicsuffixlist`` (one instance per process)."""
        return _bundled()

    def _org_domain(self, domain: str) -> str:
        """The registrable domain of a lowercased ``domain``; the domain itself (less one trailing
        dot) when it has none: a public suffix, an address literal, or not a valid name."""
        stripped = domain[:-1] if domain.endswith(".") else domain
        if is_address_literal(stripped):
            return stripped
        return self._psl.privatesuffix(domain) or stripped

    def _orgs(self, domains: tuple[str, ...]) -> frozenset[str]:
        return frozenset(self.org_domain(d) for d in domains)

    @cache  # noqa: B019 - one per list, and lists live as long as the process
    def rules_by_depth(self) -> dict[int, DepthRules]:
        """The rules by the label count of the name they are matched on, as the library reads
        them: lowercased, and each also in punycode."""
        found: dict[int, tuple[set[str], set[str], set[str]]] = {}
        for rule in self.rules:
            bang = rule.startswith("!")
            name = rule.lstrip("!")
            for form in {name, name.encode("idna").decode("ascii")}:
                kind, matched = (2, form) if bang else (1, form[2:]) if form.startswith("*.") else (0, form)
                found.setdefault(matched.count(".") + 1, (set(), set(), set()))[kind].add(matched)
        return {
            depth: DepthRules(frozenset(e), frozenset(w), frozenset(x))
            for depth, (e, w, x) in sorted(found.items())
        }

    def tails(self, labels: int) -> frozenset[str]:
        """The last ``labels`` labels of every rule name at least that long: a name whose last
        labels are not among them matches no rule that long or longer."""
        return frozenset(
            ".".join(name.split(".")[-labels:])
            for depth, rules in self.rules_by_depth().items()
            if depth >= labels
            for name in rules.exact | rules.wildcard | rules.exception
        )

    def to_doc(self) -> dict[str, Any]:
        return {"version": self.version, "rules": list(self.rules)}

    @classmethod
    def from_doc(cls, doc: Any) -> SuffixList:
        """A list as an artifact stores it; ValueError when it is not one."""
        if (
            not isinstance(doc, dict)
            or not isinstance(doc.get("version"), str)
            or not isinstance(doc.get("rules"), list)
        ):
            raise ValueError("public_suffix_list needs a version and a list of rules")
        return _parsed(doc["version"], tuple(str(r) for r in doc["rules"]))


def read_rules(lines: Iterable[str]) -> tuple[str, ...]:
    """The rules of a list file, as the library parses them: first word, lowercased, no comments."""
    rules = (line.lower().split(" ")[0].rstrip() for line in lines)
    return tuple(r for r in rules if r and not r.startswith("//"))


@cache
def _bundled() -> SuffixList:
    text = resources.files(publicsuffixlist).joinpath("public_suffix_list.dat").read_text("utf-8")
    return SuffixList(_bundled_version(), read_rules(text.splitlines()))


@cache
def _parsed(version: str, rules: tuple[str, ...]) -> SuffixList:
    """One SuffixList per distinct list: every artifact built with the same list shares it."""
    if version == _bundled_version() and rules == _bundled().rules:
        return _bundled()
    return SuffixList(version, rules)


def _bundled_version() -> str:
    """1.1.2.20261023: the list's date is the last part of the package's version."""
    return str(publicsuffixlist.__version__).rpartition(".")[2]
