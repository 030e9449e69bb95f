"""Settings of a trustpipe deployment: resource names and endpoints, from Terraform's outputs."""

from __future__ import annotations

import json
import os
import re
import shlex
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from trustpipe.errors import UserError
from trustpipe.tenants import TenantError, check_enterprise_id

DEFAULT_LOCAL_DIR = Path(".local")
SETTINGS_FILE = "settings.json"
LOCAL_ENV = Path("infra/envs/local")
"""The Terraform root of the local stack: what marks a trustpipe checkout."""
LOCAL_JVM_OPTIONS = "TRUSTPIPE_LOCAL_JVM_OPTIONS"
"""The environment variable whose options a local JVM adds to its own (a local Spark session's
driver, a KCL daemon), for runs of small data where a JVM's start and compiling outweigh the work:
the test suite sets C1 only and the serial collector (tests/conftest.py). Unset (`make bench`,
`make demo`, a host on AWS), a JVM runs as the benchmarks measure it."""
LOCAL_JVM_ARCHIVES = "TRUSTPIPE_LOCAL_JVM_ARCHIVES"
"""The environment variable naming a folder of class-data-sharing archives, one per kind of local
JVM (``spark.jsa``, ``kcl.jsa``): a JVM of a kind with an archive maps the classes an earlier run
of that kind loaded instead of loading and verifying them again (a local Spark driver's start: 10
-> 5 CPU-s). The test suite makes them (tests/harness/jvm_archives.py). An archive that no longer
fits its JVM (another Java, changed jars) is ignored by the JVM, silently: the run only starts
slower."""
ARCHIVE_SUFFIX = ".jsa"


def local_jvm_options(kind: str) -> list[str]:
    """The options a local JVM of ``kind`` (``spark``, ``kcl``) adds to its own: the local run's
    (``LOCAL_JVM_OPTIONS``), then its kind's class-data archive where one exists; none unset."""
    options = shlex.split(os.environ.get(LOCAL_JVM_OPTIONS, ""))
    archives = os.environ.get(LOCAL_JVM_ARCHIVES)
    archive = Path(archives) / f"{kind}{ARCHIVE_SUFFIX}" if archives else None
    if archive is not None and archive.is_file():
        # The JVM logs an archive it cannot map to stdout, which a spark-submit's caller reads.
        options += [f"-XX:SharedArchiveFile={archive}", "-Xlog:cds=off", "-Xlog:cds+dynamic=off"]
    return options


class SettingsError(UserError, ValueError):
    """Settings are missing, unreadable or invalid."""


class NotACheckoutError(UserError):
    """The command was run outside a trustpipe checkout (the local stack needs its infra/)."""


def find_project_root(start: Path) -> Path:
    """The checkout holding ``infra/envs/local``, searching upward from ``start``."""
    for candidate in (start, *start.parents):
        if (candidate / LOCAL_ENV / "main.tf").is_file():
            return candidate
    raise NotACheckoutError(f"no trustpipe checkout (with {LOCAL_ENV}) at or above {start}")


def local_state_dir(state_dir: Path, start: Path) -> Path:
    """The local stack's state folder: ``state_dir`` itself when absolute, else under the checkout
    at or above ``start`` (so a relative one names the same folder from anywhere in it)."""
    return state_dir if state_dir.is_absolute() else find_project_root(start) / state_dir


REDIS_SCHEMES = ("redis://", "rediss://")
TENANT_FIELDS = ("sensor_role_arn", "consumer_role_arn", "action_queue_url", "alert_topic_arn")
"""What each enterprise of ``Settings.tenants`` names (the roots' ``settings.tenants`` output)."""


def _check_tenants(tenants: Any) -> None:
    """SettingsError unless ``tenants`` is absent or maps valid enterprise ids to objects of
    strings (a hand-edited settings file fails here, at start, not at the first record)."""
    if tenants is None:
        return
    if not isinstance(tenants, dict):
        raise SettingsError("settings' tenants must be an object: enterprise id => its resources")
    for enterprise, own in tenants.items():
        try:
            check_enterprise_id(enterprise)
        except TenantError as err:
            raise SettingsError(f"settings' tenants: {err}") from err
        if not isinstance(own, dict) or not all(isinstance(v, str) for v in own.values()):
            raise SettingsError(f"settings' tenants: {enterprise!r} must map names to strings")
        unknown = sorted(set(own) - set(TENANT_FIELDS))
        if unknown:
            raise SettingsError(f"settings' tenants: {enterprise!r} has unknown {', '.join(unknown)}")


SSM_PARAMETER_NAME = re.compile(r"/[A-Za-z0-9_.\-/]{0,1010}")
"""A fully qualified SSM parameter name: a leading slash, then letters, digits, ``_.-/``; at most
1011 characters (SSM's own limit for a name with its path)."""


def _check_search_url_parameter(name: Any) -> None:
    """SettingsError unless ``name`` is absent or an SSM parameter name the client could ask for."""
    if name is not None and not (isinstance(name, str) and SSM_PARAMETER_NAME.fullmatch(name)):
        raise SettingsError(
            f"settings' search_url_parameter {name!r} is not an SSM parameter name "
            "(a leading '/', then letters, digits and _.-/; at most 1011 characters)"
        )


@dataclass(frozen=True)
class Settings:
    """Where every resource is. Built once at the edge (CLI, handler, DAG task), passed down."""

    region: str
    landing_bucket: str
    scored_bucket: str
    archive_bucket: str
    scored_topic_arn: str
    importer_queue_url: str
    importer_dlq_url: str
    raw_stream_name: str
    scored_stream_name: str
    imported_stream_name: str
    """Verdicts the stream importers stored, for the alerters (an alert never precedes its row)."""
    registry_table_name: str
    aws_endpoint: str | None = None
    """Set for the local stack (the moto server); None means real AWS."""
    database_url: str | None = None
    """The PostgreSQL URL, without a password on AWS (see ``database_secret_arn``)."""
    database_secret_arn: str | None = None
    """The secret RDS manages (and rotates) with the database's user and password; read at
    each connect, never written to a file. With ``database_iam_auth`` only the one-shot
    migration unit reads it (as the master user, who owns the schema)."""
    database_iam_auth: bool = False
    """True on AWS: each service logs in as its own role (``trustpipe.db.roles``) with an RDS IAM
    token made per connection, over TLS verified against the RDS CA bundle."""
    oncall_topic_arn: str | None = None
    """SNS topic that pages the on-call engineer (the monitoring module's)."""
    registry_url: str | None = None
    """The schema registry's REST API stage URL (SigV4-signed on AWS; the local stack serves it itself)."""
    frontdoor_url: str | None = None
    """The stream's ingestion front door (sensors POST SigV4-signed batches to ``/records``; the
    local stack serves it itself)."""
    sensor_credentials_file: str | None = None
    """The local stack only: where it keeps each enterprise's sensor session (STS AssumeRole on
    the moto server), which its front door checks signatures against. None on AWS, where the
    sensors assume their enterprise's role themselves."""
    redis_url: str | None = None
    """The model's counters (``trustpipe.counters``): ``rediss://`` on AWS (ElastiCache, TLS),
    ``redis://`` on the local stack; None scores with each model's frozen snapshot."""
    redis_iam_cache: str | None = None
    """On AWS: the ElastiCache replication group whose IAM authentication the user of
    ``redis_url`` logs in with (a token signed per connection; no password anywhere)."""
    actions_table_name: str | None = None
    """The actions issued, by (enterprise, message id): one action per message."""
    search_url: str | None = None
    """The search store's endpoint (Amazon OpenSearch Service; locally the stack's emulator).
    None, with no ``search_url_parameter`` either: this deployment indexes nothing."""
    search_url_parameter: str | None = None
    """On AWS: the name of the SSM parameter holding the OpenSearch Service domain's URL, which the
    search client reads once (``search_url`` stays None there: the URL exists only once the domain
    does, after the hosts whose settings would hold it)."""
    search_queue_url: str | None = None
    """The indexer's queue: the scored bucket's announcements (a second subscription to the
    topic the importer's queue hears), for the batch path's messages."""
    search_dlq_url: str | None = None
    """Where the indexer's queue puts a notification received ``maxReceiveCount`` times."""
    review_user_pool_id: str | None = None
    """The reviewers' Cognito user pool (the review API's tokens are its id tokens)."""
    review_client_id: str | None = None
    """The review app's client of that pool (the tokens' audience)."""
    review_url: str | None = None
    """The review API (the local stack serves it itself: `trustpipe review serve`)."""
    tenants: dict[str, dict[str, str]] = field(default_factory=dict)
    """The enterprises served (the environment's tenant map), each with what is its own: its
    sensors' identity, its consumer identity, its action queue and alert topic."""

    @classmethod
    def from_terraform_outputs(cls, outputs: dict[str, Any], database_url: str | None = None) -> Settings:
        """Settings from ``terraform output -json``: every root's ``settings`` output, one shape
        (``database_url``, when given, is the database the root does not create)."""
        try:
            data = dict(outputs["settings"]["value"])
        except (KeyError, TypeError) as err:
            raise SettingsError("terraform outputs have no `settings` object") from err
        return cls.from_dict({**data, "database_url": database_url or data.get("database_url")})

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Settings:
        names = {f.name for f in fields(cls)}
        optional = {
            "aws_endpoint",
            "database_url",
            "database_secret_arn",
            "database_iam_auth",
            "oncall_topic_arn",
            "registry_url",
            "frontdoor_url",
            "sensor_credentials_file",
            "actions_table_name",
            "search_url",
            "search_url_parameter",
            "search_queue_url",
            "search_dlq_url",
            "redis_url",
            "redis_iam_cache",
            "review_user_pool_id",
            "review_client_id",
            "review_url",
            "tenants",
        }
        missing = sorted(names - optional - {k for k, v in data.items() if v})
        if missing:
            raise SettingsError(f"settings lack {', '.join(missing)}")
        _check_tenants(data.get("tenants"))
        redis_url = data.get("redis_url")
        if redis_url is not None and (
            not isinstance(redis_url, str) or not redis_url.startswith(REDIS_SCHEMES)
        ):
            raise SettingsError(f"settings' redis_url must start with {' or '.join(REDIS_SCHEMES)}")
        _check_search_url_parameter(data.get("search_url_parameter"))
        if not isinstance(data.get("database_iam_auth", False), bool):
            raise SettingsError("settings' database_iam_auth must be true or false")
        return cls(**{k: v for k, v in data.items() if k in names})

    @classmethod
    def load(cls, path: Path) -> Settings:
        """Settings from a JSON file; a clear SettingsError when it is absent or malformed."""
        try:
            text = path.read_text()
        except FileNotFoundError as err:
            raise SettingsError(f"settings file {path} does not exist") from err
        except OSError as err:
            raise SettingsError(f"cannot read settings file {path}: {err.strerror}") from err
        return cls.from_json(text, str(path))

    @classmethod
    def load_uri(cls, where: str) -> Settings:
        """Settings from a path or an s3:// URI (a cluster reads them where the deploy put them)."""
        if not where.startswith("s3://"):
            return cls.load(Path(where))
        import boto3

        bucket, _, key = where.removeprefix("s3://").partition("/")
        try:
            body = boto3.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
        except Exception as err:
            raise SettingsError(f"cannot read settings at {where}: {err}") from err
        return cls.from_json(body.decode(), where)

    @classmethod
    def from_json(cls, text: str, origin: str) -> Settings:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise SettingsError(f"settings file {origin} is not valid JSON: {err}") from err
        if not isinstance(data, dict):
            raise SettingsError(f"settings file {origin} must hold a JSON object")
        return cls.from_dict(data)

    @property
    def enterprises(self) -> frozenset[str]:
        """The enterprises this deployment serves."""
        return frozenset(self.tenants)

    @property
    def action_queue_urls(self) -> dict[str, str]:
        """Each enterprise's FIFO action queue (its mail system quarantines or labels from it)."""
        return self._of_tenants("action_queue_url")

    @property
    def alert_topic_arns(self) -> dict[str, str]:
        """Each enterprise's SNS topic for its users' alerts."""
        return self._of_tenants("alert_topic_arn")

    def _of_tenants(self, name: str) -> dict[str, str]:
        return {enterprise: own[name] for enterprise, own in self.tenants.items() if own.get(name)}

    def with_database_url(self, database_url: str | None) -> Settings:
        """These settings with ``database_url`` instead (unchanged when it is None or empty)."""
        return replace(self, database_url=database_url) if database_url else self

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2, sort_keys=True) + "\n")
