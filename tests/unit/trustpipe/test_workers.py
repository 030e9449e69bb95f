"""The stream workers' table (trustpipe.workers) against what cannot import it: the Ansible
role's units and defaults; and against what names the workers apart: the metrics catalogue and the
`trustpipe` commands."""

from __future__ import annotations

import re

import typer.main
import yaml

from tests.harness.paths import ROOT
from trustpipe import metrics
from trustpipe.workers import STREAM_WORKERS, Worker
from trustpipe_cli.main import shipped_app

ROLE = ROOT / "ansible" / "roles" / "trustpipe_worker"


def unit_command(worker: Worker) -> str:
    """The `trustpipe` arguments the worker's unit runs, as the role writes them."""
    if worker.unit.endswith("@"):  # a unit per slot, from its own template
        template = (ROLE / "templates" / f"{worker.unit}.service.j2").read_text()
        found = re.search(r"^ExecStart=.*?/bin/trustpipe (.*)$", template, re.M)
        assert found, f"{worker.unit}.service.j2 starts no trustpipe command"
        return found[1]
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    services = {f"trustpipe-{s['name']}": s["command"] for s in defaults["trustpipe_worker_services"]}
    assert worker.unit in services, f"the role's defaults start no {worker.unit}"
    return str(services[worker.unit])


def test_each_stream_worker_has_a_unit_that_runs_its_command() -> None:
    for worker in STREAM_WORKERS:
        args = unit_command(worker).split()
        assert tuple(args[: len(worker.command)]) == worker.command, (worker.name, args)
        rest = args[len(worker.command) :]
        assert "--source" not in rest, f"{worker.unit} names its source twice: {args}"


def test_the_metrics_catalogue_names_every_worker_service() -> None:
    assert set(metrics.WORKER_SERVICES) == {w.service for w in STREAM_WORKERS}


def test_every_worker_command_is_a_shipped_command() -> None:
    commands = typer.main.get_command(shipped_app()).commands  # type: ignore[attr-defined]
    for worker in STREAM_WORKERS:
        group, verb = worker.command[:2]
        assert group in commands, group
        assert verb in commands[group].commands, worker.command


def test_names_groups_and_processors_are_one_each() -> None:
    for field in ("name", "unit", "processor", "stream"):
        values = [getattr(w, field) for w in STREAM_WORKERS]
        assert len(set(values)) == len(values), field


def test_the_indexer_is_described_like_the_stream_workers_beside_them() -> None:
    # GIVEN the search workers' table (its own: its host's unit comes with the search store's AWS side)
    import importlib.util

    from trustpipe.workers import SEARCH_WORKERS

    commands = typer.main.get_command(shipped_app()).commands  # type: ignore[attr-defined]
    for worker in SEARCH_WORKERS:
        # THEN its command is shipped, its processor a module, its metrics the catalogue's service
        group, verb = worker.command[:2]
        assert verb in commands[group].commands, worker.command
        assert importlib.util.find_spec(worker.processor) is not None, worker.processor
        assert worker.service == metrics.SEARCH_SERVICE
        # and it is a consumer group of its own on its stream, apart from the path's
        assert worker.group not in {w.group for w in STREAM_WORKERS}
        assert worker.name not in {w.name for w in STREAM_WORKERS}
