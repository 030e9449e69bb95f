"""A phishing campaign that starts mid-day from sender domains and networks the World has never
seen: no correspondent, attacker or cloud range of any seed holds them, so no model's history
and no counter knows them before its first message.

Its mail passes SPF, DKIM and DMARC (the campaign registered its domains properly) and carries a
credential-harvesting link on its own domain: what gives it away is who sends it, and how the
labels of its first messages judge that sender. A newcomer of the same shape but legitimate (a
new partner's first day, ``malicious=False``) is the other side of the question: a sender no
history knows, whose labels say it is fine.
"""

from __future__ import annotations

import hashlib
import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from trustpipe import layout
from trustpipe_sensors.generator import Labelled, spread
from trustpipe_sensors.world import FIRST_NAMES, LAST_NAMES, WORDS, Enterprise, World

CAMPAIGN_TLDS = ("zip", "mov", "cam", "bond")
"""Top-level domains no World draws from (``world.TLDS_LEGIT``, ``world.TLDS_RISKY``)."""
CAMPAIGN_NETWORK, NEWCOMER_NETWORK = "45.141", "45.142"
"""The campaign's /16 and the newcomer's: outside every range a World draws addresses from (its
cloud 52.0.0.0/10, its attackers' 185.100.0.0/14, its correspondents' /16s under 64, 72, 98,
104, 144 and 198)."""
BRANDS = ("IT Helpdesk", "Microsoft 365", "Payroll", "DocuSign", "Shared Files")


@dataclass(frozen=True)
class Campaign:
    """``per_quarter`` messages a quarter to each enterprise from ``starts`` on, sent from
    ``domains`` through the /24s of ``networks``."""

    starts: datetime
    domains: tuple[str, ...]
    networks: tuple[str, ...]
    per_quarter: int
    malicious: bool = True
    """False: a new legitimate correspondent instead (a partner's first day), as unseen."""

    @classmethod
    def new(
        cls, seed: int, starts: datetime, per_quarter: int = 12, size: int = 3, malicious: bool = True
    ) -> Campaign:
        """``size`` domains and /24s of their own, from ``seed`` alone (and whether it is the
        campaign or a newcomer: the two never share one)."""
        rng = random.Random(f"campaign:{seed}:{malicious}")
        domains = tuple(
            f"{rng.choice(WORDS)}-{rng.choice(WORDS)}-{rng.randrange(100, 999)}.{rng.choice(CAMPAIGN_TLDS)}"
            for _ in range(size)
        )
        network = CAMPAIGN_NETWORK if malicious else NEWCOMER_NETWORK
        networks = tuple(f"{network}.{n}" for n in rng.sample(range(1, 255), size))
        return cls(starts, domains, networks, per_quarter, malicious)

    def quarter(self, ent: Enterprise, start: datetime, seed: int) -> list[Labelled]:
        """The campaign's messages to ``ent`` in the quarter from ``start`` (none before it
        starts), deterministic for the seed; all malicious."""
        if start + layout.QUARTER <= self.starts:
            return []
        digest = hashlib.sha256(f"campaign:{seed}:{ent.enterprise_id}:{start.isoformat()}".encode()).digest()
        rng = random.Random(int.from_bytes(digest[:8], "big"))
        begin = max(start, self.starts)
        span = start + layout.QUARTER - begin
        count = max(1, round(self.per_quarter * span / layout.QUARTER))
        make = self._message if self.malicious else self._newcomer
        return [make(rng, ent, at) for at in spread(begin, span, count, rng)]

    def _newcomer(self, rng: random.Random, ent: Enterprise, at: datetime) -> Labelled:
        """A new partner's ordinary mail: a person writing, a link to its own site."""
        m = self._message(rng, ent, at)
        domain = m.record["from_address"].rpartition("@")[2]
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        sender = f"{first.lower()}.{last.lower()}@{domain}"
        record = {
            **m.record,
            "from_address": sender,
            "return_path": sender,
            "from_display_name": f"{first} {last}",
            "recipient_count": rng.randint(1, 3),
            "urls": [f"https://www.{domain}/{rng.choice(WORDS)}"],
        }
        return Labelled(record, False, None)

    def _message(self, rng: random.Random, ent: Enterprise, at: datetime) -> Labelled:
        domain = rng.choice(self.domains)
        ip = f"{rng.choice(self.networks)}.{rng.randrange(2, 254)}"
        sender = f"{rng.choice(WORDS)}@{domain}"
        record = {
            "message_id": f"<{uuid.UUID(int=rng.getrandbits(128), version=4)}@{domain}>",
            "enterprise_id": ent.enterprise_id,
            "received_at": at,
            "from_address": sender,
            "from_display_name": rng.choice(BRANDS),
            "return_path": sender,
            "reply_to": None,
            "sending_ip": ip,
            "spf": "PASS",
            "dkim": "PASS",
            "dmarc": "PASS",
            "dkim_domain": domain,
            "recipient_count": rng.randint(1, 25),
            "subject_length": rng.randint(20, 70),
            "size_bytes": rng.randint(4_000, 40_000),
            "in_known_thread": False,
            "url_count": 1,
            "attachment_count": 0,
            "urls": [f"https://login.{domain}/{rng.choice(WORDS)}"],
            "attachments": [],
        }
        return Labelled(record, True, "campaign")


def unseen_by(world: World, campaign: Campaign) -> bool:
    """Whether ``world`` holds none of the campaign's domains and /24s (a check, for its tests)."""
    ranges = {".".join(ip.split(".")[:3]) for ip in world.attacker_ips + world.cloud_ips}
    ranges |= {".".join(ip.split(".")[:3]) for c in world.partners + world.newsletters for ip in c.ips}
    domains = set(world.attacker_domains) | {c.domain for c in world.partners + world.newsletters}
    return not (set(campaign.domains) & domains) and not (set(campaign.networks) & ranges)


def day_of_traffic(
    world: World, newcomers: Sequence[Campaign], day: datetime, seed: int, scale: float, hours: int = 24
) -> list[Labelled]:
    """``hours`` hours of every enterprise's mail from ``day`` (its first hour), the newcomers'
    (campaigns, new correspondents) among it, in the order it arrives."""
    from trustpipe_sensors.sensor import generate_quarter

    out: list[Labelled] = []
    for h in range(hours):
        for start in layout.quarter_starts(day + timedelta(hours=h)):
            for ent in world.enterprises.values():
                out += generate_quarter(world, ent, start, seed, scale)
                for newcomer in newcomers:
                    out += newcomer.quarter(ent, start, seed)
    return sorted(out, key=lambda m: m.record["received_at"])
