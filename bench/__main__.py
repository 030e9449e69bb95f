"""`make bench`: run every benchmark, print a table, write bench/results.json."""

from __future__ import annotations

import importlib
import json
import pkgutil
import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import chart
from bench.harness import Result

RESULTS = Path(__file__).parent / "results.json"


def main(selected: list[str]) -> None:
    results: list[Result] = []
    for module in sorted(m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)])):
        if not module.startswith("p") or (selected and module not in selected):
            continue
        results += importlib.import_module(f"bench.{module}").run()
    table = Table(title="trustpipe benchmarks (ratio = value / baseline, same run)")
    for column in ("id", "benchmark", "value", "baseline", "unit", "ratio", "goal"):
        table.add_column(column)
    for r in results:
        table.add_row(r.id, r.name, f"{r.value:,.0f}", f"{r.baseline:,.0f}", r.unit, f"{r.ratio:.2f}", r.goal)
    Console().print(table)
    existing = json.loads(RESULTS.read_text()) if RESULTS.exists() and selected else {}
    existing.update({r.id: r.as_dict() for r in results})
    RESULTS.write_text(json.dumps(existing, indent=2, sort_keys=True) + "\n")
    Console().print(f"chart: {chart.draw(existing)}")


if __name__ == "__main__":
    main(sys.argv[1:])
