"""`make bench`: run each benchmark, keep its results in bench/results.json (and redraw the chart)
as soon as it finishes, print the table; a benchmark that raises is reported with its traceback,
the others still run, and the exit status names the ones that failed.

``python -m bench p2_import p7_kcl`` runs only those and merges their results into the file;
with no names the file is written afresh. ``--smoke`` runs each at its smoke size and writes
nothing: a tiny run's figures would only mislead.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from bench import chart, harness
from bench.harness import Result

RESULTS = Path(__file__).parent / "results.json"


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    unknown = sorted(set(args.benchmarks) - set(harness.names()))
    if unknown:
        _parser().error(f"no such benchmark: {', '.join(unknown)} (there are {', '.join(harness.names())})")
    console = Console()
    kept: dict[str, Any] = json.loads(RESULTS.read_text()) if args.benchmarks and RESULTS.exists() else {}
    done: list[tuple[str, float, list[Result]]] = []
    failed: list[str] = []
    for name in args.benchmarks or harness.names():
        console.rule(f"{name}{' (smoke)' if args.smoke else ''}")
        began = time.perf_counter()
        try:
            results = harness.run_benchmark(name, args.smoke)
            if not args.smoke:
                _keep(kept, results)
        except Exception:
            traceback.print_exc()
            failed.append(name)
            continue
        done.append((name, time.perf_counter() - began, results))
        console.print(_table(done[-1:]))
    console.print(_table(done))
    if not args.smoke and done:
        console.print(f"results: {RESULTS}\nchart: {RESULTS.with_name(chart.CHART.name)}")
    if failed:
        console.print(f"[red]failed: {', '.join(failed)}[/red] (tracebacks above)")
        return 1
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.splitlines()[0])
    parser.add_argument("benchmarks", nargs="*", help=f"module names; all by default ({harness.names()})")
    parser.add_argument("--smoke", action="store_true", help="each at its smoke size; nothing written")
    return parser


def _keep(kept: dict[str, Any], results: list[Result]) -> None:
    """Merge ``results`` into the file now (written whole, then renamed: never half a file) and
    redraw the chart, so a later benchmark's failure loses none of them."""
    kept.update({r.id: r.as_dict() for r in results})
    partial = RESULTS.with_suffix(".json.part")
    partial.write_text(json.dumps(kept, indent=2, sort_keys=True) + "\n")
    partial.replace(RESULTS)
    chart.draw(kept, RESULTS.with_name(chart.CHART.name))


def _table(done: list[tuple[str, float, list[Result]]]) -> Table:
    table = Table(title="trustpipe benchmarks (ratio = value / baseline, same run)")
    for column in ("id", "benchmark", "value", "baseline", "unit", "ratio", "goal", "run s"):
        table.add_column(column)
    for _name, seconds, results in done:
        for r in results:
            table.add_row(
                r.id,
                r.name,
                _figure(r.value),
                _figure(r.baseline),
                r.unit,
                f"{r.ratio:.2f}",
                r.goal,
                f"{seconds:.0f}",
            )
    return table


def _figure(x: float) -> str:
    """Rates as whole numbers, seconds (P4) with their decimals."""
    return f"{x:,.0f}" if abs(x) >= 100 else f"{x:.3g}"


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
