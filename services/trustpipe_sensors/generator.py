"""Message generators: legitimate traffic with its quirks, and attacks that borrow them.

Every risk signal (auth failures, reply-to mismatch, shorteners, archives, new domains) also
appears at low rates in legitimate mail, and some attacks pass every check, so no single field
separates the classes and a good model scores high but not perfectly.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from trustpipe_sensors.world import (
    FREEMAIL,
    SHORTENERS,
    WORDS,
    Enterprise,
    World,
    lookalike,
)

Record = dict[str, Any]

LEGIT_ATTACHMENTS = (
    ("invoice.pdf", "application/pdf"),
    ("report.xlsx", "application/vnd.ms-excel"),
    ("photo.jpg", "image/jpeg"),
    ("minutes.docx", "application/msword"),
    ("slides.pptx", "application/vnd.ms-powerpoint"),
    ("logs.zip", "application/zip"),
)
RISKY_ATTACHMENTS = (
    ("Invoice_{n}.zip", "application/zip"),
    ("scan_{n}.html", "text/html"),
    ("payment_{n}.iso", "application/octet-stream"),
    ("order_{n}.docm", "application/msword"),
    ("statement_{n}.pdf.js", "application/javascript"),
    ("setup_{n}.exe", "application/x-msdownload"),
    ("remittance_{n}.pdf", "application/pdf"),
)
ATTACKS = (
    ("display_name_spoof", 0.22),
    ("lookalike_domain", 0.2),
    ("domain_spoof", 0.14),
    ("credential_phish", 0.2),
    ("malware", 0.12),
    ("compromised_account", 0.12),
)
LEGIT_KINDS = (
    ("internal", 0.32),
    ("partner", 0.36),
    ("newsletter", 0.2),
    ("freemail", 0.07),
    ("saas", 0.05),
)


@dataclass(frozen=True)
class Labelled:
    """One generated message in the full (v3) shape, with its ground truth."""

    record: Record
    is_malicious: bool
    attack_type: str | None


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    names, weights = zip(*weighted, strict=True)
    return str(rng.choices(names, weights)[0])


def auth(rng: random.Random, pass_rate: float, alt: tuple[str, ...] = ("FAIL", "NONE")) -> str:
    if rng.random() < 0.004:
        return "TEMPERROR"
    return "PASS" if rng.random() < pass_rate else rng.choice(alt)


class MessageFactory:
    """Makes one enterprise's messages for one window; all randomness from ``rng``."""

    def __init__(self, world: World, enterprise: Enterprise, rng: random.Random) -> None:
        self.world = world
        self.ent = enterprise
        self.rng = rng

    def make(self, received_at: datetime) -> Labelled:
        malicious = self.rng.random() < self.ent.malicious_rate
        kind = pick(self.rng, ATTACKS if malicious else LEGIT_KINDS)
        builder: Callable[[], Record] = getattr(self, f"_{kind}")
        fields = builder()
        record = self._finish(fields, received_at)
        return Labelled(record, malicious, kind if malicious else None)

    # -- shared pieces -------------------------------------------------------------------------

    def _person(self) -> str:
        return self.rng.choice(self.world.people)

    def _address(self, name: str, domain: str) -> str:
        first, _, last = name.lower().partition(" ")
        style = self.rng.choice((f"{first}.{last}", f"{first[0]}{last}", first))
        return f"{style}@{domain}"

    def _urls(self, domain: str, n: int) -> list[str]:
        urls = [f"https://www.{domain}/{self.rng.choice(WORDS)}" for _ in range(n)]
        if urls and self.rng.random() < 0.04:
            urls[0] = f"https://{self.rng.choice(SHORTENERS)}/{self.rng.getrandbits(32):x}"
        return urls

    def _attachments(self, rate: float) -> list[Record]:
        if self.rng.random() >= rate:
            return []
        name, ctype = self.rng.choice(LEGIT_ATTACHMENTS)
        return [
            {
                "filename": name,
                "content_type": ctype,
                "size_bytes": self.rng.randint(20_000, 4_000_000),
            }
        ]

    def _risky_attachment(self) -> list[Record]:
        name, ctype = self.rng.choice(RISKY_ATTACHMENTS)
        filename = name.format(n=self.rng.randint(1000, 9999))
        return [
            {
                "filename": filename,
                "content_type": ctype,
                "size_bytes": self.rng.randint(3_000, 900_000),
            }
        ]

    def _finish(self, f: Record, received_at: datetime) -> Record:
        rng = self.rng
        urls = f.pop("urls", [])
        attachments = f.pop("attachments", [])
        domain = f["from_address"].rpartition("@")[2]
        record = {
            "message_id": f"<{uuid.UUID(int=rng.getrandbits(128), version=4)}@{domain}>",
            "enterprise_id": self.ent.enterprise_id,
            "received_at": received_at,
            "return_path": f["from_address"],
            "recipient_count": rng.choice((1, 1, 1, 2, 3, 5)),
            "subject_length": rng.randint(8, 90),
            "size_bytes": 2000 + sum(a["size_bytes"] for a in attachments) + rng.randint(0, 60000),
            "dkim_domain": domain if f.get("dkim") == "PASS" else None,
            "reply_to": None,
            "in_known_thread": False,
            "url_count": len(urls),
            "attachment_count": len(attachments),
            "urls": urls,
            "attachments": attachments,
        }
        record.update(f)
        return record

    # -- legitimate traffic --------------------------------------------------------------------

    def _internal(self) -> Record:
        domain = self.rng.choice(self.ent.domains)
        name = self.rng.choice(self.ent.employees + self.ent.executives)
        rng = self.rng
        return {
            "from_address": self._address(name, domain),
            "from_display_name": name,
            "sending_ip": f"10.{rng.randrange(4)}.{rng.randrange(256)}.{rng.randrange(1, 255)}",
            "spf": auth(rng, 0.99),
            "dkim": auth(rng, 0.98),
            "dmarc": auth(rng, 0.985),
            "recipient_count": rng.randint(1, 8),
            "in_known_thread": rng.random() < 0.4,
            "urls": self._urls(domain, rng.choice((0, 0, 1, 2))),
            "attachments": self._attachments(0.25),
        }

    def _partner(self) -> Record:
        rng = self.rng
        partner = rng.choice(self.world.partners)
        name = self._person()
        forwarded = rng.random() < 0.04
        record = {
            "from_address": self._address(name, partner.domain),
            "from_display_name": name if rng.random() < 0.9 else "",
            "sending_ip": rng.choice(partner.ips),
            "spf": "SOFTFAIL" if forwarded else auth(rng, 0.985, ("SOFTFAIL", "NEUTRAL")),
            "dkim": auth(rng, 0.94, ("NONE", "FAIL")),
            "dmarc": auth(rng, 0.97) if partner.has_dmarc else "NONE",
            "in_known_thread": rng.random() < 0.35,
            "urls": self._urls(partner.domain, rng.choice((0, 0, 1, 1, 2, 4))),
            "attachments": self._attachments(0.3),
        }
        if rng.random() < 0.05:  # help desks and shared mailboxes answer from elsewhere
            record["reply_to"] = f"support@{partner.domain}"
        return record

    def _newsletter(self) -> Record:
        rng = self.rng
        sender = rng.choice(self.world.newsletters)
        return {
            "from_address": f"news@{sender.domain}",
            "from_display_name": f"{sender.domain.split('.')[0].title()} News",
            "sending_ip": rng.choice(sender.ips),
            "return_path": f"bounce-{rng.getrandbits(24):x}@{sender.esp}",
            "spf": auth(rng, 0.97, ("SOFTFAIL", "NONE")),
            "dkim": auth(rng, 0.93, ("NONE",)),
            "dmarc": rng.choice(("PASS", "PASS", "PASS", "NONE", "NONE", "FAIL")),
            "reply_to": f"reply@{sender.esp}" if rng.random() < 0.5 else None,
            "urls": self._urls(sender.domain, rng.randint(3, 15)),
            "attachments": [],
        }

    def _freemail(self) -> Record:
        rng = self.rng
        # Executives do write from personal accounts now and then: display-name matches are not
        # always attacks.
        exec_writes = rng.random() < 0.08
        name = rng.choice(self.ent.executives) if exec_writes else self._person()
        domain = rng.choice(FREEMAIL)
        return {
            "from_address": self._address(name, domain),
            "from_display_name": name,
            "sending_ip": rng.choice(self.world.cloud_ips),
            "spf": auth(rng, 0.99),
            "dkim": auth(rng, 0.99),
            "dmarc": auth(rng, 0.99),
            "urls": self._urls(domain, rng.choice((0, 0, 1))),
            "attachments": self._attachments(0.2),
        }

    def _saas(self) -> Record:
        rng = self.rng
        sender = rng.choice(self.world.newsletters)
        return {
            "from_address": f"no-reply@{sender.domain}",
            "from_display_name": "Notifications",
            "sending_ip": rng.choice(sender.ips),
            "spf": auth(rng, 0.99),
            "dkim": auth(rng, 0.97, ("NONE",)),
            "dmarc": auth(rng, 0.95),
            "urls": self._urls(sender.domain, rng.randint(1, 4)),
            "attachments": [],
        }

    # -- attacks -------------------------------------------------------------------------------

    def _attacker_urls(self, n: int) -> list[str]:
        rng = self.rng
        choices = (
            lambda: f"http://{rng.choice(self.world.attacker_ips)}/login",
            lambda: f"https://{rng.choice(self.world.attacker_domains)}/verify",
            lambda: f"https://{rng.choice(SHORTENERS)}/{rng.getrandbits(32):x}",
            lambda: f"https://{lookalike(rng, rng.choice(self.ent.domains))}/sso",
        )
        return [rng.choice(choices)() for _ in range(n)]

    def _display_name_spoof(self) -> Record:
        rng = self.rng
        name = rng.choice(self.ent.executives)
        domain = rng.choice(FREEMAIL)
        record = {
            "from_address": self._address(self._person(), domain),
            "from_display_name": name,
            "sending_ip": rng.choice(self.world.cloud_ips),
            "spf": auth(rng, 0.97),
            "dkim": auth(rng, 0.97),
            "dmarc": auth(rng, 0.97),
            "urls": [],
            "attachments": [],
        }
        if rng.random() < 0.5:
            record["reply_to"] = self._address(name, rng.choice(FREEMAIL))
        return record

    def _lookalike_domain(self) -> Record:
        rng = self.rng
        target = rng.choice(
            self.ent.domains if rng.random() < 0.7 else [rng.choice(self.world.partners).domain]
        )
        domain = lookalike(rng, target)
        name = rng.choice(self.ent.executives + self.ent.employees[:5])
        return {
            "from_address": self._address(name, domain),
            "from_display_name": name,
            "sending_ip": rng.choice(self.world.attacker_ips),
            "spf": auth(rng, 0.7, ("NONE", "NEUTRAL")),
            "dkim": auth(rng, 0.4, ("NONE",)),
            "dmarc": rng.choice(("NONE", "NONE", "NONE", "PASS")),
            "urls": self._attacker_urls(rng.choice((0, 1, 1, 2))),
            "attachments": self._risky_attachment() if rng.random() < 0.2 else [],
        }

    def _domain_spoof(self) -> Record:
        rng = self.rng
        domain = rng.choice(self.ent.domains)
        name = rng.choice(self.ent.executives + self.ent.employees)
        return {
            "from_address": self._address(name, domain),
            "from_display_name": name,
            "sending_ip": rng.choice(self.world.attacker_ips),
            "return_path": f"{rng.choice(WORDS)}@{rng.choice(self.world.attacker_domains)}",
            "spf": rng.choice(("FAIL", "SOFTFAIL", "SOFTFAIL", "NONE")),
            "dkim": rng.choice(("NONE", "NONE", "FAIL")),
            "dmarc": rng.choice(("FAIL", "FAIL", "FAIL", "NONE")),
            "urls": self._attacker_urls(rng.choice((0, 1, 2))),
            "attachments": self._risky_attachment() if rng.random() < 0.3 else [],
        }

    def _credential_phish(self) -> Record:
        rng = self.rng
        domain = rng.choice(self.world.attacker_domains)
        brand = rng.choice(("IT Helpdesk", "Microsoft 365", "Payroll", "DocuSign", "Security Team"))
        return {
            "from_address": f"{rng.choice(WORDS)}@{domain}",
            "from_display_name": brand,
            "sending_ip": rng.choice(self.world.attacker_ips),
            "spf": auth(rng, 0.75, ("NONE", "SOFTFAIL")),
            "dkim": auth(rng, 0.5, ("NONE",)),
            "dmarc": rng.choice(("NONE", "NONE", "PASS")),
            "recipient_count": rng.randint(1, 40),
            "urls": self._attacker_urls(rng.randint(1, 3)),
            "attachments": [],
        }

    def _malware(self) -> Record:
        rng = self.rng
        if rng.random() < 0.5:
            domain = rng.choice(self.world.attacker_domains)
            ip = rng.choice(self.world.attacker_ips)
        else:  # sent through a compromised partner mailbox
            partner = rng.choice(self.world.partners)
            domain, ip = partner.domain, rng.choice(partner.ips)
        name = self._person()
        return {
            "from_address": self._address(name, domain),
            "from_display_name": name,
            "sending_ip": ip,
            "spf": auth(rng, 0.8, ("NONE", "SOFTFAIL")),
            "dkim": auth(rng, 0.6, ("NONE",)),
            "dmarc": auth(rng, 0.5, ("NONE",)),
            "urls": [],
            "attachments": self._risky_attachment(),
        }

    def _compromised_account(self) -> Record:
        # The hardest case: a real partner's mailbox, every check passes, often in a real thread.
        rng = self.rng
        partner = rng.choice(self.world.partners)
        name = self._person()
        return {
            "from_address": self._address(name, partner.domain),
            "from_display_name": name,
            "sending_ip": rng.choice(partner.ips),
            "spf": auth(rng, 0.98),
            "dkim": auth(rng, 0.95, ("NONE",)),
            "dmarc": auth(rng, 0.97) if partner.has_dmarc else "NONE",
            "reply_to": self._address(name, rng.choice(FREEMAIL)) if rng.random() < 0.6 else None,
            "in_known_thread": rng.random() < 0.3,
            "urls": self._attacker_urls(1) if rng.random() < 0.3 else [],
            "attachments": [],
        }


def spread(start: datetime, span: timedelta, count: int, rng: random.Random) -> list[datetime]:
    """``count`` sorted arrival times within [start, start + span)."""
    micros = int(span.total_seconds() * 1000)
    return sorted(start + timedelta(milliseconds=rng.randrange(micros)) for _ in range(count))
