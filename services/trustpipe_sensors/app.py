"""The sensors' wiring: settings -> an S3 client -> an hour of simulated traffic in the landing
bucket (`trustpipe sensors run`, the demo, the tests)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from trustpipe import s3
from trustpipe.aws import AwsClients
from trustpipe_sensors.sensor import Drop, land_hour, select_enterprises
from trustpipe_sensors.world import World


def run_batch(
    aws: AwsClients,
    hour: datetime,
    *,
    seed: int,
    enterprise_ids: list[str] | None = None,
    scale: float = 1.0,
    on_drop: Callable[[Drop], None] | None = None,
) -> list[Drop]:
    """Land one hour of traffic (labels to the archive bucket); the drops written."""
    world = World.build(seed)
    enterprises = select_enterprises(world, enterprise_ids)
    client = aws.s3
    return land_hour(
        lambda bucket, key, body: s3.put(client, bucket, key, body),
        aws.settings.landing_bucket,
        aws.settings.archive_bucket,
        hour,
        seed=seed,
        enterprises=enterprises,
        world=world,
        scale=scale,
        on_drop=on_drop,
    )
