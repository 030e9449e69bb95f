"""`trustpipe demo` as a person runs it, on the test worker's local stack: the batch hour through
Spark and the importer, then a short stream run through the KCL workers. It reconciles, and its
output is the demo's own: no JVM or Python warnings, no Spark progress bars, no traceback."""

from __future__ import annotations

import json
import subprocess

import pytest

from tests.harness.cli import CLI
from tests.harness.output import assert_calm
from tests.harness.paths import ROOT
from trustpipe_stack.launcher import kill_tree
from trustpipe_stack.stack import LocalStack


# The demo's stack start, model build and KCL start share two cores with the other test workers:
# on a loaded run the whole took 530 s, near the suite's per-test 600 s.
@pytest.mark.timeout(900)
def test_the_demo_reconciles_and_prints_only_what_it_means_to(local_stack: LocalStack) -> None:
    # GIVEN the local stack up; WHEN a person runs the demo (a small hour, a short stream run)
    state = local_stack.state_dir
    args = ("demo", "--scale", "0.2", "--stream-seconds", "10", "--state-dir", str(state))
    demo = subprocess.Popen(
        [*CLI, *args], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        output, _ = demo.communicate(timeout=720)
    finally:
        # a demo cut short leaves no worker behind (they run in sessions of their own)
        kill_tree(demo.pid)
        demo.wait()
    # THEN it ends green, every stage reconciled on both paths
    assert demo.returncode == 0, output[-6000:]
    report = json.loads((state / "demo-report.json").read_text())
    assert report["reconciled"] and report["stream"]["reconciled"], report
    # and it printed nothing but its own lines: Spark's warnings went to its log file
    assert_calm(output, "trustpipe demo")
    assert (state / "spark.log").stat().st_size > 0
