"""Features of one email (a v4 record), against its enterprise's profile and reputation tables.

Every rule here has a twin in ``spark_jobs.trust_columns``; change both or neither.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from rapidfuzz.distance import Levenshtein

from trustpipe.model.suffixes import SuffixList

FEATURES = (
    "spf_fail",
    "spf_missing",
    "dkim_fail",
    "dkim_missing",
    "dmarc_fail",
    "dmarc_missing",
    "auth_unknown",
    "return_path_mismatch",
    "dkim_misaligned",
    "own_domain_external",
    "display_name_spoof",
    "lookalike_domain",
    "reply_to_mismatch",
    "reply_to_freemail",
    "from_freemail",
    "domain_reputation",
    "domain_unseen",
    "ip_reputation",
    "ip_unseen",
    "internal_ip",
    "risky_urls",
    "url_volume",
    "executable_attachment",
    "archive_attachment",
    "known_thread",
    "recipient_volume",
    "details_missing",
)
"""Feature order: the model's weights and both engines' sums follow it."""

FREEMAIL = ("gmail.com", "outlook.com", "yahoo.com", "proton.me", "hotmail.com", "icloud.com")
FAIL = ("FAIL", "SOFTFAIL")
# TEMPERROR/PERMERROR (v3+) and NEUTRAL say nothing was verified; UNKNOWN is the enum's default
# symbol, what an older reader sees for a symbol it lacks: kept apart as its own feature.
MISSING = ("NONE", "NEUTRAL", "TEMPERROR", "PERMERROR")
UNKNOWN = "UNKNOWN"
RISKY_URL = re.compile(
    r"^https?://((\d{1,3}\.){3}\d{1,3}|bit\.ly|tinyurl\.com|t\.co|[^/]*\.(top|xyz|click|live|shop|info|online))(/|:|$)"
)
EXECUTABLE = re.compile(r"\.(exe|js|iso|html|htm|docm|xlsm|scr|vbs)$")
ARCHIVE = re.compile(r"\.(zip|rar|7z)$")
INTERNAL_IP = "10."
URL_CAP, RECIPIENT_CAP, RISKY_URL_CAP = 20, 50, 3
LOOKALIKE_DISTANCE, LOOKALIKE_MIN_LABEL = 2, 5


@dataclass(frozen=True)
class Profile:
    """What the model knows of one enterprise: its domains and the names its people use."""

    domains: tuple[str, ...] = ()
    names: frozenset[str] = field(default_factory=frozenset)


@dataclass(frozen=True)
class Reputation:
    """Smoothed malicious rates by sender org domain and by sending /24, from history."""

    domains: Mapping[str, float]
    ip_prefixes: Mapping[str, float]
    prior: float


def domain_of(address: str | None) -> str:
    return (address or "").rpartition("@")[2].strip(" ").lower()


def org_label(org: str) -> str:
    return org.split(".")[0]


def ip_prefix(ip: str) -> str:
    return ".".join(ip.split(".")[:3])


def levenshtein(a: str, b: str) -> int:
    """Edit distance (insert, delete, substitute; unit costs), as Spark's ``levenshtein``."""
    return int(Levenshtein.distance(a, b))


def is_lookalike(from_org: str, from_domain: str, orgs: frozenset[str]) -> bool:
    """A sender domain that is not the enterprise's but is within a typo of it, or wraps it."""
    if from_org in orgs:
        return False
    label = org_label(from_org)
    for own in sorted(orgs):
        own_label = org_label(own)
        near = len(own_label) >= LOOKALIKE_MIN_LABEL and levenshtein(label, own_label) <= LOOKALIKE_DISTANCE
        if near or own_label in from_domain:
            return True
    return False


def _capped_log(value: int, cap: int) -> float:
    return math.log1p(min(value, cap)) / math.log1p(cap)


def features(
    record: Mapping[str, Any], profile: Profile, reputation: Reputation, suffixes: SuffixList
) -> list[float]:
    """The FEATURES of one message, in order; registrable domains from ``suffixes``."""
    org_domain = suffixes.org_domain
    orgs = suffixes.orgs(profile.domains)
    from_domain = domain_of(record["from_address"])
    from_org = org_domain(from_domain)
    reply_domain = domain_of(record.get("reply_to"))
    dkim_domain = (record.get("dkim_domain") or "").lower()
    ip = record["sending_ip"] or ""
    auth = (record["spf"], record["dkim"], record["dmarc"])
    urls = record.get("urls") or []
    attachments = record.get("attachments") or []
    names = [a["filename"].lower() for a in attachments]
    name = (record["from_display_name"] or "").strip(" ").lower()
    internal = ip.startswith(INTERNAL_IP)
    values = {
        "spf_fail": auth[0] in FAIL,
        "spf_missing": auth[0] in MISSING,
        "dkim_fail": auth[1] == "FAIL",
        "dkim_missing": auth[1] in MISSING,
        "dmarc_fail": auth[2] == "FAIL",
        "dmarc_missing": auth[2] in MISSING,
        "auth_unknown": UNKNOWN in auth,
        "return_path_mismatch": org_domain(domain_of(record["return_path"])) != from_org,
        "dkim_misaligned": bool(dkim_domain) and org_domain(dkim_domain) != from_org,
        "own_domain_external": from_org in orgs and not internal,
        "display_name_spoof": bool(name) and name in profile.names and from_org not in orgs,
        "lookalike_domain": is_lookalike(from_org, from_domain, orgs),
        "reply_to_mismatch": bool(reply_domain) and org_domain(reply_domain) != from_org,
        "reply_to_freemail": reply_domain in FREEMAIL,
        "from_freemail": from_domain in FREEMAIL,
        "domain_reputation": reputation.domains.get(from_org, reputation.prior),
        "domain_unseen": from_org not in reputation.domains,
        "ip_reputation": reputation.ip_prefixes.get(ip_prefix(ip), reputation.prior),
        "ip_unseen": ip_prefix(ip) not in reputation.ip_prefixes,
        "internal_ip": internal,
        "risky_urls": min(sum(1 for u in urls if RISKY_URL.search(u)), RISKY_URL_CAP) / RISKY_URL_CAP,
        "url_volume": _capped_log(record["url_count"], URL_CAP),
        "executable_attachment": any(EXECUTABLE.search(n) for n in names),
        "archive_attachment": any(ARCHIVE.search(n) for n in names),
        "known_thread": bool(record.get("in_known_thread")),
        "recipient_volume": _capped_log(record["recipient_count"], RECIPIENT_CAP),
        "details_missing": (record["url_count"] > 0 and not urls)
        or (record["attachment_count"] > 0 and not attachments),
    }
    return [float(values[f]) for f in FEATURES]
