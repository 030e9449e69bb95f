"""The alerter's wiring: settings -> clients -> the worker each shard's processor runs, and the
service (`trustpipe alerter run`) that runs the KCL daemon starting those processors."""

from __future__ import annotations

from pathlib import Path

from trustpipe import contracts
from trustpipe.aws import AwsClients
from trustpipe.codec import FramedDecoder, FramedEncoder
from trustpipe.settings import Settings, SettingsError
from trustpipe.workers import ALERTER
from trustpipe_alerter.channels import ActionQueues, AlertTopics, DynamoLedger
from trustpipe_alerter.worker import AlerterWorker
from trustpipe_stream import aside


def build_worker(aws: AwsClients) -> AlerterWorker:
    settings = aws.settings
    table = actions_table(settings)
    registry = aws.registry()
    schema = contracts.load(contracts.ACTION)
    queues = ActionQueues(
        aws.client("sqs"),
        settings.action_queue_urls,
        FramedEncoder(registry.register(contracts.ACTION_SUBJECT, schema), schema),
    )
    return AlerterWorker(
        decoder=FramedDecoder(registry, contracts.load(contracts.SCORED_MESSAGE)),
        ledger=DynamoLedger(aws.client("dynamodb"), table),
        enterprises=settings.enterprises,
        send_actions=queues.send,
        alert=AlertTopics(aws.client("sns"), settings.alert_topic_arns).publish,
        keep_aside=aside.to_s3(aws.s3, settings.archive_bucket, ALERTER.group),
    )


def actions_table(settings: Settings) -> str:
    """The actions table's name; SettingsError unless the settings name it and every enterprise
    they serve has its action queue and alert topic (a verdict for one that has none could never
    be sent)."""
    if not settings.actions_table_name or not settings.enterprises:
        raise SettingsError("the settings have no actions table or no enterprises (alerting module)")
    for what, where in (
        ("action queue", settings.action_queue_urls),
        ("alert topic", settings.alert_topic_arns),
    ):
        if missing := sorted(settings.enterprises - set(where)):
            raise SettingsError(f"the settings have no {what} for enterprises {', '.join(missing)}")
    return settings.actions_table_name


def run_service(settings: Settings, settings_path: Path, slot: str, work_dir: Path) -> int:
    """`trustpipe alerter run`: the alerter group's KCL daemon until SIGTERM; the exit code."""
    from trustpipe_stream import service  # the KCL's runtime: the Lambda form's zip has none

    return service.run_group(settings, settings_path, ALERTER, slot, work_dir)
