"""Progress bars on stderr for the commands that run for more than a few seconds: one bar per
thing the work reports (``trustpipe.progress``), with its count, elapsed time and ETA. Results
(and ``--json``) stay alone on stdout."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from trustpipe import progress as work


@contextmanager
def bars(console: Console) -> Iterator[work.Progress]:
    """A ``trustpipe.progress.Progress`` that draws on ``console`` while the block runs."""
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("eta"),
        TimeRemainingColumn(),
        console=console,
    ) as drawn:
        tasks: dict[str, TaskID] = {}

        def update(what: str, done: int, total: int | None) -> None:
            if what not in tasks:
                tasks[what] = drawn.add_task(what, total=total)
            drawn.update(tasks[what], completed=done, total=total)

        yield update
