"""The simulated world the sensors observe: enterprises, their correspondents and the attackers.

Built from the seed alone, so reputations (which domains and IPs are good) persist across hours.
"""

from __future__ import annotations

import hashlib
import ipaddress
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

FIRST_NAMES = (
    "Alice",
    "Bruno",
    "Carmen",
    "Deepak",
    "Elena",
    "Farid",
    "Grace",
    "Hiro",
    "Ines",
    "Jamal",
    "Keiko",
    "Liam",
    "Maya",
    "Nikolai",
    "Olivia",
    "Pedro",
    "Quinn",
    "Rosa",
    "Sven",
    "Tara",
    "Uma",
    "Victor",
    "Wen",
    "Ximena",
    "Yusuf",
    "Zoe",
)
LAST_NAMES = (
    "Anders",
    "Baptiste",
    "Chen",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Lopez",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Rossi",
    "Silva",
    "Tanaka",
    "Urquhart",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
)
WORDS = (
    "north",
    "wind",
    "blue",
    "harbor",
    "summit",
    "cedar",
    "atlas",
    "pioneer",
    "delta",
    "vertex",
    "orbit",
    "river",
    "stone",
    "bright",
    "union",
    "metro",
    "global",
    "prime",
    "silver",
    "oak",
    "crest",
    "lumen",
    "apex",
    "nova",
    "quantum",
    "coastal",
    "granite",
    "maple",
    "falcon",
    "iron",
)
TLDS_LEGIT = ("com", "com", "com", "net", "org", "io", "co.uk", "de")
TLDS_RISKY = ("top", "xyz", "click", "live", "shop", "info", "online")
FREEMAIL = ("gmail.com", "outlook.com", "yahoo.com", "proton.me")
SHORTENERS = ("bit.ly", "tinyurl.com", "t.co")
ESPS = ("sendgrid.net", "mailchimpapp.net", "amazonses.com", "mktomail.com")


@dataclass(frozen=True)
class Enterprise:
    """A customer with a sensor at one schema version."""

    enterprise_id: str
    name: str
    domains: tuple[str, ...]
    sensor_version: int
    messages_per_quarter: int
    malicious_rate: float
    executives: tuple[str, ...] = ()
    employees: tuple[str, ...] = ()


ENTERPRISES: tuple[Enterprise, ...] = (
    Enterprise("acme", "Acme Corp", ("acme-corp.com",), 1, 1400, 0.035),
    Enterprise("globex", "Globex", ("globex.com", "globex-mail.com"), 2, 1000, 0.05),
    Enterprise("initech", "Initech", ("initech.com",), 3, 700, 0.06),
)
ENTERPRISE_IDS = tuple(e.enterprise_id for e in ENTERPRISES)
"""The simulator's own profiles: the local stack's tenant map by default. Any other enterprise of
a tenant map gets a profile derived from its id (``derived_profile``)."""
STAFF_PER_ENTERPRISE = 60
DERIVED_SENSOR_VERSIONS = (1, 2, 3)
DERIVED_MESSAGES_PER_QUARTER = (300, 1500)
DERIVED_MALICIOUS_RATE = (0.03, 0.06)


def derived_profile(enterprise_id: str) -> Enterprise:
    """The profile of an enterprise the simulator has none for: a function of its id alone, so
    the same tenant map simulates the same traffic everywhere."""
    digest = hashlib.sha256(f"enterprise:{enterprise_id}".encode()).digest()
    low, high = DERIVED_MESSAGES_PER_QUARTER
    rate_low, rate_high = DERIVED_MALICIOUS_RATE
    return Enterprise(
        enterprise_id,
        enterprise_id.replace("-", " ").title(),
        (f"{enterprise_id}.com",),
        DERIVED_SENSOR_VERSIONS[digest[0] % len(DERIVED_SENSOR_VERSIONS)],
        low + int.from_bytes(digest[1:3], "big") % (high - low + 1),
        round(rate_low + (rate_high - rate_low) * digest[3] / 255, 4),
    )


def _simulated(enterprise_ids: Iterable[str] | None) -> list[tuple[Enterprise, int | None]]:
    """Each enterprise to simulate with its slot in the simulator's own profiles (None: derived):
    the simulator's first, in their order (their traffic stays what it always was), then the
    others by id."""
    if enterprise_ids is None:
        return [(ent, i) for i, ent in enumerate(ENTERPRISES)]
    wanted = set(enterprise_ids)
    own = [(ent, i) for i, ent in enumerate(ENTERPRISES) if ent.enterprise_id in wanted]
    others = sorted(wanted - set(ENTERPRISE_IDS))
    return [*own, *((derived_profile(e), None) for e in others)]


@dataclass(frozen=True)
class Correspondent:
    """A legitimate external sender domain with the IPs it sends from."""

    domain: str
    ips: tuple[str, ...]
    has_dmarc: bool
    esp: str | None


@dataclass
class World:
    """Everything the generators draw from; deterministic for a seed."""

    enterprises: dict[str, Enterprise]
    partners: list[Correspondent]
    newsletters: list[Correspondent]
    attacker_domains: list[str]
    attacker_ips: list[str]
    cloud_ips: list[str]
    people: list[str] = field(default_factory=list)

    @classmethod
    def build(cls, seed: int, enterprise_ids: Iterable[str] | None = None) -> World:
        """The world of ``seed`` with the enterprises of ``enterprise_ids`` (a tenant map's ids;
        None: the simulator's own three). An enterprise's traffic depends on the seed and its
        own profile only, never on which other enterprises are simulated."""
        rng = random.Random(f"world:{seed}")
        people = [f"{f} {l}" for f in FIRST_NAMES for l in LAST_NAMES]  # noqa: E741
        rng.shuffle(people)
        enterprises = {}
        for ent, slot in _simulated(enterprise_ids):
            staff = _staff(people, seed, ent.enterprise_id, slot)
            enterprises[ent.enterprise_id] = Enterprise(
                **{**ent.__dict__, "executives": tuple(staff[:4]), "employees": tuple(staff[4:])}
            )
        cloud = _ip_pool(rng, "52.0.0.0/10", 40)
        partners = [_correspondent(rng, cloud, esp=None) for _ in range(160)]
        newsletters = [_correspondent(rng, cloud, esp=rng.choice(ESPS)) for _ in range(40)]
        attacker_domains = [_domain(rng, TLDS_RISKY) for _ in range(120)]
        attacker_ips = _ip_pool(rng, "185.100.0.0/14", 60) + rng.sample(cloud, 10)
        return cls(enterprises, partners, newsletters, attacker_domains, attacker_ips, cloud, people)


def _staff(people: list[str], seed: int, enterprise_id: str, slot: int | None) -> list[str]:
    """An enterprise's people: the simulator's own take their fixed share of the shuffled list,
    a derived enterprise a sample drawn by its id (without touching the world's generator)."""
    if slot is not None:
        return people[slot * STAFF_PER_ENTERPRISE : (slot + 1) * STAFF_PER_ENTERPRISE]
    return random.Random(f"staff:{seed}:{enterprise_id}").sample(people, STAFF_PER_ENTERPRISE)


def _domain(rng: random.Random, tlds: tuple[str, ...]) -> str:
    return f"{rng.choice(WORDS)}{rng.choice(('', '-'))}{rng.choice(WORDS)}.{rng.choice(tlds)}"


def _ip_pool(rng: random.Random, cidr: str, count: int) -> list[str]:
    net = ipaddress.ip_network(cidr)
    return [str(net[rng.randrange(1, net.num_addresses - 1)]) for _ in range(count)]


def _correspondent(rng: random.Random, cloud: list[str], esp: str | None) -> Correspondent:
    own = _ip_pool(rng, f"{rng.choice((64, 72, 98, 104, 144, 198))}.{rng.randrange(256)}.0.0/16", 2)
    ips = tuple(rng.sample(cloud, 3)) if esp else tuple(own)
    return Correspondent(_domain(rng, TLDS_LEGIT), ips, rng.random() < 0.8, esp)


def lookalike(rng: random.Random, domain: str) -> str:
    """A domain a hurried reader mistakes for ``domain``."""
    name, _, tld = domain.partition(".")
    tricks: list[Callable[[], str]] = [
        lambda: name.replace("o", "0", 1) + "." + tld,
        lambda: name.replace("m", "rn", 1) + "." + tld,
        lambda: name.replace("-", "", 1) + "." + tld,
        lambda: f"{name}-secure.{tld}",
        lambda: f"{name}.{rng.choice(TLDS_RISKY)}",
        lambda: f"{name}{rng.choice(('-hr', '-it', '-support', 'mail'))}.com",
        lambda: name[:-1] + name[-1] * 2 + "." + tld,
    ]
    for trick in rng.sample(tricks, len(tricks)):
        candidate = trick()
        if candidate != domain:
            return candidate
    return f"{name}-portal.{tld}"
