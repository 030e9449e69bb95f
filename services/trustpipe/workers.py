"""The stream workers, described once: each one's consumer group, the stream it reads, the
`trustpipe` command that runs it, the systemd unit that starts that command on a host, the
``Service`` its metrics carry, and the module the KCL daemon starts per leased shard.

The apps, the CLI, the metrics catalogue, the demo and the chaos run read this table; the Ansible
role's defaults (YAML) cannot, and a unit test holds them to it.
"""

from __future__ import annotations

from dataclasses import dataclass

from trustpipe.settings import Settings


@dataclass(frozen=True)
class Worker:
    """One kind of stream worker, as deployed."""

    name: str
    """What the runs and the logs call it."""
    group: str
    """Its KCL consumer group (application): one lease table per stream and group."""
    stream: str
    """The ``Settings`` field that names the stream it reads."""
    command: tuple[str, ...]
    """``trustpipe`` arguments that run it (the slot and the settings come on top)."""
    unit: str
    """The systemd unit that runs the command on a host (ansible/roles/trustpipe_worker)."""
    service: str
    """The ``Service`` dimension of its metrics (``trustpipe.metrics``)."""
    processor: str
    """The module the KCL daemon runs for each shard it leases."""

    def stream_name(self, settings: Settings) -> str:
        """The stream this worker reads in ``settings``' deployment."""
        name: str = getattr(settings, self.stream)
        return name


SCORER = Worker(
    name="scorer",
    group="scorer",
    stream="raw_stream_name",
    command=("scorer", "run"),
    unit="trustpipe-scorer@",
    service="scorer",
    processor="trustpipe_scorer.processor",
)
STREAM_IMPORTER = Worker(
    name="stream-importer",
    group="importer",
    stream="scored_stream_name",
    command=("importer", "run", "--source", "stream"),
    unit="trustpipe-stream-importer",
    service="importer",
    processor="trustpipe_importer.stream_processor",
)
ALERTER = Worker(
    name="alerter",
    group="alerter",
    stream="imported_stream_name",
    command=("alerter", "run"),
    unit="trustpipe-alerter",
    service="alerter",
    processor="trustpipe_alerter.processor",
)
STREAM_WORKERS = (SCORER, STREAM_IMPORTER, ALERTER)
"""The near-real-time path in order: raw -> scorer -> scored -> importer -> imported -> alerter."""
INDEXER = Worker(
    name="indexer",
    group="indexer",
    stream="scored_stream_name",
    command=("indexer", "run"),
    unit="trustpipe-indexer",
    service="indexer",
    processor="trustpipe_search.processor",
)
SEARCH_WORKERS = (INDEXER,)
"""Beside the path, not on it: the scored stream's second consumer group, which feeds the search
store (slide 70). Its own tuple while its host (the Ansible unit, the workers module's group and
routes) comes with the search store's AWS side."""
LAMBDA_STAGES = (*STREAM_WORKERS, *SEARCH_WORKERS)
"""The stream workers that have a Lambda form too (`trustpipe_stream.lambda_batch`): each its
``<package>.lambda_handler`` module, its zip (`trustpipe_deploy.stage_lambdas`) and a key of the
Terraform's ``stage_forms``."""


def stream_groups(settings: Settings) -> dict[str, str]:
    """Each stream of the near-real-time path and the consumer group that reads it."""
    return {w.stream_name(settings): w.group for w in STREAM_WORKERS}
