"""The trust model as native Spark Column expressions: the twin of ``trustpipe.model.features``
and ``trustpipe.model.scorer``, rule for rule, with no Python UDF on the path."""

from __future__ import annotations

import math
from functools import cache

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from trustpipe.model import features as fx
from trustpipe.model.artifact import ModelArtifact, Thresholds
from trustpipe.model.scorer import TOP_REASONS
from trustpipe.model.suffixes import SuffixList


def domain_of(address: Column) -> Column:
    return F.lower(F.trim(F.substring_index(F.coalesce(address, F.lit("")), "@", -1)))


LAMBDA = "tp_name"
"""The lambda variable of the registrable-domain expression (a name no input column has)."""


@cache
def registrable_sql(suffixes: SuffixList) -> str:
    """The twin of ``SuffixList.org_domain`` as a SQL expression of the name ``tp_name``
    (lowercased, less one trailing dot; null for null): the public suffix and one label more,
    or the name itself when it has no label more, has an empty label or is an address literal.

    The public suffix's label count, as ``publicsuffixlist`` counts it: the rules as hashed
    sets, one per label count (``IN`` on a long list is Spark's InSet), looked up on the name's
    last labels from the longest down (a name shorter than a set's names is never in it); at
    each length an exception rule wins over a wildcard and a wildcard over an exact rule; no
    match means the last label. Most names (x.com) have a dot and end in two labels no longer
    rule ends in: one lookup says so, and only the one-label wildcards (*.ck) remain to be asked.
    ``substring_index`` with more labels than the name has returns the whole name. SQL text,
    because ``isin`` crosses to the JVM once per rule (seconds per set); one flat CASE of
    integers (a nested one copies the sets at every level). It is generated code evaluated once
    per name inside ``transform``: the sets and the branches sit in the plan and the method once,
    whatever the number of names (four copies made a method too large for the JIT to optimise,
    and every later DataFrame step re-analyses the plan)."""
    name = LAMBDA
    count = f"(length({name}) - length(replace({name}, '.', '')) + 1)"

    def among(depth: int, names: frozenset[str]) -> str:
        return f"substring_index({name}, '.', -{depth}) IN ({_sql_strings(names)})"

    by_depth = suffixes.rules_by_depth()
    branches = []
    for depth, rules in sorted(by_depth.items(), reverse=True):
        for rule_set, answer in (
            (rules.exception, f"{depth - 1}"),
            (rules.wildcard, f"CASE WHEN {count} > {depth} THEN {depth + 1} ELSE {depth} END"),
            # a one-label rule answers what no rule answers: the last label is the suffix
            (rules.exact if depth > 1 else frozenset(), f"{depth}"),
        ):
            if rule_set:
                branches.append(f"WHEN {among(depth, rule_set)} THEN {answer}")
    public = (
        f"CASE WHEN instr({name}, '.') > 0 AND NOT {among(2, suffixes.tails(2))}"
        f" THEN CASE WHEN {among(1, by_depth[1].wildcard)} THEN 2 ELSE 1 END"
        f" {' '.join(branches)} ELSE 1 END"
    )
    # an empty label: not a name the list can answer for (the string scans allocate no array)
    invalid = f"{name} = '' OR startswith({name}, '.') OR endswith({name}, '.') OR contains({name}, '..')"
    literal = (
        f"(startswith({name}, '[') AND endswith({name}, ']')) OR translate({name}, '0123456789', '') = '...'"
    )
    return (
        f"CASE WHEN {name} IS NULL THEN NULL WHEN {invalid} OR {literal} THEN {name}"
        f" ELSE substring_index({name}, '.', -1 - {public}) END"
    )


def _sql_strings(values: frozenset[str]) -> str:
    return ", ".join("'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'" for v in sorted(values))


def with_org_domains(df: DataFrame, domains: dict[str, Column], suffixes: SuffixList) -> DataFrame:
    """``df`` with, for each name -> domain expression, the domain's registrable domain as a
    column of that name, from one expression over an array of the names (``registrable_sql``).
    Only the first name and the names that differ from it are looked up (a message's return
    path and DKIM domain are mostly its sender's): the others take the first one's answer."""
    names = {
        f"{name}_name": F.when(d.endswith("."), d.substr(F.lit(1), F.length(d) - 1)).otherwise(d)
        for name, d in domains.items()
    }
    first, *others = (f"`{n}`" for n in names)
    asked = [first] + [f"IF({n} = {first}, NULL, {n})" for n in others]
    orgs = "_tp_orgs"
    answers = F.expr(f"transform(array({', '.join(asked)}), {LAMBDA} -> {registrable_sql(suffixes)})")
    keys = list(domains)
    # three projections, so the names and their answers are computed once per row each
    return (
        df.withColumns(names)
        .withColumn(orgs, answers)
        .withColumns({k: F.coalesce(F.col(orgs)[n], F.col(orgs)[0]) for n, k in enumerate(keys)})
        .drop(*names, orgs)
    )


def org_label(org: Column) -> Column:
    return F.substring_index(org, ".", 1)


def _per_enterprise(enterprise: Column, by_enterprise: dict[str, Column], default: Column) -> Column:
    expr = default
    for enterprise_id, value in sorted(by_enterprise.items(), reverse=True):
        expr = F.when(enterprise == F.lit(enterprise_id), value).otherwise(expr)
    return expr


def _lookalike(from_domain: Column, from_org: Column, orgs: frozenset[str]) -> Column:
    if not orgs:
        return F.lit(False)
    label = org_label(from_org)
    near = F.lit(False)
    for own in sorted(orgs):
        own_label = fx.org_label(own)
        close = F.lit(False)
        if len(own_label) >= fx.LOOKALIKE_MIN_LABEL:
            # -1 beyond the threshold: a banded computation that gives up early, not a full table
            close = F.levenshtein(label, F.lit(own_label), fx.LOOKALIKE_DISTANCE) >= 0
        near = near | close | (F.instr(from_domain, own_label) > 0)
    return ~from_org.isin(*sorted(orgs)) & near


# Reputation tables hold thousands of keys: they join (broadcast, hashed) rather than sit in a
# literal map, which Spark searches linearly on every row.
_ORG, _PREFIX, _DOMAIN_RATE, _IP_RATE = "_tp_org", "_tp_prefix", "_tp_domain_rate", "_tp_ip_rate"
# The registrable domains are columns of their own (with_org_domains).
_RETURN_ORG, _DKIM_ORG, _REPLY_ORG = "_tp_return_org", "_tp_dkim_org", "_tp_reply_org"


# The sender's, reply-to and DKIM domains are columns of their own too: computed once, they serve
# both the registrable domains and the features (each is a scan of the address and a lowercasing).
_FROM_DOMAIN, _REPLY_DOMAIN, _DKIM_DOMAIN = "_tp_from_domain", "_tp_reply_domain", "_tp_dkim_domain"


def _domains() -> dict[str, Column]:
    return {
        _FROM_DOMAIN: domain_of(F.col("from_address")),
        _REPLY_DOMAIN: F.when(F.col("reply_to").isNull(), F.lit("")).otherwise(domain_of(F.col("reply_to"))),
        _DKIM_DOMAIN: F.lower(F.coalesce(F.col("dkim_domain"), F.lit(""))),
    }


def _org_domains() -> dict[str, Column]:
    """The names whose registrable domains the features compare, over ``_domains``' columns."""
    return {
        _ORG: F.col(_FROM_DOMAIN),
        _RETURN_ORG: domain_of(F.col("return_path")),
        _DKIM_ORG: F.col(_DKIM_DOMAIN),
        _REPLY_ORG: F.col(_REPLY_DOMAIN),
    }


def _rate(found: Column, prior: float) -> tuple[Column, Column]:
    """(rate, unseen) from a left-joined reputation column."""
    return F.coalesce(found, F.lit(prior)), found.isNull()


REPUTATION_FEATURES = ("domain_reputation", "domain_unseen", "ip_reputation", "ip_unseen")


def ip_prefix() -> Column:
    """The sending /24 (``fx.ip_prefix``'s twin): the key of the IP reputation table."""
    return F.substring_index(F.coalesce(F.col("sending_ip"), F.lit("")), ".", 3)


def _join_reputation(keyed: DataFrame, artifact: ModelArtifact) -> DataFrame:
    """``keyed`` (with the key columns) left-joined with both reputation tables, broadcast."""
    spark = keyed.sparkSession
    rep = artifact.reputation
    domains = spark.createDataFrame(sorted(rep.domains.items()), f"{_ORG} string, {_DOMAIN_RATE} double")
    prefixes = spark.createDataFrame(sorted(rep.ip_prefixes.items()), f"{_PREFIX} string, {_IP_RATE} double")
    return keyed.join(F.broadcast(domains), _ORG, "left").join(F.broadcast(prefixes), _PREFIX, "left")


def _capped_log(value: Column, cap: int) -> Column:
    return F.log1p(F.least(value, F.lit(cap)).cast("double")) / F.lit(math.log1p(cap))


def feature_columns(artifact: ModelArtifact) -> dict[str, Column]:
    """Every feature as a double column, in FEATURES order, over a v4-shaped DataFrame with the
    ``_domains`` and ``_org_domains``, joined by ``_join_reputation`` with the artifact's
    reputation tables."""
    ent = F.col("enterprise_id")
    suffixes = artifact.suffixes
    from_domain = F.col(_FROM_DOMAIN)
    from_org = F.col(_ORG)
    reply_domain = F.col(_REPLY_DOMAIN)
    dkim_domain = F.col(_DKIM_DOMAIN)
    ip = F.coalesce(F.col("sending_ip"), F.lit(""))
    internal = ip.startswith(fx.INTERNAL_IP)
    name = F.lower(F.trim(F.coalesce(F.col("from_display_name"), F.lit(""))))
    # urls and attachments default to [] in the v4 reader schema: never null after resolution.
    urls = F.col("urls")
    filenames = F.transform(F.col("attachments"), lambda a: F.lower(a["filename"]))
    orgs = {e: suffixes.orgs(p.domains) for e, p in artifact.profiles.items()}
    profiles = artifact.profiles
    own_org = _per_enterprise(
        ent,
        {e: from_org.isin(*sorted(o)) if o else F.lit(False) for e, o in orgs.items()},
        F.lit(False),
    )
    known_name = _per_enterprise(
        ent,
        {e: name.isin(*sorted(p.names)) if p.names else F.lit(False) for e, p in profiles.items()},
        F.lit(False),
    )
    lookalike = _per_enterprise(
        ent,
        {e: _lookalike(from_domain, from_org, o) for e, o in orgs.items()},
        F.lit(False),
    )
    prior = artifact.reputation.prior
    domain_rate, domain_unseen = _rate(F.col(_DOMAIN_RATE), prior)
    ip_rate, ip_unseen = _rate(F.col(_IP_RATE), prior)
    spf, dkim, dmarc = F.col("spf"), F.col("dkim"), F.col("dmarc")
    columns = {
        "spf_fail": spf.isin(*fx.FAIL),
        "spf_missing": spf.isin(*fx.MISSING),
        "dkim_fail": dkim == F.lit("FAIL"),
        "dkim_missing": dkim.isin(*fx.MISSING),
        "dmarc_fail": dmarc == F.lit("FAIL"),
        "dmarc_missing": dmarc.isin(*fx.MISSING),
        "auth_unknown": (spf == fx.UNKNOWN) | (dkim == fx.UNKNOWN) | (dmarc == fx.UNKNOWN),
        "return_path_mismatch": F.col(_RETURN_ORG) != from_org,
        "dkim_misaligned": (dkim_domain != F.lit("")) & (F.col(_DKIM_ORG) != from_org),
        "own_domain_external": own_org & ~internal,
        "display_name_spoof": (name != F.lit("")) & known_name & ~own_org,
        "lookalike_domain": lookalike,
        "reply_to_mismatch": (reply_domain != F.lit("")) & (F.col(_REPLY_ORG) != from_org),
        "reply_to_freemail": reply_domain.isin(*fx.FREEMAIL),
        "from_freemail": from_domain.isin(*fx.FREEMAIL),
        "domain_reputation": domain_rate,
        "domain_unseen": domain_unseen,
        "ip_reputation": ip_rate,
        "ip_unseen": ip_unseen,
        "internal_ip": internal,
        "risky_urls": F.least(
            F.size(F.filter(urls, lambda u: u.rlike(fx.RISKY_URL.pattern))), F.lit(fx.RISKY_URL_CAP)
        )
        / F.lit(float(fx.RISKY_URL_CAP)),
        "url_volume": _capped_log(F.col("url_count"), fx.URL_CAP),
        "executable_attachment": F.exists(filenames, lambda n: n.rlike(fx.EXECUTABLE.pattern)),
        "archive_attachment": F.exists(filenames, lambda n: n.rlike(fx.ARCHIVE.pattern)),
        "known_thread": F.coalesce(F.col("in_known_thread"), F.lit(False)),
        "recipient_volume": _capped_log(F.col("recipient_count"), fx.RECIPIENT_CAP),
        "details_missing": ((F.col("url_count") > 0) & (F.size(urls) == 0))
        | ((F.col("attachment_count") > 0) & (F.size(F.col("attachments")) == 0)),
    }
    return {f: columns[f].cast("double") for f in fx.FEATURES}


def with_features(df: DataFrame, artifact: ModelArtifact) -> DataFrame:
    """``df`` with every feature column (and no helper columns)."""
    return _features_then_join(df, artifact, df.columns)


def _verdict(score: Column, thresholds: Thresholds) -> Column:
    return (
        F.when(score >= F.lit(thresholds.quarantine), F.lit("QUARANTINE"))
        .when(score >= F.lit(thresholds.label), F.lit("LABEL"))
        .otherwise(F.lit("PASS_THROUGH"))
    )


def _features_then_join(df: DataFrame, artifact: ModelArtifact, keep: list[str]) -> DataFrame:
    """Every feature, computing all but reputation on the wide rows, then joining the reputation
    tables on narrow rows (``keep`` + features + keys): a join copies its rows, and the wide
    sensor rows (URL and attachment arrays) made it cost half the job's throughput (bench P3)."""
    columns = feature_columns(artifact)
    early = {f: c for f, c in columns.items() if f not in REPUTATION_FEATURES}
    orged = with_org_domains(df.withColumns(_domains()), _org_domains(), artifact.suffixes)
    narrow = orged.withColumns({**early, _PREFIX: ip_prefix()}).select(*keep, *early, _ORG, _PREFIX)
    joined = _join_reputation(narrow, artifact)
    late = {f: columns[f] for f in REPUTATION_FEATURES}
    return joined.withColumns(late).drop(_ORG, _PREFIX, _DOMAIN_RATE, _IP_RATE)


def score(df: DataFrame, artifact: ModelArtifact, keep: list[str] | None = None) -> DataFrame:
    """``df`` (v4-shaped) with ``score``, ``verdict`` and ``reasons`` from native expressions;
    only the ``keep`` columns of ``df`` are carried through (default: all of them)."""
    carried = [c for c in (keep if keep is not None else df.columns) if c not in fx.FEATURES]
    if "enterprise_id" not in carried:
        carried.append("enterprise_id")
    scored = _features_then_join(df, artifact, carried)
    z: Column = F.lit(artifact.intercept)
    parts = []
    for name in fx.FEATURES:
        contribution = F.lit(artifact.weights[name]) * F.col(name)
        z = z + contribution
        if artifact.weights[name] > 0:  # features are >= 0: only these can ever be reasons
            # null unless it pushed the score up: nulls sort last, and are dropped below
            parts.append(F.when(contribution > 0, F.struct(contribution.alias("c"), F.lit(name).alias("n"))))
    # Generated code throughout: the higher-order functions (filter, transform) this replaces
    # were interpreted row by row.
    reasons = F.array().cast("array<string>")
    if parts:
        ranked = F.sort_array(F.array(*parts), asc=False)
        top = F.array(*[F.get(ranked, i)["n"] for i in range(TOP_REASONS)])
        reasons = F.array_except(top, F.array(F.lit(None).cast("string")))
    score_col = F.lit(1.0) / (F.lit(1.0) + F.exp(-z))
    verdict = _per_enterprise(
        F.col("enterprise_id"),
        {e: _verdict(F.col("score"), t) for e, t in artifact.thresholds.items()},
        _verdict(F.col("score"), artifact.default_thresholds),
    )
    return (
        scored.withColumn("score", score_col)
        .withColumn("reasons", reasons)
        .withColumn("verdict", verdict)
        .drop(*fx.FEATURES)
    )
