"""The local stack: moto server + PostgreSQL + `infra/envs/local` applied with Terraform."""

from __future__ import annotations

import hashlib
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from trustpipe import contracts, ingest
from trustpipe.aws import AwsClients
from trustpipe.metrics import ERRORS, PROCESSED
from trustpipe.progress import Progress, quiet
from trustpipe.settings import LOCAL_ENV, SETTINGS_FILE, Settings, SettingsError
from trustpipe.telemetry import totals
from trustpipe_deploy.terraform import Terraform, TerraformError, find_plugin_mirror
from trustpipe_review.users import Pool, ensure_pool
from trustpipe_stack.procs import pid_alive, read_pid
from trustpipe_stack.servers import (
    FrontDoorServer,
    MotoServer,
    Postgres,
    RedisServer,
    RegistryServer,
    ReviewServer,
    SearchServer,
)

MOTO_PARALLELISM = 30
SPARK_LOG = "spark.log"
"""A run's local Spark session logs its warnings here, under the run's own folder (the console
gets Spark's errors only)."""
Say = Callable[[str], None]


@dataclass
class LocalStack:
    """Everything `trustpipe local` manages, with its state under ``state_dir``."""

    project_root: Path
    state_dir: Path
    plugin_mirror: str | None = None

    def __post_init__(self) -> None:
        self.moto = MotoServer(self.state_dir / "moto")
        self.postgres = Postgres(self.state_dir / "postgres")
        self.registry = RegistryServer(self.state_dir / "registry")
        self.frontdoor = FrontDoorServer(self.state_dir / "frontdoor")
        self.search = SearchServer(self.state_dir / "search")
        self.redis = RedisServer(self.state_dir / "redis")
        self.review = ReviewServer(self.state_dir / "review")

    @property
    def settings_path(self) -> Path:
        return self.state_dir / SETTINGS_FILE

    @property
    def sensor_credentials_path(self) -> Path:
        """Each enterprise's sensor session (mode 0600): what the sensors sign with and the
        front door checks signatures against."""
        return self.state_dir / ingest.SENSOR_CREDENTIALS_FILE

    def settings(self) -> Settings:
        if not self.moto.running():
            raise SettingsError("the local stack is not up: run `trustpipe local up`")
        return Settings.load(self.settings_path)

    def up(self, database_url: str | None = None, say: Say = print, progress: Progress = quiet) -> Settings:
        """Start what is not running and apply Terraform when needed (``progress`` hears its
        resources applied); harmless when up."""
        self.state_dir.mkdir(parents=True, exist_ok=True)
        infra = infra_fingerprint(self.project_root)
        applied = self._applied_path.read_text() if self._applied_path.exists() else None
        if applied is not None and applied != infra and self.moto.running():
            # moto cannot update every resource in place (API Gateway stages, for one): a changed
            # infra/ gets a fresh moto server and a fresh apply. Its data (S3 objects, queues) goes.
            say("infra/ changed since the last apply: restarting the moto server to apply afresh")
            self.moto.stop()
        fresh_aws = self.moto.start()
        if fresh_aws:
            self.search.stop()  # it starts empty too: no documents of objects the new server lacks
        say(f"moto server {'started' if fresh_aws else 'already running'} at {self.moto.endpoint}")
        own_database = database_url is None
        if database_url is None:
            started = self.postgres.start()
            database_url = self.postgres.url
            say(f"PostgreSQL {'started' if started else 'already running'} at {database_url}")
            if fresh_aws:
                # The moto server starts empty: rows imported from objects it no longer has would
                # make the two halves of the stack disagree (an hour's rows vs its scored files).
                self.postgres.reset_database()
                say("moto server started empty: the local database was emptied to match")
        else:
            say("PostgreSQL: using DATABASE_URL")
        if fresh_aws or not self.settings_path.exists() or applied != infra:
            say("applying infra/envs/local with Terraform (about two minutes)...")
            try:
                outputs = self._apply(fresh_aws, progress)
            except TerraformError as err:
                # A create the moto server made but whose answer came too late, retried by the
                # provider into a conflict, leaves a resource no state knows of: nothing applies
                # over it. Once more, on a fresh server (and so an empty database).
                say(f"{err}; restarting the moto server to apply afresh, once")
                self.moto.stop()
                self.moto.start()
                if own_database:
                    self.postgres.reset_database()
                outputs = self._apply(True, progress)
            Settings.from_terraform_outputs(outputs, database_url).save(self.settings_path)
            self._applied_path.write_text(infra)
            self.registry.stop()  # it served the tables of the moto server before
            self.frontdoor.stop()  # and it the sensor roles and the stream of that server
            self.review.stop()  # and it that server's user pool and queues
            say(f"settings written to {self.settings_path}")
        if self.registry.start(self.settings_path):
            say(f"schema registry started at {self.registry.url} (its DynamoDB table on the moto server)")
        if self.search.start():
            say(f"OpenSearch emulator (osmem-server) started at {self.search.url}")
        if self.redis.start():
            say(f"redis started at {self.redis.url} (the model's counters, as ElastiCache holds them)")
        settings = replace(
            Settings.load(self.settings_path),
            registry_url=self.registry.url,
            search_url=self.search.url,
            redis_url=self.redis.url,
        )
        settings.save(self.settings_path)
        register_contracts(settings)
        return self.serve_review(self.serve_frontdoor(settings, say), say)

    def serve_review(self, settings: Settings, say: Say = print) -> Settings:
        """The review API serving ``settings``, with the reviewers' user pool and app client
        on the moto server (made unless there); the settings, saved, with the three named."""
        pool = review_pool(settings)
        if (pool.pool_id, pool.client_id) != (settings.review_user_pool_id, settings.review_client_id):
            self.review.stop()  # it checked tokens of another pool
        settings = replace(settings, review_user_pool_id=pool.pool_id, review_client_id=pool.client_id)
        settings.save(self.settings_path)
        if self.review.start(self.settings_path):
            say(f"review API started at {self.review.url} (tokens of user pool {pool.pool_id})")
        settings = replace(settings, review_url=self.review.url)
        settings.save(self.settings_path)
        return settings

    def serve_frontdoor(self, settings: Settings, say: Say = print, renew: bool = False) -> Settings:
        """The front door serving ``settings``' tenants (restarted when ``renew``), with sensor
        sessions obtained afresh whenever it starts: STS AssumeRole of each enterprise's sensor
        role on the moto server. The settings, saved, with its URL and the sessions' file."""
        if renew:
            self.frontdoor.stop()
        settings.save(self.settings_path)
        if not self.frontdoor.running():
            sessions = assume_sensor_roles(settings)
            ingest.save_sensor_credentials(self.sensor_credentials_path, sessions)
        if self.frontdoor.start(self.settings_path, self.sensor_credentials_path):
            n = len(settings.tenants)
            say(f"stream front door started at {self.frontdoor.url} (sensor sessions of {n} enterprises)")
        settings = replace(
            settings,
            frontdoor_url=self.frontdoor.url,
            sensor_credentials_file=str(self.sensor_credentials_path),
        )
        settings.save(self.settings_path)
        return settings

    @property
    def _applied_path(self) -> Path:
        """Fingerprint of the Terraform last applied: a changed module is applied on the next `up`."""
        return self.state_dir / "infra.sha256"

    def down(self, say: Say = print) -> None:
        """Stop everything `up` started, by pid."""
        self.review.stop()
        self.frontdoor.stop()
        self.registry.stop()
        self.search.stop()
        self.moto.stop()
        self.sensor_credentials_path.unlink(missing_ok=True)
        say("review API, moto server, schema registry, front door and OpenSearch emulator stopped")
        self.postgres.stop()
        say("PostgreSQL stopped")
        self.redis.stop()
        say("redis stopped")
        self.settings_path.unlink(missing_ok=True)

    def status(self) -> dict[str, Any]:
        moto_pid = self.moto.pid_file.read_text().strip() if self.moto.running() else None
        return {
            "moto": {
                "running": self.moto.running(),
                "pid": moto_pid,
                "endpoint": self.moto.endpoint if self.moto.running() else None,
            },
            "postgres": {
                "running": self.postgres.running(),
                "pid": self.postgres.pid,
                "url": self.postgres.url if self.postgres.running() else None,
            },
            "registry": {
                "running": self.registry.running(),
                "url": self.registry.url if self.registry.running() else None,
            },
            "frontdoor": {
                "running": self.frontdoor.running(),
                "url": self.frontdoor.url if self.frontdoor.running() else None,
            },
            "search": {
                "running": self.search.running(),
                "url": self.search.url if self.search.running() else None,
            },
            "redis": {
                "running": self.redis.running(),
                "url": self.redis.url if self.redis.running() else None,
            },
            "review": {
                "running": self.review.running(),
                "url": self.review.url if self.review.running() else None,
            },
            "workers": self.workers(),
            "settings": str(self.settings_path) if self.settings_path.exists() else None,
        }

    def workers(self) -> dict[str, Any]:
        """Each stream worker run here (`trustpipe scorer|importer|alerter run`): running or not,
        and what its batches' metrics add up to (Processed, Errors), with the last batch's age."""
        out = {}
        for folder in sorted((self.state_dir / "workers").glob("*/")):
            pids = [read_pid(p) for p in folder.glob("*.pid")]
            health = totals(sorted(folder.glob("*-metrics.log")))
            last = health["last_batch_ms"]
            out[folder.name] = {
                "running": any(p is not None and pid_alive(p) for p in pids),
                "processed": int(health["metrics"].get(PROCESSED.name, 0)),
                "errors": int(health["metrics"].get(ERRORS.name, 0)),
                "last_batch_seconds_ago": round(time.time() - last / 1000, 1) if last else None,
            }
        return out

    def _apply(self, fresh_aws: bool, progress: Progress) -> dict[str, Any]:
        tf_dir = self.state_dir / "terraform"
        if fresh_aws and tf_dir.exists():
            # The moto server keeps nothing across restarts: old state would describe nothing.
            shutil.rmtree(tf_dir)
        return apply_local_env(self.project_root, tf_dir, self.moto.endpoint, self.plugin_mirror, progress)


def register_contracts(settings: Settings) -> None:
    """The sensors' contract history in the stack's registry, oldest first (see
    ``contracts.register_sensor_history``); harmless when registered."""
    contracts.register_sensor_history(AwsClients(settings).registry().register)


def review_pool(settings: Settings) -> Pool:
    """The reviewers' user pool and app client on the moto server (made unless there)."""
    return ensure_pool(AwsClients(settings).client("cognito-idp"))


def assume_sensor_roles(settings: Settings) -> list[ingest.SensorCredentials]:
    """A session of each enterprise's sensor role (the tenant map's), from STS on the moto
    server: what that enterprise's sensors sign with."""
    import boto3

    sts = boto3.client(
        "sts",
        region_name=settings.region,
        endpoint_url=settings.aws_endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",  # noqa: S106 - the moto server's stand-in credentials
    )
    return [
        ingest.assume_sensor_role(sts, ent, tenant["sensor_role_arn"], f"sensor-{ent}")
        for ent, tenant in sorted(settings.tenants.items())
        if tenant.get("sensor_role_arn")
    ]


def infra_fingerprint(project_root: Path) -> str:
    """Digest of what `local up` applies: every module file (templates too) and the local root."""
    digest = hashlib.sha256()
    infra = project_root / "infra"
    for path in sorted([*(infra / "modules").rglob("*"), *(infra / "envs" / "local").rglob("*")]):
        if path.is_file() and not any(part.startswith(".terraform") for part in path.parts):
            digest.update(str(path.relative_to(project_root)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def apply_local_env(
    project_root: Path,
    state_dir: Path,
    endpoint: str,
    plugin_mirror: str | None = None,
    progress: Progress = quiet,
) -> dict[str, Any]:
    """Apply ``infra/envs/local`` to a running moto server at ``endpoint``; its outputs."""
    from schema_registry_lambda.build import DEFAULT_ZIP, build
    from trustpipe_frontdoor import build as frontdoor

    registry_zip = build((project_root / DEFAULT_ZIP).resolve(), root=project_root)
    frontdoor_zip = frontdoor.build((project_root / frontdoor.DEFAULT_ZIP).resolve(), root=project_root)
    tf = Terraform(
        workdir=project_root / LOCAL_ENV,
        state_dir=state_dir,
        plugin_mirror=find_plugin_mirror(plugin_mirror),
        log_file=state_dir / "terraform.log",
    )
    tf.init()
    variables = {
        "aws_endpoint": endpoint,
        "registry_lambda_zip": str(registry_zip),
        "frontdoor_lambda_zip": str(frontdoor_zip),
    }
    tf.apply(variables, parallelism=MOTO_PARALLELISM, progress=progress)
    return tf.outputs()
