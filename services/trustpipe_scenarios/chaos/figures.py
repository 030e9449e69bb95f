"""The run's figures: the leases as the KCL left them, the workers' logs to read first, and the
reconciliation printed."""

from __future__ import annotations

from typing import Any

from trustpipe.aws import AwsClients
from trustpipe.workers import stream_groups
from trustpipe_scenarios.chaos.plan import chaos_dir
from trustpipe_scenarios.stream_demo import lease_items
from trustpipe_stack.stack import LocalStack

LEASE_FIELDS = (
    "leaseKey",
    "leaseOwner",
    "checkpointOwner",
    "checkpoint",
    "leaseCounter",
    "ownerSwitchesSinceCheckpoint",
)


def lease_picture(aws: AwsClients) -> dict[str, list[dict[str, str]]]:
    """Each consumer group's leases as the KCL left them (``LEASE_FIELDS`` per shard): where a
    stalled shard shows, when messages are missing."""
    dynamodb = aws.client("dynamodb")
    picture: dict[str, list[dict[str, str]]] = {}
    for stream, group in stream_groups(aws.settings).items():
        items = lease_items(dynamodb, stream, group)
        picture[group] = sorted(
            ({k: str(next(iter(item[k].values()))) for k in LEASE_FIELDS if k in item} for item in items),
            key=lambda lease: lease.get("leaseKey", ""),
        )
    return picture


def worker_log_tails(stack: LocalStack, seed: int, lines: int = 15) -> str:
    """The last lines of each worker's log and its KCL daemon's warnings and errors: what to read
    first when a run lost something."""
    workers = chaos_dir(stack, seed) / "workers"
    out = []
    for log in sorted(workers.glob("*.out")):
        out += [f"== {log}", *log.read_text(errors="replace").splitlines()[-lines:]]
    for log in sorted(workers.glob("*/*[0-9].log")):
        flagged = [line for line in log.read_text(errors="replace").splitlines() if _flagged(line)]
        out += [f"== {log} (warnings and errors)", *flagged[-lines:]]
    return "\n".join(line[:400] for line in out)


def _flagged(line: str) -> bool:
    """A daemon's warning or error, or a processor's (the daemon logs every line a processor
    writes to stderr as an ERROR; the level is the processor's own)."""
    if "DrainChildSTDERRTask" in line:
        return '"level":"WARNING"' in line or '"level":"ERROR"' in line
    return (" WARN " in line or " ERROR " in line) and "Dropping metrics" not in line


def print_figures(console: Any, figures: dict[str, Any]) -> None:
    """The reconciliation as a table and a verdict, with the seed to repeat it."""
    from rich.table import Table

    table = Table(title=f"chaos seed {figures['seed']}: {figures['duration_s']:g}s of disruptions")
    for column in ("enterprise/source", "produced", "stored"):
        table.add_column(column, justify="left" if column == "enterprise/source" else "right")
    for key, counts in figures["by_enterprise_source"].items():
        table.add_row(key, f"{counts.get('produced', 0):,}", f"{counts.get('stored', 0):,}")
    console.print(table)
    console.print(
        f"produced {figures['produced']:,}, stored {figures['stored']:,}, lost {figures['lost_count']}, "
        f"duplicate rows {figures['duplicate_rows']}; actionable {figures['actionable']:,}, actions "
        f"{figures['actions']:,} (missing {len(figures['missing_actions'])}, duplicate "
        f"{figures['duplicate_actions']}, unexpected {len(figures['unexpected_actions'])}); "
        f"in the search index {figures['indexed']:,} (not indexed {figures['not_indexed']})"
    )
    console.print(
        f"set aside: {figures['set_aside']} ({figures['set_aside_without_reason']} without a reason); "
        f"dead-lettered and moved back: {figures.get('redriven', 0)}"
    )
    console.print(f"disruptions: {', '.join(figures['disruptions'])}; restarts {figures['restarts']}")
    console.print(
        f"scored with the model's snapshot while the counters' Redis did not answer: "
        f"{figures.get('counters_degraded', 0):,} messages"
    )
    exact = figures.get("counters_after_build")
    if exact is not None:
        console.print(
            f"the counters after the batch hours' tiles were recounted: {exact['entities']:,} sender "
            f"domains and /24s read back, {exact['differ']} differing from their exact counts"
            + (f" ({exact['differing']})" if exact["differ"] else "")
        )
    if figures["lost_count"]:
        console.print(f"lost by source: {figures['lost_by_source']}; leases at the end: {figures['leases']}")
        console.print(f"the workers' logs: {figures['workers_logs']}")
    injected = sum(figures["faults_injected"].values())
    console.print(f"AWS faults injected: {injected:,} ({figures['faults_injected']})")
    if figures["run_failures"]:
        console.print(f"[red]the run itself failed[/]: {figures['run_failures']}")
    verdict = "[green]nothing lost or doubled[/]" if figures["ok"] else "[red]LOST, DOUBLED OR MISCOUNTED[/]"
    console.print(f"{verdict} in {figures['elapsed_s']}s (repeat: trustpipe chaos --seed {figures['seed']})")
