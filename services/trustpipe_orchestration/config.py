"""The pipeline's run-time configuration: two Airflow Variables, read when a task runs.

``trustpipe_settings`` holds the deployment's settings (Terraform's outputs, as everywhere else);
``trustpipe_pipeline`` says how the DAGs run them: Spark in-process or on a transient EMR cluster,
which enterprises are expected, how long to wait, where the runbooks are.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import MISSING, dataclass, field, fields
from datetime import UTC, datetime
from typing import Any, Literal

from trustpipe.db.partitions import DEFAULT_KEEP_DAYS
from trustpipe.errors import UserError
from trustpipe.settings import Settings, SettingsError

HOURLY_DAG = "message_scoring_hourly"
HOURLY_START = datetime(2026, 11, 26, tzinfo=UTC)
"""The hourly DAG's default start_date (catchup runs every hour since)."""
START_OPTION = ("trustpipe", "hourly_start")
"""Airflow configuration option (``AIRFLOW__TRUSTPIPE__HOURLY_START``) moving the start: the local
stack sets it to its first landed hour, so catchup does not run days of empty hours."""
SETTINGS_VARIABLE = "trustpipe_settings"
PIPELINE_VARIABLE = "trustpipe_pipeline"
DB_CONN_ID = "trustpipe_db"
AWS_CONN_ID = "aws_default"
"""Seconds from an hour's close to its verified output; the deadline alarm watches it."""
DEFAULT_RUNBOOK_BASE = "https://github.com/trustpipe/trustpipe/blob/main/docs/runbooks"

Mode = Literal["local", "emr"]


class ConfigError(UserError, ValueError):
    """The pipeline's Variables are missing or invalid."""


@dataclass(frozen=True)
class EmrConfig:
    """A transient cluster per run: what it runs on, and the guards that stop it."""

    code_uri: str
    """s3:// prefix holding the trustpipe wheel, the job entry points and settings.json."""
    log_uri: str
    service_role: str = "EMR_DefaultRole"
    job_flow_role: str = "EMR_EC2_DefaultRole"
    security_configuration: str | None = None
    subnet_ids: tuple[str, ...] = ()
    additional_security_group_ids: tuple[str, ...] = ()
    """Groups of the clusters' own beside EMR's managed ones (the counters' cache admits them)."""
    release_label: str = "emr-spark-8.0.0"
    """EMR's Spark 4 runtime (Spark 4.0.2, Amazon Linux 2023, Python 3.11 to 3.13): the job needs
    Spark 4.0 (emr.CLUSTER_SPARK), and the bootstrap action's venv and the uploaded wheels are built
    for its Python 3.11 on Graviton (emr.CLUSTER_PYTHON, CLUSTER_PLATFORM)."""
    primary_instance_type: str = "m7g.xlarge"
    core_instance_type: str = "r7g.2xlarge"
    core_instance_count: int = 2
    core_on_spot: bool = True
    idle_timeout_seconds: int = 1800
    """EMR's own auto-termination: the second guard, if the terminate task never runs."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmrConfig:
        return cls(**_known(cls, data, "emr", tuple_fields={"subnet_ids", "additional_security_group_ids"}))


@dataclass(frozen=True)
class QualityBands:
    """The data-quality gate: each enterprise's hour against its own trailing 7 days."""

    trailing_hours: int = 168
    min_history_hours: int = 6
    """Fewer scored hours than this and the gate reports, but cannot judge."""
    volume_low: float = 0.5
    """The hour's volume must be at least this times the smallest trailing hour..."""
    volume_high: float = 2.0
    """...and at most this times the largest."""
    quarantine_margin: float = 0.05
    """The quarantine rate may leave the trailing [min, max] range by this much (absolute)."""

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityBands:
        return cls(**_known(cls, data, "quality"))


@dataclass(frozen=True)
class PipelineConfig:
    """Everything a DAG task needs, built once per task from the Variables."""

    settings: Settings
    mode: Mode = "local"
    enterprises: tuple[str, ...] = ("acme", "globex", "initech")
    quiet_minutes: float = 20
    """No new landing object for this long after the hour closed: proceed with what landed."""
    import_timeout_minutes: float = 15
    runbook_base: str = DEFAULT_RUNBOOK_BASE
    model_history_hours: int = 24
    quality: QualityBands = field(default_factory=QualityBands)
    emr: EmrConfig | None = None
    store_retention_days: int = DEFAULT_KEEP_DAYS
    """Days of scored messages the web app's store keeps (the nightly store_retention task drops
    older day partitions; the lake keeps everything)."""
    late_lookback_hours: int = 24
    """How far back each hourly run looks for landing objects that came after their hour was
    scored (``trustpipe_orchestration.late``); those hours are scored again."""
    model_role_arn: str | None = None
    """The role the nightly build assumes to write models/ (on AWS the Airflow host's own role
    cannot); None: the host's own credentials (the local stack)."""

    @classmethod
    def from_variables(cls, get: Callable[[str], Any]) -> PipelineConfig:
        """From a Variable getter (``Variable.get(name, deserialize_json=True)``)."""
        try:
            settings_data = get(SETTINGS_VARIABLE)
        except KeyError as err:
            raise ConfigError(
                f"Airflow Variable {SETTINGS_VARIABLE} is not set: it holds the deployment's settings "
                "(`make airflow` sets it from the Terraform outputs)"
            ) from err
        try:
            pipeline = get(PIPELINE_VARIABLE)
        except KeyError:
            pipeline = {}
        return cls.from_dicts(settings_data, pipeline)

    @classmethod
    def from_dicts(cls, settings_data: Any, pipeline: Any) -> PipelineConfig:
        if not isinstance(settings_data, Mapping) or not isinstance(pipeline, Mapping):
            raise ConfigError(f"Variables {SETTINGS_VARIABLE} and {PIPELINE_VARIABLE} must be JSON objects")
        try:
            settings = Settings.from_dict(dict(settings_data))
        except SettingsError as err:
            raise ConfigError(f"Variable {SETTINGS_VARIABLE}: {err}") from err
        data = _known(cls, pipeline, "pipeline", tuple_fields={"enterprises"})
        mode = data.get("mode", "local")
        if mode not in ("local", "emr"):
            raise ConfigError(f"pipeline mode must be 'local' or 'emr', not {mode!r}")
        data["quality"] = QualityBands.from_dict(data.get("quality") or {})
        for name, low, high in (("store_retention_days", 1, None), ("late_lookback_hours", 0, 24 * 7)):
            value = data.get(name, low)
            whole = isinstance(value, int) and not isinstance(value, bool)
            if not whole or value < low or (high is not None and value > high):
                within = f"between {low} and {high}" if high is not None else f">= {low}"
                raise ConfigError(f"pipeline {name} must be a whole number {within}, not {value!r}")
        role = data.get("model_role_arn")
        if role is not None and not (isinstance(role, str) and role.startswith("arn:")):
            raise ConfigError(f"pipeline model_role_arn must be a role ARN, not {role!r}")
        if mode == "emr":
            if not isinstance(data.get("emr"), Mapping):
                raise ConfigError("pipeline mode 'emr' needs an 'emr' object (code_uri, log_uri, roles...)")
            data["emr"] = EmrConfig.from_dict(data["emr"])
        else:
            data["emr"] = None
        if not settings.oncall_topic_arn:
            raise ConfigError(
                f"Variable {SETTINGS_VARIABLE} has no oncall_topic_arn: failures would page no one"
            )
        return cls(settings=settings, **data)

    def runbook(self, name: str) -> str:
        return f"{self.runbook_base.rstrip('/')}/{name}.md"


def hourly_start() -> datetime:
    """The hourly DAG's start_date: ``[trustpipe] hourly_start`` from Airflow's configuration,
    else HOURLY_START. Read when the DAG is parsed, the one setting that must be: a start date
    shapes the schedule, which exists before any task runs."""
    from airflow.configuration import conf

    value = conf.get(*START_OPTION, fallback=None)
    if not value:
        return HOURLY_START
    try:
        start = datetime.fromisoformat(value)
    except ValueError as err:
        raise ConfigError(f"[trustpipe] hourly_start must be an ISO date-time, not {value!r}") from err
    return start if start.tzinfo else start.replace(tzinfo=UTC)


def pipeline_config() -> PipelineConfig:
    """The configuration from the Airflow Variables, read now (in a running task, never at parse)."""
    from airflow.sdk import Variable

    def get(name: str) -> Any:
        value = Variable.get(name, default=None, deserialize_json=True)
        if value is None:
            raise KeyError(name)
        return value

    return PipelineConfig.from_variables(get)


def _known(
    cls: type, data: Mapping[str, Any], what: str, tuple_fields: frozenset[str] | set[str] = frozenset()
) -> dict[str, Any]:
    """The fields of ``cls`` present in ``data``; unknown keys are an error (a typo is not a default)."""
    names = {f.name for f in fields(cls)} - {"settings"}
    unknown = sorted(set(data) - names)
    if unknown:
        raise ConfigError(f"{what} config has unknown keys: {', '.join(unknown)}")
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    missing = sorted(required - {"settings"} - set(data))
    if missing:
        raise ConfigError(f"{what} config lacks {', '.join(missing)}")
    return {k: tuple(v) if k in tuple_fields else v for k, v in data.items()}
