"""Wait until an hour's landing files are complete: every expected quarter-hour drop, or quiet.

Complete means each active enterprise's four drops are there. A sensor that is down must not hold
the pipeline forever, so an hour is also complete once it has closed and no new object arrived for
``quiet`` (the data-quality gate then judges the volume that did land).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from airflow.sdk import BaseSensorOperator
from airflow.triggers.base import BaseTrigger, TriggerEvent

from trustpipe import layout, s3
from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_orchestration.config import pipeline_config

HOUR = timedelta(hours=1)


def expected_keys(enterprises: Iterable[str], hour: datetime) -> set[str]:
    return {layout.landing_key(e, q) for e in enterprises for q in layout.quarter_starts(hour)}


@dataclass(frozen=True)
class LandingState:
    complete: bool
    reason: str
    present: int
    missing: tuple[str, ...]


def landing_state(
    objects: dict[str, datetime], expected: set[str], hour: datetime, now: datetime, quiet: timedelta
) -> LandingState:
    """Decide from the hour's objects (key -> last modified) whether the hour is complete."""
    missing = tuple(sorted(expected - set(objects)))
    if not missing:
        return LandingState(True, f"all {len(expected)} expected drops landed", len(objects), ())
    last_activity = max([hour + HOUR, *objects.values()])
    quiet_for = now - last_activity
    if quiet_for >= quiet:
        return LandingState(
            True,
            f"{len(missing)} of {len(expected)} expected drops missing, but nothing landed for "
            f"{quiet_for.total_seconds() / 60:.0f} min after the hour closed: proceeding without them",
            len(objects),
            missing,
        )
    return LandingState(False, f"waiting for {len(missing)} drops", len(objects), missing)


def check_landing(
    aws: AwsClients, enterprises: Iterable[str], hour: datetime, quiet: timedelta
) -> LandingState:
    enterprises = tuple(enterprises)
    bucket = aws.settings.landing_bucket
    objects = {
        o["Key"]: o["LastModified"]
        for e in enterprises
        for o in s3.list_objects(aws.s3, bucket, layout.landing_hour_prefix(e, hour))
    }
    return landing_state(objects, expected_keys(enterprises, hour), hour, datetime.now(UTC), quiet)


class LandingCompleteTrigger(BaseTrigger):
    """Polls the landing bucket from the triggerer, so no worker slot is held while waiting."""

    def __init__(
        self,
        settings: dict[str, Any],
        enterprises: list[str],
        hour: str,
        quiet_seconds: float,
        poll_seconds: float,
    ) -> None:
        super().__init__()  # type: ignore[no-untyped-call]
        self.settings = settings
        self.enterprises = enterprises
        self.hour = hour
        self.quiet_seconds = quiet_seconds
        self.poll_seconds = poll_seconds

    def serialize(self) -> tuple[str, dict[str, Any]]:
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "settings": self.settings,
                "enterprises": self.enterprises,
                "hour": self.hour,
                "quiet_seconds": self.quiet_seconds,
                "poll_seconds": self.poll_seconds,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        aws = AwsClients(Settings.from_dict(self.settings))
        hour = layout.parse_hour(self.hour)
        quiet = timedelta(seconds=self.quiet_seconds)
        while True:
            # boto3 blocks: run it off the triggerer's event loop.
            state = await asyncio.to_thread(check_landing, aws, self.enterprises, hour, quiet)
            if state.complete:
                event = {"reason": state.reason, "present": state.present, "missing": state.missing}
                yield TriggerEvent(event)  # type: ignore[no-untyped-call]
                return
            await asyncio.sleep(self.poll_seconds)


class LandingCompleteSensor(BaseSensorOperator):
    """Succeeds when the data interval's hour has landed; deferrable (waits in the triggerer)."""

    def __init__(self, *, deferrable: bool = True, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.deferrable = deferrable

    def _check(self, context: Any) -> tuple[LandingState, Any, datetime]:
        config = pipeline_config()
        hour = context["data_interval_start"]
        quiet = timedelta(minutes=config.quiet_minutes)
        return check_landing(AwsClients(config.settings), config.enterprises, hour, quiet), config, hour

    def poke(self, context: Any) -> bool:
        state, _, _ = self._check(context)
        self.log.info("landing: %s (%d objects)", state.reason, state.present)
        return state.complete

    def execute(self, context: Any) -> dict[str, Any] | None:
        if not self.deferrable:
            return super().execute(context)  # type: ignore[no-any-return]
        state, config, hour = self._check(context)
        if state.complete:
            self.log.info("landing: %s", state.reason)
            return {"reason": state.reason, "present": state.present, "missing": list(state.missing)}
        self.log.info("landing: %s; deferring to the triggerer", state.reason)
        self.defer(
            trigger=LandingCompleteTrigger(
                settings=asdict(config.settings),
                enterprises=list(config.enterprises),
                hour=layout.format_hour(hour),
                quiet_seconds=config.quiet_minutes * 60,
                poll_seconds=self.poke_interval,
            ),
            method_name="execute_complete",
            timeout=timedelta(seconds=self.timeout),
        )
        return None

    def execute_complete(self, context: Any, event: dict[str, Any]) -> dict[str, Any]:
        self.log.info("landing: %s", event["reason"])
        return {**event, "missing": list(event["missing"])}
