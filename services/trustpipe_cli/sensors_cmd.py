"""`trustpipe sensors run`: an hour of simulated sensor traffic into the landing bucket."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from trustpipe import s3
from trustpipe.aws import AwsClients
from trustpipe.settings import Settings
from trustpipe_sensors.sensor import Drop, land_hour, select_enterprises
from trustpipe_sensors.world import World


def run_batch(
    settings: Settings,
    hour: datetime,
    *,
    seed: int,
    enterprise_ids: list[str] | None,
    scale: float,
    on_drop: Callable[[Drop], None] | None = None,
) -> list[Drop]:
    """Land one hour of traffic (labels to the archive bucket); the drops written."""
    world = World.build(seed)
    enterprises = select_enterprises(world, enterprise_ids)
    client = AwsClients(settings).s3
    return land_hour(
        lambda bucket, key, body: s3.put(client, bucket, key, body),
        settings.landing_bucket,
        settings.archive_bucket,
        hour,
        seed=seed,
        enterprises=enterprises,
        world=world,
        scale=scale,
        on_drop=on_drop,
    )
