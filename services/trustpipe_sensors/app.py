"""The sensors' wiring: settings -> clients -> an hour of simulated traffic in the landing bucket,
or a stream run on the raw stream (`trustpipe sensors run`, the demo, the tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from trustpipe import layout, s3
from trustpipe.aws import AwsClients
from trustpipe.errors import UserError
from trustpipe.progress import Progress, quiet
from trustpipe_sensors import stream
from trustpipe_sensors.frontdoor import producer_for
from trustpipe_sensors.sensor import Drop, land_hour, select_enterprises
from trustpipe_sensors.stream import StreamRun
from trustpipe_sensors.world import World

BATCH_PROGRESS = "sensor files landed"


class NoTenantsError(UserError):
    """The settings name no enterprise, so there is no sensor to simulate."""


def tenant_world(aws: AwsClients, seed: int) -> World:
    """The world of ``seed`` whose enterprises are the deployment's tenant map."""
    if not aws.settings.enterprises:
        raise NoTenantsError("the settings name no enterprise (tenants): nothing to simulate")
    return World.build(seed, aws.settings.enterprises)


def run_batch(
    aws: AwsClients,
    hour: datetime,
    *,
    seed: int,
    enterprise_ids: list[str] | None = None,
    scale: float = 1.0,
    on_drop: Callable[[Drop], None] | None = None,
    progress: Progress = quiet,
) -> list[Drop]:
    """Land one hour of traffic (labels to the archive bucket); the drops written."""
    world = tenant_world(aws, seed)
    enterprises = select_enterprises(world, enterprise_ids)
    client = aws.s3
    total = len(enterprises) * len(layout.quarter_starts(hour))
    landed: list[Drop] = []

    def dropped(drop: Drop) -> None:
        landed.append(drop)
        progress(BATCH_PROGRESS, len(landed), total)
        if on_drop is not None:
            on_drop(drop)

    return land_hour(
        lambda bucket, key, body: s3.put(client, bucket, key, body),
        aws.settings.landing_bucket,
        aws.settings.archive_bucket,
        hour,
        seed=seed,
        enterprises=enterprises,
        world=world,
        scale=scale,
        on_drop=dropped,
    )


def run_stream(
    aws: AwsClients,
    *,
    seed: int,
    rate: float,
    duration: float | None = None,
    count: int | None = None,
    enterprise_ids: list[str] | None = None,
    run_id: str | None = None,
    progress: Progress = quiet,
) -> StreamRun:
    """Send traffic at ``rate`` messages a second (until ``duration`` or ``count``) through the
    front door, each enterprise's signed with its sensor credentials; its manifest and ground
    truth to the archive bucket."""
    world = tenant_world(aws, seed)
    enterprises = select_enterprises(world, enterprise_ids)
    settings = aws.settings
    run, labelled = stream.run_stream(
        producer_for(settings, lambda: aws.client("sts")),
        settings.raw_stream_name,
        aws.registry().register,
        lambda encoders, run: stream.Sensors(world, enterprises, encoders, seed, run),
        rate=rate,
        run_id=run_id,
        duration=duration,
        count=count,
        progress=progress,
    )
    client = aws.s3
    stream.record_run(
        lambda bucket, key, body: s3.put(client, bucket, key, body), settings.archive_bucket, run, labelled
    )
    return run
