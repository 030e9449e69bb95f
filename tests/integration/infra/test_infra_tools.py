"""The infrastructure's static checks: checkov, IAM least privilege, the Ansible role (applied
for real, twice) and the Packer template."""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import hcl2
import pytest
from hcl2.utils import SerializationOptions

from tests.harness.paths import ROOT

INFRA = ROOT / "infra"
CHECKOV = ROOT / "tools" / "checkov" / ".venv" / "bin" / "checkov"
ANSIBLE_BIN = ROOT / "tools" / "ansible" / ".venv" / "bin"
ANSIBLE = ROOT / "ansible"


def run(*args: str | Path, cwd: Path = ROOT, timeout: int = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(a) for a in args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
        env={
            **os.environ,
            "PATH": f"{ANSIBLE_BIN}:{os.environ['PATH']}",
            "NO_COLOR": "1",
            "ANSIBLE_NOCOLOR": "1",
        },
    )


# -- checkov ---------------------------------------------------------------------------------


def test_checkov_passes_with_every_skip_justified() -> None:
    # GIVEN every module and root, scanned without downloading anything
    result = run(CHECKOV, "-d", INFRA, "--framework", "terraform", "--skip-download", "--quiet", "-o", "json")
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    # THEN nothing failed
    failed = [
        f"{f['check_id']} {f['resource']} ({f['file_path']})"
        for r in reports
        for f in r["results"]["failed_checks"]
    ]
    assert failed == []
    assert sum(r["summary"]["passed"] for r in reports) > 500
    # and each skip says why, next to its resource
    for path in INFRA.rglob("*.tf"):
        for line in path.read_text().splitlines():
            if "checkov:skip=" in line:
                reason = line.split("checkov:skip=", 1)[1].partition(":")[2].strip()
                assert len(reason) > 30, f"{path}: unjustified skip: {line.strip()}"


# -- IAM: no "*" without a reason ------------------------------------------------------------


def _load(path: Path) -> dict[str, Any]:
    with path.open() as fh:
        return hcl2.load(fh, serialization_options=SerializationOptions(with_comments=True))  # type: ignore[no-any-return]


def _unquote(value: str) -> str:
    return value.strip('"')


def policy_statements() -> Iterator[tuple[str, dict[str, Any]]]:
    """(where, statement) of every aws_iam_policy_document in the modules, dynamic ones included."""
    for path in sorted((INFRA / "modules").rglob("*.tf")):
        for data in _load(path).get("data", []):
            for doc_name, doc in data.get('"aws_iam_policy_document"', {}).items():
                where = f"{path.relative_to(ROOT)}:{_unquote(doc_name)}"
                for statement in doc.get("statement", []):
                    yield where, statement
                for dynamic in doc.get("dynamic", []):
                    for block in dynamic.get('"statement"', {}).get("content", []):
                        yield where, block


def _listed(value: list[str] | str) -> list[str]:
    """A list attribute, or one expression (``flatten(...)``, ``local.x``) that computes it."""
    return [value] if isinstance(value, str) else value


def _stars(statement: dict[str, Any]) -> list[str]:
    """The wildcards an Allow statement grants (a Deny with wildcards only restricts)."""
    if _unquote(statement.get("effect", "Allow")) == "Deny":
        return []
    actions = [_unquote(a) for a in _listed(statement.get("actions", []))]
    resources = [_unquote(r) for r in _listed(statement.get("resources", []))]
    return [a for a in actions if a == "*" or a.endswith(":*")] + [r for r in resources if r == "*"]


def test_iam_policies_grant_no_star_without_a_comment_saying_why() -> None:
    statements = list(policy_statements())
    assert len(statements) > 30  # every service's policy was read
    unjustified = [
        f"{where} {statement.get('sid', '')}: {_stars(statement)}"
        for where, statement in statements
        if _stars(statement) and not statement.get("__comments__")
    ]
    assert unjustified == []


def test_the_iam_check_catches_an_unjustified_star(tmp_path: Path) -> None:
    # GIVEN a policy that grants every action on every resource, without a word
    bad = tmp_path / "bad.tf"
    bad.write_text(
        'data "aws_iam_policy_document" "x" {\n  statement {\n'
        '    actions = ["s3:*"]\n    resources = ["*"]\n  }\n}\n'
    )
    (statement,) = _load(bad)["data"][0]['"aws_iam_policy_document"']['"x"']["statement"]
    # THEN the check sees both stars and no justification
    assert _stars(statement) == ["s3:*", "*"] and not statement.get("__comments__")


def test_buckets_deny_plain_http_everywhere_but_the_moto_server() -> None:
    lake = _load(INFRA / "modules/data_lake/main.tf")
    (bucket_doc,) = [
        d['"aws_iam_policy_document"']['"bucket"'] for d in lake["data"] if '"aws_iam_policy_document"' in d
    ]
    (deny,) = bucket_doc["statement"]
    assert _unquote(deny["effect"]) == "Deny"
    assert deny["condition"][0]["variable"] == '"aws:SecureTransport"' and deny["condition"][0]["values"] == [
        '"false"'
    ]
    # only the local root (plain-HTTP moto) turns it off; the composition defaults it on and the
    # cloud roots leave that default alone
    assert re.search(r"enforce_tls\s*=\s*false", (INFRA / "envs/local/main.tf").read_text())
    pipeline = _load(INFRA / "modules/pipeline/variables.tf")
    (enforce,) = [v['"enforce_tls"'] for v in pipeline["variable"] if '"enforce_tls"' in v]
    assert enforce["default"] is True
    for env in ("dev", "prod"):
        assert "enforce_tls" not in (INFRA / "envs" / env / "main.tf").read_text()


def test_each_worker_service_has_its_own_policy_and_no_other_services_queue() -> None:
    workers = _load(INFRA / "modules" / "workers" / "main.tf")
    docs = {
        _unquote(k): v for d in workers["data"] for k, v in d.get('"aws_iam_policy_document"', {}).items()
    }
    text = {name: json.dumps(doc) for name, doc in docs.items()}
    assert {"scorer", "importer", "alerter"} <= set(docs)
    assert "sqs:ReceiveMessage" in text["importer"]
    assert "sqs:" not in text["scorer"] and "sqs:ReceiveMessage" not in text["alerter"]
    assert "var.action_queue_arns" in text["alerter"] and "action_queue" not in text["importer"]
    assert "sns:Publish" in text["alerter"] and "sns:" not in text["scorer"] + text["importer"]
    # each service puts only on the stream after it: scorer -> scored, importer -> imported
    assert "var.scored_stream_arn" in text["scorer"] and "var.imported_stream_arn" not in text["scorer"]
    assert "var.imported_stream_arn" in text["importer"] and "var.scored_stream_arn" not in text["importer"]
    assert "kinesis:PutRecords" not in text["alerter"]
    assert "secretsmanager:GetSecretValue" in text["importer"] and "secretsmanager" not in text["scorer"]


# -- Ansible ---------------------------------------------------------------------------------


def test_playbook_syntax_and_ansible_lint_production_profile() -> None:
    syntax = run(
        ANSIBLE_BIN / "ansible-playbook", "--syntax-check", "-i", "localhost,", "worker.yml", cwd=ANSIBLE
    )
    assert syntax.returncode == 0, syntax.stdout + syntax.stderr
    lint = run(ANSIBLE_BIN / "ansible-lint", "--profile", "production", "--nocolor", ".", cwd=ANSIBLE)
    assert lint.returncode == 0, lint.stdout + lint.stderr


@pytest.fixture(scope="module")
def wheelhouse(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheels")
    build = run(ROOT / ".venv" / "bin" / "uv", "build", "--wheel", "--out-dir", out, "--quiet")
    assert build.returncode == 0, build.stderr
    return out


def _apply_role(prefix: Path, wheels: Path, vars_file: Path) -> str:
    vars_file.write_text(
        json.dumps(
            {
                "trustpipe_worker_prefix": str(prefix),
                "trustpipe_worker_manage_system": False,
                # the test installs the project's wheel alone; the image also installs the locked set
                "trustpipe_worker_requirements": "",
                "trustpipe_worker_airflow_requirements": "",
                "trustpipe_worker_wheelhouse": str(wheels),
                "trustpipe_worker_python": "python3",
                "ansible_become": False,
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
            }
        )
    )
    result = run(
        ANSIBLE_BIN / "ansible-playbook",
        "-c",
        "local",
        "-i",
        "localhost,",
        "worker.yml",
        "-e",
        f"@{vars_file}",
        cwd=ANSIBLE,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def _recap(output: str) -> dict[str, int]:
    line = next(ln for ln in output.splitlines() if ln.startswith("localhost") and "ok=" in ln)
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", line)}


def test_role_applies_into_a_prefix_then_changes_nothing(tmp_path: Path, wheelhouse: Path) -> None:
    prefix = tmp_path / "root"
    # WHEN the role is applied to a plain directory (no systemd), twice
    first = _recap(_apply_role(prefix, wheelhouse, tmp_path / "vars.json"))
    second = _recap(_apply_role(prefix, wheelhouse, tmp_path / "vars.json"))
    # THEN the first run installed things and the second changed nothing
    assert first["changed"] > 0 and first["failed"] == 0
    assert second["changed"] == 0 and second["failed"] == 0
    # and the services are installed: the CLI in its venv, the units with their drain timeouts
    assert (prefix / "opt/trustpipe/bin/trustpipe").exists()
    units = prefix / "etc/systemd/system"
    assert sorted(p.name for p in units.iterdir()) == [
        "trustpipe-airflow-db.service",
        "trustpipe-airflow.target",
        "trustpipe-airflow@.service",
        "trustpipe-alerter.service",
        "trustpipe-db-upgrade.service",
        "trustpipe-importer.service",
        "trustpipe-indexer-queue.service",
        "trustpipe-indexer.service",
        "trustpipe-scorer@.service",
        "trustpipe-stream-importer.service",
    ]
    scorer = (units / "trustpipe-scorer@.service").read_text()
    assert "--slot %i" in scorer and "TimeoutStopSec=540" in scorer and "KillSignal=SIGTERM" in scorer
    importer = (units / "trustpipe-importer.service").read_text()
    assert (
        "trustpipe importer run --work-dir /var/log/trustpipe --settings /etc/trustpipe/settings.json"
        in importer
    )
    # the importers start after the one-shot migrations; nothing writes the password anywhere
    migrations = "Requires=trustpipe-db-upgrade.service\nAfter=trustpipe-db-upgrade.service"
    assert migrations in importer
    assert migrations in (units / "trustpipe-stream-importer.service").read_text()
    assert "trustpipe-db-upgrade" not in (units / "trustpipe-alerter.service").read_text()
    # and the indexer's host runs both paths into the search domain, with no database to wait for
    indexer_queue = (units / "trustpipe-indexer-queue.service").read_text()
    assert "trustpipe indexer run --source queue --work-dir /var/log/trustpipe --settings" in indexer_queue
    assert "trustpipe indexer run --slot 1 --work-dir" in (units / "trustpipe-indexer.service").read_text()
    assert "trustpipe-db-upgrade" not in indexer_queue
    upgrade = (units / "trustpipe-db-upgrade.service").read_text()
    assert "Type=oneshot" in upgrade and "RemainAfterExit=yes" in upgrade
    # every Airflow component after Airflow's own database, which follows the pipeline's
    airflow_db = (units / "trustpipe-airflow-db.service").read_text()
    assert "Requires=trustpipe-db-upgrade.service" in airflow_db and "Type=oneshot" in airflow_db
    assert "trustpipe db create airflow --owner trustpipe_airflow" in airflow_db
    # and every Airflow process gives its metadata engine an IAM token per connection
    local_settings = prefix / "var/lib/trustpipe/airflow/config/airflow_local_settings.py"
    assert "metadata.install_from_environment()" in local_settings.read_text()
    # then the UI's admin user held to the host secret, whose ARN the environment file names
    *_, migrate, admin = re.findall(r"^ExecStart=(.+)$", airflow_db, re.M)
    assert migrate.endswith("/bin/airflow db migrate")
    assert admin == (
        f"{prefix}/opt/trustpipe-airflow/bin/trustpipe airflow-host admin "
        "--settings /etc/trustpipe/settings.json --secret ${TRUSTPIPE_AIRFLOW_SECRET}"
    )
    component = (units / "trustpipe-airflow@.service").read_text()
    assert "Requires=trustpipe-airflow-db.service" in component
    assert "EnvironmentFile=/etc/trustpipe/airflow.env" in component
    for unit in units.iterdir():
        assert "secretsmanager" not in unit.read_text() and "PASSWORD" not in unit.read_text(), unit.name
    # and each unit starts a command the CLI knows, with options it takes (--help exits 0; the
    # role's venv here holds the wheel without its dependencies, so the project's CLI runs it)
    for unit in sorted(units.glob("trustpipe-*.service")):
        if "airflow" in unit.name:
            continue
        (exec_start,) = re.findall(r"^ExecStart=(.+)$", unit.read_text(), re.M)
        argv = shlex.split(exec_start.replace("%i", "1"))
        assert argv[0] == str(prefix / "opt/trustpipe/bin/trustpipe"), argv
        argv[0] = str(ROOT / ".venv" / "bin" / "trustpipe")
        done = subprocess.run([*argv, "--help"], capture_output=True, text=True, check=False, timeout=60)
        assert done.returncode == 0, (unit.name, done.stderr[-2000:])
    agent = json.loads(
        (prefix / "opt/aws/amazon-cloudwatch-agent/etc/amazon-cloudwatch-agent.json").read_text()
    )
    assert agent["logs"]["metrics_collected"] == {"emf": {}}
    assert (
        agent["logs"]["logs_collected"]["files"]["collect_list"][0]["file_path"] == "/var/log/trustpipe/*.log"
    )


def test_drain_timeout_fits_inside_the_lifecycle_hook() -> None:
    defaults = (ANSIBLE / "roles/trustpipe_worker/defaults/main.yml").read_text()
    stop = int(re.search(r"trustpipe_worker_stop_timeout: (\d+)", defaults).group(1))  # type: ignore[union-attr]
    workers = _load(INFRA / "modules/workers/variables.tf")
    drain = next(v['"drain_seconds"'] for v in workers["variable"] if '"drain_seconds"' in v)
    assert stop < int(drain["default"])


# -- Packer ----------------------------------------------------------------------------------


def test_packer_template_builds_from_a_blank_instance_with_the_playbook() -> None:
    template = _load(ROOT / "packer" / "worker.pkr.hcl")
    (source,) = template["source"]
    ebs = source['"amazon-ebs"']['"worker"']
    assert ebs["metadata_options"][0]["http_tokens"] == '"required"'
    assert ebs["encrypt_boot"] is True
    assert ebs["source_ami_filter"][0]["owners"] == ['"amazon"']
    (build,) = template["build"]
    ansible = next(p['"ansible"'] for p in build["provisioner"] if '"ansible"' in p)
    playbook = (ROOT / "packer" / _unquote(ansible["playbook_file"])).resolve()
    assert playbook == (ANSIBLE / "worker.yml").resolve() and playbook.exists()
    plugins = template["packer"][0]["required_plugins"][0]
    assert {"amazon", "ansible"} <= set(plugins)


def test_the_image_installs_java_for_the_kcl_daemon() -> None:
    # Java 17 from the distribution, before Ansible runs (the KCL's jars come with the locked
    # kclpy-ext wheel: test_image_requirements holds the workers' requirements to it)
    (build,) = _load(ROOT / "packer" / "worker.pkr.hcl")["build"]
    shell = " ".join(
        line for p in build["provisioner"] if '"shell"' in p for line in p['"shell"'].get("inline", [])
    )
    assert "dnf install" in shell and "java-17-amazon-corretto-headless" in shell
