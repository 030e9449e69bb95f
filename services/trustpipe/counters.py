"""The model's history counters as per-day tiles in Redis: one definition for every engine.

The model's reputation features read, per sender organisation domain and per sending /24, how
many labelled messages came from it and how many of them were malicious. Those counts live here
as tiles, one per entity and day, so that they can be kept fresh between two model builds:

- ``tp:{<aggregate>|<entity>}:d:<yyyymmdd>``: a hash ``n`` (labelled messages), ``bad``
  (malicious labels) of one day, exact: the nightly build writes past days (``write_days``).
- ``tp:{<aggregate>|<entity>}:w:<yyyymmdd>``: a hash ``n``, ``bad``: the sum of the day tiles
  of the window that ends on that day, written by the nightly build with them
  (``write_windows``), so that a read needs a few keys per entity, not one per day of the
  window. Each build writes its own, so readers keep the previous build's until it is complete.
- ``tp:{<aggregate>|<entity>}:s:<yyyymmdd>``: a HyperLogLog of the ``<enterprise>/<message id>``
  keys of the messages the stream scored that day (``seen``). Adding a message twice leaves it
  unchanged, so a redelivered batch counts nothing twice.
- ``tp:{<aggregate>|<entity>}:l:<yyyymmdd>`` and ``:b:<yyyymmdd>``: HyperLogLogs of the messages
  of that day whose labels have landed, and of those labelled malicious (``add_labels``; the
  hourly batch job adds each scored hour's ground truth, ``spark_jobs.counters_read``). Each
  addition sets the day tile's ``n`` and ``bad`` to their counts, in one script on the entity's
  slot, so that a read of the days after the last build sees the labels landed so far, and a
  redelivered label counts once. The next build's exact tiles replace them.

The hash tag ``{<aggregate>|<entity>}`` keeps one entity's tiles in one slot of a cluster; the
entity is percent-encoded (UTF-8, nothing left unescaped), so that no sender domain or address
can close the tag or forge another key, and hashed past ``MAX_ENCODED_CHARS``. Every tile
expires ``TTL_DAYS`` after its day, past the window.

Until a nightly build has written them (``BUILT_KEY``: the day its windows run through), the
tiles say nothing and the scorer keeps the artifact's snapshot: an empty Redis must not make
every sender look unseen. Once built, a read (``current_build``, then ``queue_read`` and
``merge``) merges, per entity, the window's sum with the day tiles after its last day;
``reputation`` turns the counts into the model's rates with the same smoothing the build uses.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any
from urllib.parse import quote_from_bytes, unquote_to_bytes, urlsplit

from trustpipe.model.features import Reputation, domain_of, ip_prefix
from trustpipe.model.suffixes import SuffixList
from trustpipe.settings import Settings

PREFIX = "tp"
ORG, NET = "org", "net"
AGGREGATES = (ORG, NET)
"""Sender organisation domain (the artifact's ``reputation.domains``) and sending /24
(``reputation.ip_prefixes``): like the artifact's, across enterprises."""
SMOOTHING = 5.0
"""Pseudo-messages at the prior in every reputation rate."""
MIN_SEEN = 3
"""Labelled messages from a domain or /24 before it gets a reputation of its own."""
WINDOW_DAYS = 28
"""Days of history a read merges (the window's sum and the days after it)."""
FRESH_DAYS = 2
"""Day tiles a read adds to the window's sum: today's and yesterday's (the nightly build may not
have run yet today)."""
BUILT_DAYS = 3
"""How old the last build's window may be, in days counted from today (0: through today): a read
fetches the windows through each of them and uses the one the last build wrote; older, the build
is stale and the reader keeps the model's snapshot."""
TTL_DAYS = WINDOW_DAYS + FRESH_DAYS + 1
"""A tile expires this long after its day: past the window and the read's recent days."""
BUILT_KEY = f"{PREFIX}:built"
"""The day through which the nightly build last wrote the windows (yyyymmdd); none: never."""
TAG_CACHE = 65_536
"""Entities whose encoded hash tag a process keeps (senders repeat; a few MiB at most)."""
MAX_ENCODED_CHARS = 512
"""An entity longer than this once encoded is keyed by its SHA-256 instead (a hostile 250-label
domain must not make a key of kilobytes)."""


@dataclass(frozen=True)
class Counts:
    """Labelled messages and malicious labels of one entity over the window."""

    n: int = 0
    bad: int = 0

    def __add__(self, other: Counts) -> Counts:
        return Counts(self.n + other.n, self.bad + other.bad)


def encode(entity: str) -> str:
    """``entity`` as it appears in a key: percent-encoded UTF-8 (lone surrogates kept as bytes)."""
    encoded = quote_from_bytes(entity.encode("utf-8", "surrogatepass"), safe="")
    if len(encoded) > MAX_ENCODED_CHARS:
        return "sha256-" + hashlib.sha256(encoded.encode()).hexdigest()
    return encoded


def decode(encoded: str) -> str | None:
    """The entity of an encoded key part (``encode``'s inverse); None for a hashed one."""
    if encoded.startswith("sha256-"):
        return None
    return unquote_to_bytes(encoded).decode("utf-8", "surrogatepass")


SEEN_KEY = re.compile(r"^tp:\{(org|net)\|([^{}|:]*)\}:s:(\d{8})$")


def parse_seen(key: str) -> tuple[str, str] | None:
    """(aggregate, entity) of a ``seen`` tile's key; None for another key or a hashed entity."""
    found = SEEN_KEY.match(key)
    if found is None:
        return None
    entity = decode(found.group(2))
    return None if entity is None else (found.group(1), entity)


def sample_seen(client: Any, day: date, size: int, rng: random.Random) -> list[tuple[str, str]]:
    """Up to ``size`` (aggregate, entity) of ``day``'s ``seen`` tiles, drawn uniformly (one SCAN
    of the keyspace, reservoir-sampled: nothing held but the sample)."""
    sample: list[tuple[str, str]] = []
    seen = 0
    for raw in client.scan_iter(match=f"{PREFIX}:*:s:{day:%Y%m%d}", count=1000):
        parsed = parse_seen(raw.decode() if isinstance(raw, bytes) else raw)
        if parsed is None:
            continue
        seen += 1
        if len(sample) < size:
            sample.append(parsed)
        elif (j := rng.randrange(seen)) < size:
            sample[j] = parsed
    return sorted(sample)


@lru_cache(maxsize=TAG_CACHE)
def _tag(aggregate: str, entity: str) -> str:
    if aggregate not in AGGREGATES:
        raise ValueError(f"no aggregate {aggregate!r}: one of {AGGREGATES}")
    return f"{PREFIX}:{{{aggregate}|{encode(entity)}}}"


@lru_cache(maxsize=64)
def _ymd(day: date) -> str:
    return f"{day:%Y%m%d}"


def day_key(aggregate: str, entity: str, day: date) -> str:
    return f"{_tag(aggregate, entity)}:d:{_ymd(day)}"


def window_key(aggregate: str, entity: str, through: date) -> str:
    return f"{_tag(aggregate, entity)}:w:{_ymd(through)}"


def seen_key(aggregate: str, entity: str, day: date) -> str:
    return f"{_tag(aggregate, entity)}:s:{_ymd(day)}"


def labelled_key(aggregate: str, entity: str, day: date) -> str:
    return f"{_tag(aggregate, entity)}:l:{_ymd(day)}"


def malicious_key(aggregate: str, entity: str, day: date) -> str:
    return f"{_tag(aggregate, entity)}:b:{_ymd(day)}"


def expires_at(day: date) -> int:
    """Epoch seconds when a tile of ``day`` expires (``TTL_DAYS`` after the day ends)."""
    return _epoch(day + timedelta(days=TTL_DAYS + 1))


def window_expires_at(through: date) -> int:
    """Epoch seconds when a window expires: once no read can use it (``BUILT_DAYS``)."""
    return _epoch(through + timedelta(days=BUILT_DAYS + 1))


def _epoch(day: date) -> int:
    return int((datetime(day.year, day.month, day.day) - datetime(1970, 1, 1)).total_seconds())


def entities(record: Mapping[str, Any], suffixes: SuffixList) -> dict[str, str]:
    """The entity of each aggregate a message counts towards, as the features key them."""
    return {
        ORG: suffixes.org_domain(domain_of(record["from_address"])),
        NET: ip_prefix(record["sending_ip"] or ""),
    }


def day_of(record: Mapping[str, Any]) -> date:
    """The day a message counts on: the UTC day it was received."""
    received: datetime = record["received_at"]
    return received.date() if received.tzinfo is None else received.astimezone(UTC).date()


def message_key(enterprise_id: str, message_id: str) -> str:
    return f"{enterprise_id}/{message_id}"


def add_seen(
    pipe: Any,
    scored: Iterable[tuple[str, Mapping[str, Any], SuffixList]],
    expiry_set: Callable[[str], bool] | None = None,
) -> None:
    """Queue on ``pipe`` each scored message's place in its day's ``seen`` tiles
    (``(enterprise, message, suffixes)``), one PFADD per tile: idempotent, as a HyperLogLog holds
    each key once. Each tile's expiry is set with it, unless ``expiry_set(key)`` says it was a
    moment ago (a scorer sets each tile's once in a while, not once per batch)."""
    add_seen_of(pipe, ((e, m, entities(m, suffixes)) for e, m, suffixes in scored), expiry_set)


def add_seen_of(
    pipe: Any,
    scored: Iterable[tuple[str, Mapping[str, Any], Mapping[str, str]]],
    expiry_set: Callable[[str], bool] | None = None,
) -> None:
    """``add_seen`` of messages whose entities (``entities``) the caller has already made."""
    members: dict[tuple[str, str, date], list[str]] = {}
    for enterprise, record, own in scored:
        day = day_of(record)
        member = message_key(enterprise, record["message_id"])
        for aggregate, entity in own.items():
            tile = (aggregate, entity, day)
            listed = members.get(tile)
            if listed is None:
                listed = members[tile] = []
            listed.append(member)
    for (aggregate, entity, day), added in members.items():
        key = seen_key(aggregate, entity, day)
        pipe.pfadd(key, *added)
        if expiry_set is None or not expiry_set(key):
            pipe.expireat(key, expires_at(day))


LABELS_SCRIPT = """
local labelled = tonumber(ARGV[2])
redis.call('PFADD', KEYS[1], unpack(ARGV, 3, 2 + labelled))
if #ARGV > 2 + labelled then
    redis.call('PFADD', KEYS[2], unpack(ARGV, 3 + labelled, #ARGV))
end
local n = redis.call('PFCOUNT', KEYS[1])
local bad = math.min(redis.call('PFCOUNT', KEYS[2]), n)
redis.call('HSET', KEYS[3], 'n', n, 'bad', bad)
for i = 1, 3 do redis.call('EXPIREAT', KEYS[i], ARGV[1]) end
return n
"""
"""KEYS: a day's labelled and malicious HyperLogLogs and its day tile (one hash tag, one slot);
ARGV: the expiry, how many labelled members follow, those members, then the malicious ones."""
LABELS_PER_CALL = 1000
"""Members per script call: Lua's ``unpack`` has a stack limit of a few thousand values."""


def add_labels(pipe: Any, labelled: Iterable[tuple[str, Mapping[str, Any], SuffixList, bool]]) -> None:
    """Queue on ``pipe`` the labels that landed for messages (``(enterprise, message, suffixes,
    malicious)``): each message in its day's labelled tiles (and malicious ones, when it is),
    and each day tile's ``n`` and ``bad`` set to those tiles' counts. Idempotent: a label that
    lands twice counts once. A message relabelled malicious counts as malicious; one relabelled
    benign stays so until the next build counts it exactly."""
    tiles: dict[tuple[str, str, date], tuple[list[str], list[str]]] = {}
    for enterprise, record, suffixes, malicious in labelled:
        day = day_of(record)
        member = message_key(enterprise, record["message_id"])
        for aggregate, entity in entities(record, suffixes).items():
            everyone, bad = tiles.setdefault((aggregate, entity, day), ([], []))
            everyone.append(member)
            if malicious:
                bad.append(member)
    for (aggregate, entity, day), (everyone, bad) in tiles.items():
        keys = [f(aggregate, entity, day) for f in (labelled_key, malicious_key, day_key)]
        for start in range(0, len(everyone), LABELS_PER_CALL):
            part = everyone[start : start + LABELS_PER_CALL]
            chosen = set(part)
            part_bad = [m for m in bad if m in chosen]
            pipe.eval(LABELS_SCRIPT, 3, *keys, expires_at(day), len(part), *part, *part_bad)


def _days_after(today: date, through: date) -> list[date]:
    """The day tiles a read of ``today`` adds to the window of a build through ``through``: the
    last ``FRESH_DAYS`` days after it."""
    return [day for day in (today - timedelta(days=back) for back in range(FRESH_DAYS)) if day > through]


def reads_per_pair(today: date, through: date) -> int:
    """Replies ``queue_read`` queues per (aggregate, entity), after the one of ``BUILT_KEY``."""
    return 1 + len(_days_after(today, through))


def built_through(value: Any, today: date) -> date | None:
    """The day the last build ran through, from ``BUILT_KEY``'s value; None when no build
    wrote the tiles, or the last one is older than ``BUILT_DAYS``."""
    mark = _int(value)
    for back in range(BUILT_DAYS):
        day = today - timedelta(days=back)
        if mark == int(_ymd(day)):
            return day
    return None


def current_build(client: Any, today: date) -> date | None:
    """The day the last build ran through, asked of ``client`` (``built_through``)."""
    return built_through(client.get(BUILT_KEY), today)


def queue_read(
    pipe: Any, wanted: Iterable[tuple[str, str]], today: date, through: date
) -> list[tuple[str, str]]:
    """Queue on ``pipe`` the reads of ``wanted`` (aggregate, entity) pairs as of ``today`` from
    the tiles of the build through ``through`` (``current_build``): the build's mark, then each
    pair's window and the day tiles after it; the pairs in the order ``merge`` takes their
    replies."""
    pairs = sorted(set(wanted))
    days = _days_after(today, through)
    pipe.get(BUILT_KEY)
    for aggregate, entity in pairs:
        pipe.hmget(window_key(aggregate, entity, through), "n", "bad")
        for day in days:
            pipe.hmget(day_key(aggregate, entity, day), "n", "bad")
    return pairs


def merge(
    pairs: Sequence[tuple[str, str]], replies: Sequence[Any], today: date, through: date
) -> dict[tuple[str, str], Counts] | None:
    """Each pair's counts: the window's sum from the build through ``through`` plus the day
    tiles after it; None when the mark read with them names no usable build, or another one
    (a build finished between the reads queued and now: read again)."""
    built, *replies = replies
    if built_through(built, today) != through:
        return None
    per = reads_per_pair(today, through)
    result = {}
    for i, pair in enumerate(pairs):
        window, *days = replies[i * per : (i + 1) * per]
        total = Counts(_int(window[0]), _int(window[1]))
        for tile in days:
            total += Counts(_int(tile[0]), _int(tile[1]))
        result[pair] = total
    return result


READ_CHUNK = 2000
"""Entities per round trip of a bulk read (``read``): a batch job's hour holds tens of thousands."""


def read(client: Any, wanted: Iterable[tuple[str, str]], today: date) -> dict[tuple[str, str], Counts] | None:
    """The counts of every (aggregate, entity) in ``wanted`` as of ``today``: the build's mark,
    then round trips of ``READ_CHUNK`` entities (all read again should a build finish meanwhile);
    None when no build has written the tiles yet."""
    pairs = sorted(set(wanted))
    for _ in range(2):
        through = current_build(client, today)
        if through is None:
            return None
        result: dict[tuple[str, str], Counts] = {}
        for start in range(0, len(pairs), READ_CHUNK):
            pipe = client.pipeline(transaction=False)
            chunk = queue_read(pipe, pairs[start : start + READ_CHUNK], today, through)
            counts = merge(chunk, pipe.execute(), today, through)
            if counts is None:
                break
            result.update(counts)
        else:
            return result
    return None


def _int(value: Any) -> int:
    """A counter as Redis returns it (bytes, str or None); 0 for anything that is no count."""
    try:
        return max(0, int(value)) if value is not None else 0
    except ValueError:
        return 0


def rate(counts: Counts, prior: float) -> float | None:
    """The smoothed malicious rate of an entity; None when it has too few labelled messages."""
    if counts.n < MIN_SEEN:
        return None
    return (counts.bad + prior * SMOOTHING) / (counts.n + SMOOTHING)


def reputation(counts: Mapping[tuple[str, str], Counts], prior: float) -> Reputation:
    """The model's reputation tables for the entities in ``counts`` (those read for a batch)."""
    tables: dict[str, dict[str, float]] = {ORG: {}, NET: {}}
    for (aggregate, entity), c in counts.items():
        r = rate(c, prior)
        if r is not None:
            tables[aggregate][entity] = r
    return Reputation(tables[ORG], tables[NET], prior)


def write_days(pipe: Any, rows: Iterable[tuple[str, str, date, int, int]]) -> None:
    """Queue exact day tiles (aggregate, entity, day, n, bad), replacing any earlier count."""
    for aggregate, entity, day, n, bad in rows:
        key = day_key(aggregate, entity, day)
        pipe.hset(key, mapping={"n": n, "bad": bad})
        pipe.expireat(key, expires_at(day))


def write_windows(
    pipe: Any, through: date, rows: Iterable[tuple[str, str, int, int]], mark: bool = True
) -> None:
    """Queue each entity's window sum (aggregate, entity, n, bad) through ``through``, then (with
    ``mark``) mark the tiles built through that day: the pipeline runs in order, the mark last."""
    for aggregate, entity, n, bad in rows:
        key = window_key(aggregate, entity, through)
        pipe.hset(key, mapping={"n": n, "bad": bad})
        pipe.expireat(key, window_expires_at(through))
    if mark:
        mark_built(pipe, through)


def mark_built(pipe: Any, through: date) -> None:
    """Queue the mark that makes readers use the windows through ``through``; it expires with
    them, so that a mark never names windows that are gone (every sender would read unseen)."""
    pipe.set(BUILT_KEY, f"{through:%Y%m%d}", exat=window_expires_at(through))


WRITE_CHUNK = 5000
"""Tiles per round trip of a build's write (``write_build``)."""


def write_build(
    client: Any,
    days: Sequence[tuple[str, str, date, int, int]],
    through: date,
    windows: Sequence[tuple[str, str, int, int]],
) -> None:
    """A build's exact tiles: its day tiles and windows in round trips of ``WRITE_CHUNK``, then
    the mark that makes readers use them (a reader meanwhile keeps the previous build's)."""
    for start in range(0, len(days), WRITE_CHUNK):
        pipe = client.pipeline(transaction=False)
        write_days(pipe, days[start : start + WRITE_CHUNK])
        pipe.execute()
    for start in range(0, len(windows), WRITE_CHUNK):
        pipe = client.pipeline(transaction=False)
        write_windows(pipe, through, windows[start : start + WRITE_CHUNK], mark=False)
        pipe.execute()
    pipe = client.pipeline(transaction=False)
    mark_built(pipe, through)
    pipe.execute()


CONNECT_TIMEOUT_SECONDS = 0.25
READ_TIMEOUT_SECONDS = 0.5
"""A Redis that does not answer within these costs a batch this much, once: then the scorer
scores with its snapshot for ``RETRY_AFTER_SECONDS`` before asking again."""
RETRY_AFTER_SECONDS = 10.0


IAM_TOKEN_SECONDS = 900
"""An ElastiCache IAM authentication token is valid for 15 minutes (each new connection signs
one; a connection lives on after its token expires, for up to 12 hours)."""


def client(url: str, iam_cache: str | None = None, region: str | None = None) -> Any:
    """A redis-py client for ``url`` (``redis://``, or ``rediss://`` with TLS), short timeouts,
    no retries of its own: a Redis that does not answer is the caller's fallback, not a wait.
    With ``iam_cache`` (an ElastiCache replication group), the URL's user logs in with an IAM
    authentication token signed for that group with this process's AWS credentials."""
    import redis

    options: dict[str, Any] = {
        "socket_connect_timeout": CONNECT_TIMEOUT_SECONDS,
        "socket_timeout": READ_TIMEOUT_SECONDS,
        "retry_on_timeout": False,
        "retry": None,
    }
    if iam_cache is None:
        return redis.Redis.from_url(url, **options)
    parts = urlsplit(url)
    if not parts.username or not region:
        raise ValueError("IAM authentication needs the user in the counters' URL and a region")
    bare = parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()
    provider = IamToken(parts.username, iam_cache, region)
    return redis.Redis.from_url(bare, credential_provider=provider, **options)


def from_settings(settings: Settings) -> Any | None:
    """The counters' client the settings name (``redis_url``, ``redis_iam_cache``); None."""
    if not settings.redis_url:
        return None
    return client(settings.redis_url, settings.redis_iam_cache, settings.region)


class IamToken:
    """A redis-py credential provider: (user, an IAM authentication token for ``cache``), the
    token SigV4-presigned as ElastiCache expects, made again when a third of its life is left."""

    def __init__(self, user: str, cache: str, region: str, session: Any = None, clock: Any = None) -> None:
        import time

        self.user, self.cache, self.region = user, cache, region
        self._session, self._clock = session, clock or time.monotonic
        self._token, self._made = "", float("-inf")

    def get_credentials(self) -> tuple[str, str]:
        if self._clock() - self._made > IAM_TOKEN_SECONDS * 2 / 3:
            self._token, self._made = self._sign(), self._clock()
        return self.user, self._token

    async def get_credentials_async(self) -> tuple[str, str]:
        return self.get_credentials()

    def _sign(self) -> str:
        import botocore.session
        from botocore.auth import SigV4QueryAuth
        from botocore.awsrequest import AWSRequest

        session = self._session or botocore.session.get_session()
        credentials = session.get_credentials()
        if credentials is None:
            raise OSError("no AWS credentials to sign the counters' IAM authentication token with")
        request = AWSRequest(
            method="GET", url=f"http://{self.cache}/", params={"Action": "connect", "User": self.user}
        )
        SigV4QueryAuth(credentials, "elasticache", self.region, expires=IAM_TOKEN_SECONDS).add_auth(request)
        return str(request.url).removeprefix("http://")


def unavailable() -> tuple[type[BaseException], ...]:
    """What a Redis that is down, unreachable, slow or refusing raises."""
    import redis

    return (redis.RedisError, OSError)
