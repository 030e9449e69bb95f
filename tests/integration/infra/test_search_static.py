"""The search domain's module read as written (infra/modules/search): encrypted at rest and in
transit, HTTPS with TLS 1.2+, fine-grained access control with an IAM master role, reached only
from its clients' security groups, each alarm on a documented AWS/ES metric with a runbook, and
the ISM retention policy it hands to the deploy. The dev root apply reads the same back from the
domain moto created (tests/integration/infra/test_dev_root_apply.py)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.harness.paths import ROOT

MODULE = ROOT / "infra" / "modules" / "search"
PIPELINE = ROOT / "infra" / "modules" / "pipeline" / "main.tf"
RUNBOOKS = ROOT / "docs" / "runbooks"
AWS_ES_METRICS = {
    # AWS's recommended alarms for a domain (opensearch-service developer guide, "Recommended
    # CloudWatch alarms") and the request metrics it documents, namespace AWS/ES.
    "ClusterStatus.red",
    "ClusterStatus.yellow",
    "FreeStorageSpace",
    "ClusterIndexWritesBlocked",
    "JVMMemoryPressure",
    "ThreadpoolWriteRejected",
    "5xx",
}


def _hcl(path: Path) -> dict[str, Any]:
    import hcl2

    with path.open() as f:
        return hcl2.load(f)  # type: ignore[no-any-return]


def _resources(path: Path) -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in _hcl(path).get("resource", []):
        for kind, named in block.items():
            for name, body in named.items():
                found[f"{kind.strip(chr(34))}.{name.strip(chr(34))}"] = body
    return found


def _one(block: list[dict[str, Any]]) -> dict[str, Any]:
    (only,) = block
    return only


def _domain() -> dict[str, Any]:
    return _resources(MODULE / "main.tf")["aws_opensearch_domain.this"]


def test_the_domain_is_encrypted_at_rest_with_the_pipelines_key_and_between_nodes() -> None:
    domain = _domain()
    at_rest = _one(domain["encrypt_at_rest"])
    assert at_rest["enabled"] is True and at_rest["kms_key_id"] == "${var.kms_key_arn}"
    assert _one(domain["node_to_node_encryption"])["enabled"] is True
    # and the pipeline gives it the keys module's key
    args = next(b['"search"'] for b in _hcl(PIPELINE)["module"] if '"search"' in b)
    assert args["kms_key_arn"] == "${module.keys.key_arn}"


def test_the_domain_takes_https_only_with_tls_1_2_or_later() -> None:
    endpoint = _one(_domain()["domain_endpoint_options"])
    assert endpoint["enforce_https"] is True
    assert re.fullmatch(r'"Policy-Min-TLS-1-2-.*"', endpoint["tls_security_policy"])


def test_fine_grained_access_control_has_an_iam_master_role_and_no_internal_users() -> None:
    security = _one(_domain()["advanced_security_options"])
    assert security["enabled"] is True
    assert security["internal_user_database_enabled"] is False
    assert security["anonymous_auth_enabled"] is False
    assert _one(security["master_user_options"])["master_user_arn"] == "${aws_iam_role.admin.arn}"


def test_the_domain_lives_in_the_private_subnets_on_gp3() -> None:
    domain = _domain()
    vpc = _one(domain["vpc_options"])
    assert vpc["security_group_ids"] == ["${aws_security_group.this.id}"]
    ebs = _one(domain["ebs_options"])
    assert ebs["ebs_enabled"] is True and ebs["volume_type"] == '"gp3"'
    args = next(b['"search"'] for b in _hcl(PIPELINE)["module"] if '"search"' in b)
    assert args["subnet_ids"] == "${module.network.private_subnet_ids}"


def test_only_the_indexer_and_the_airflow_host_reach_the_domain_on_443() -> None:
    resources = _resources(MODULE / "main.tf")
    group = resources["aws_security_group.this"]
    # GIVEN a security group with no inline rule (every rule below is the whole list)
    assert "ingress" not in group and "egress" not in group
    rules = [
        body for name, body in resources.items() if name.startswith("aws_vpc_security_group_ingress_rule.")
    ]
    (rule,) = rules
    # THEN it admits client security groups only, on 443, never an address range
    assert rule["referenced_security_group_id"] == "${each.value}"
    assert (rule["from_port"], rule["to_port"], rule["ip_protocol"]) == (443, 443, '"tcp"')
    assert not {"cidr_ipv4", "cidr_ipv6", "prefix_list_id"} & set(rule)
    # and the clients are the workers' search clients (the indexer alone) and the Airflow host
    args = next(b['"search"'] for b in _hcl(PIPELINE)["module"] if '"search"' in b)
    clients = args["client_security_group_ids"]
    assert "module.workers.search_client_security_group_ids" in clients
    assert '"airflow" => o.security_group_id' in clients
    outputs = {k: v for b in _hcl(ROOT / "infra/modules/workers/outputs.tf")["output"] for k, v in b.items()}
    assert 'if k == "indexer"' in outputs['"search_client_security_group_ids"']["value"]


def test_the_access_policy_lets_the_writers_write_and_the_readers_only_read() -> None:
    data = {
        name.strip('"'): body
        for block in _hcl(MODULE / "main.tf")["data"]
        for kind, named in block.items()
        if kind == '"aws_iam_policy_document"'
        for name, body in named.items()
    }
    write = _one([s for s in data["access"]["statement"] if s.get("sid") == '"Write"'])
    assert write["actions"] == "${local.write_actions}"
    read = _one(data["access"]["dynamic"])['"statement"']["content"][0]
    assert read["actions"] == "${local.read_actions}"
    local = {k: v for block in _hcl(MODULE / "main.tf")["locals"] for k, v in block.items()}
    assert set(local["read_actions"]) == {'"es:ESHttpGet"', '"es:ESHttpHead"', '"es:ESHttpPost"'}
    assert set(local["write_actions"]) - set(local["read_actions"]) == {'"es:ESHttpPut"', '"es:ESHttpDelete"'}
    # and the pipeline names the indexer as the writer (its hosts' role, and its function's when
    # the stage is on Lambda), the Airflow host as a reader
    args = next(b['"search"'] for b in _hcl(PIPELINE)["module"] if '"search"' in b)
    assert args["writer_role_arns"] == (
        '${concat([module.workers.role_arns["indexer"]], '
        'contains(keys(local.lambda_stages), "indexer") ? [module.stream_lambda["indexer"].role_arn] : [])}'
    )
    assert "execution_role_arn" in args["reader_role_arns"]


def test_every_alarm_reads_a_documented_aws_es_metric_and_links_a_runbook_that_exists() -> None:
    local = {k: v for block in _hcl(MODULE / "main.tf")["locals"] for k, v in block.items()}
    alarms = local["alarms"]
    metrics = {a["metric"].strip('"') for a in alarms.values()}
    # THEN the domain's health, storage, memory and indexing errors are watched, by their AWS names
    assert metrics == AWS_ES_METRICS
    for name, alarm in alarms.items():
        assert (RUNBOOKS / f"{alarm['runbook'].strip(chr(34))}.md").is_file(), name
    resource = _resources(MODULE / "main.tf")["aws_cloudwatch_metric_alarm.this"]
    assert resource["namespace"] == '"AWS/ES"'
    assert resource["alarm_description"].endswith(
        'Runbook: ${var.runbook_base_url}/${each.value.runbook}.md"'
    )
    assert set(resource["dimensions"]) == {"DomainName", "ClientId"}
    # and they page the on-call topic
    args = next(b['"search"'] for b in _hcl(PIPELINE)["module"] if '"search"' in b)
    assert args["alarm_actions"] == ["${module.monitoring.oncall_topic_arn}"]


def test_the_ism_policy_deletes_whole_daily_indices_after_the_retention() -> None:
    # GIVEN the template rendered as Terraform's templatefile() renders it
    template = (MODULE / "ism_policy.json.tftpl").read_text()
    rendered = template.replace("${index_prefix}", "trustpipe-messages").replace("${retention_days}", "30")
    assert "${" not in rendered
    policy = json.loads(rendered)["policy"]
    # THEN every daily index gets it, and after 30 days it moves to a state that deletes it
    assert policy["ism_template"] == [{"index_patterns": ["trustpipe-messages-*"], "priority": 100}]
    states = {s["name"]: s for s in policy["states"]}
    (transition,) = states[policy["default_state"]]["transitions"]
    assert transition["conditions"] == {"min_index_age": "30d"}
    assert states[transition["state_name"]]["actions"] == [{"delete": {}}]
    # and the module hands it out as an output, with the id to PUT it under
    outputs = {k.strip('"') for b in _hcl(MODULE / "outputs.tf")["output"] for k in b}
    assert {"ism_policy", "ism_policy_id", "url", "admin_role_arn"} <= outputs


def test_the_cloud_roots_have_the_search_domain_and_the_local_root_not() -> None:
    for env, expected in (("dev", True), ("prod", True), ("local", None)):
        args = next(b['"pipeline"'] for b in _hcl(ROOT / "infra" / "envs" / env / "main.tf")["module"])
        assert args.get("enable_search") is expected, env
    variables = {
        k.strip('"'): v for b in _hcl(PIPELINE.with_name("variables.tf"))["variable"] for k, v in b.items()
    }
    assert variables["enable_search"]["default"] is False


def test_the_setup_requests_map_the_writers_and_readers_into_the_domains_own_roles() -> None:
    local = {k: v for block in _hcl(MODULE / "main.tf")["locals"] for k, v in block.items()}
    requests = {r["path"].strip('"'): r["body"] for r in local["setup_requests"]}
    # THEN the ISM policy goes first, then a role and its mapping for each kind of caller
    assert next(iter(requests)) == "_plugins/_ism/policies/${local.ism_policy_id}"
    mapping = "_plugins/_security/api/rolesmapping/trustpipe_"
    assert "var.writer_role_arns" in requests[f"{mapping}indexer"]
    assert "var.reader_role_arns" in requests[f"{mapping}reader"]
    # and a reader may read the search indices only, never write them
    reader = requests["_plugins/_security/api/roles/trustpipe_reader"]
    assert '"read"' in reader and '"crud"' not in reader and "index_template" not in reader
