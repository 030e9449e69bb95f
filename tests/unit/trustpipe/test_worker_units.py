"""The worker hosts' boot script (the workers module's user data) against the Ansible role: every
unit a host enables at boot is one the role installs, and the indexer's host runs both paths."""

from __future__ import annotations

import re

import yaml

from tests.harness.paths import ROOT

ROLE = ROOT / "ansible" / "roles" / "trustpipe_worker"
USER_DATA = ROOT / "infra" / "modules" / "workers" / "user_data.sh.tftpl"


def _role_units() -> dict[str, str]:
    """Each unit the role installs from its defaults, with the `trustpipe` command it runs."""
    defaults = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
    return {f"trustpipe-{s['name']}": s["command"] for s in defaults["trustpipe_worker_services"]}


def _enabled_at_boot() -> dict[str, list[str]]:
    """The units each service's case of the boot script enables."""
    script = USER_DATA.read_text()
    cases = re.findall(r"^  (\w+)\)\n(.*?);;", script, re.M | re.S)
    return {service: re.findall(r"(trustpipe-[\w-]+@?)[.$]", body) for service, body in cases}


def _worker_services() -> set[str]:
    """The services the workers module makes a group for (its locals' all_services)."""
    import hcl2

    with (ROOT / "infra" / "modules" / "workers" / "main.tf").open() as f:
        main = hcl2.load(f)
    return {k for block in main["locals"] if "all_services" in block for k in block["all_services"]}


def test_every_unit_enabled_at_boot_is_installed_by_the_role() -> None:
    installed = set(_role_units()) | {
        p.name.split(".")[0] for p in (ROLE / "templates").glob("*@.service.j2")
    }
    cases = _enabled_at_boot()
    # (a service without a case of its own enables trustpipe-<service>)
    enabled = {s: cases.get(s, [f"trustpipe-{s}"]) for s in _worker_services()}
    assert set(cases) <= set(enabled), "a case for a service the workers module does not make"
    for service, units in enabled.items():
        assert units, f"the {service} case enables no unit"
        for unit in units:
            assert unit in installed, f"{service} enables {unit}, which the role does not install"


def test_the_indexer_host_runs_the_stream_and_the_queue_indexer() -> None:
    # GIVEN the indexer's case of the boot script and the role's units
    units = _role_units()
    enabled = _enabled_at_boot()["indexer"]
    # THEN it starts one unit per path: the batch path's queue, and the scored stream (the default
    # source, as the workers table's command says) unless the indexer's Lambda form reads it
    assert enabled == ["trustpipe-indexer-queue", "trustpipe-indexer"]
    case = re.search(r"^  indexer\)\n(.*?);;", USER_DATA.read_text(), re.M | re.S)
    assert case is not None
    assert re.search(
        r"%\{ if stream_indexer ~\}\n\s+systemctl enable --now trustpipe-indexer\.service\n%\{ endif", case[1]
    )
    stream, queue = units["trustpipe-indexer"].split(), units["trustpipe-indexer-queue"].split()
    assert stream[:2] == ["indexer", "run"] and "--source" not in stream
    assert queue[:4] == ["indexer", "run", "--source", "queue"]
