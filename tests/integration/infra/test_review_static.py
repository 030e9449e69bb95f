"""The review API's module read as written (infra/modules/review): a user pool nobody signs up to
by themselves whose users carry an immutable enterprise, a secretless client that cannot
write the enterprise or the role, a JWT authorizer on every data route, throttling, a function in the
private subnets with least privilege, and alarms with runbooks. The dev root apply reads the same
back from what moto created (tests/integration/infra/test_dev_root_apply.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.harness.paths import ROOT

MODULE = ROOT / "infra" / "modules" / "review"
PIPELINE = ROOT / "infra" / "modules" / "pipeline" / "main.tf"
RUNBOOKS = ROOT / "docs" / "runbooks"


def _hcl(path: Path) -> dict[str, Any]:
    import hcl2

    with path.open() as f:
        return hcl2.load(f)  # type: ignore[no-any-return]


def _resources(path: Path = MODULE / "main.tf") -> dict[str, dict[str, Any]]:
    found: dict[str, dict[str, Any]] = {}
    for block in _hcl(path).get("resource", []):
        for kind, named in block.items():
            for name, body in named.items():
                found[f"{kind.strip(chr(34))}.{name.strip(chr(34))}"] = body
    return found


def _one(block: list[dict[str, Any]]) -> dict[str, Any]:
    (only,) = block
    return only


def _plain(value: Any) -> Any:
    """A parsed default with its strings' and keys' HCL quotes taken off."""
    if isinstance(value, str):
        return value.strip('"')
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k.strip('"'): _plain(v) for k, v in value.items()}
    return value


def _defaults() -> dict[str, Any]:
    variables = _hcl(MODULE / "variables.tf")["variable"]
    return {k.strip('"'): _plain(v.get("default")) for b in variables for k, v in b.items()}


def _policy() -> dict[str, dict[str, Any]]:
    """The function's policy statements by sid, dynamic ones included."""
    docs = {
        name.strip('"'): body
        for block in _hcl(MODULE / "main.tf")["data"]
        for kind, named in block.items()
        if kind == '"aws_iam_policy_document"'
        for name, body in named.items()
    }
    statements = list(docs["this"]["statement"])
    for dynamic in docs["this"].get("dynamic", []):
        statements += dynamic['"statement"']["content"]
    return {s["sid"].strip('"'): s for s in statements}


def test_nobody_signs_up_and_each_user_carries_an_enterprise_that_never_changes() -> None:
    pool = _resources()["aws_cognito_user_pool.this"]
    assert _one(pool["admin_create_user_config"])["allow_admin_create_user_only"] is True
    attributes = {a["name"].strip('"'): a for a in pool["schema"]}
    assert set(attributes) == {"enterprise", "role"}
    assert attributes["enterprise"]["mutable"] is False and attributes["role"]["mutable"] is True
    # (an enterprise id is at most 32 characters: trustpipe.tenants.MAX_ENTERPRISE_ID)
    from trustpipe.tenants import MAX_ENTERPRISE_ID

    assert _one(attributes["enterprise"]["string_attribute_constraints"])["max_length"] == MAX_ENTERPRISE_ID


def test_passwords_are_strong_and_totp_is_offered() -> None:
    pool = _resources()["aws_cognito_user_pool.this"]
    policy = _one(pool["password_policy"])
    assert (
        policy["minimum_length"] == "${var.password_minimum_length}"
        and _defaults()["password_minimum_length"] >= 14
    )
    assert all(policy[f"require_{c}"] is True for c in ("lowercase", "uppercase", "numbers", "symbols"))
    assert pool["mfa_configuration"] == '"OPTIONAL"'
    assert _one(pool["software_token_mfa_configuration"])["enabled"] is True


def test_the_client_has_no_secret_signs_in_by_srp_and_cannot_write_the_enterprise_or_role() -> None:
    client = _resources()["aws_cognito_user_pool_client.this"]
    assert client["generate_secret"] is False
    assert sorted(client["explicit_auth_flows"]) == [
        '"ALLOW_REFRESH_TOKEN_AUTH"',
        '"ALLOW_USER_PASSWORD_AUTH"',
        '"ALLOW_USER_SRP_AUTH"',
    ]
    assert client["write_attributes"] == ['"email"']
    assert {'"custom:enterprise"', '"custom:role"'} <= set(client["read_attributes"])
    assert client["prevent_user_existence_errors"] == '"ENABLED"'


def test_every_data_route_needs_a_token_the_pool_issued_to_the_client() -> None:
    resources = _resources()
    authorizer = resources["aws_apigatewayv2_authorizer.this"]
    assert authorizer["authorizer_type"] == '"JWT"'
    assert authorizer["identity_sources"] == ['"$request.header.Authorization"']
    jwt = _one(authorizer["jwt_configuration"])
    assert jwt["issuer"] == '"https://${aws_cognito_user_pool.this.endpoint}"'
    assert jwt["audience"] == ["${aws_cognito_user_pool_client.this.id}"]
    routes = {name: body for name, body in resources.items() if name.startswith("aws_apigatewayv2_route.")}
    assert set(routes) == {"aws_apigatewayv2_route.this", "aws_apigatewayv2_route.page"}
    route = routes["aws_apigatewayv2_route.this"]  # for_each over var.routes: every data route
    assert route["authorization_type"] == '"JWT"'
    assert route["authorizer_id"] == "${aws_apigatewayv2_authorizer.this.id}"
    assert set(_defaults()["routes"]) == {"GET /{proxy+}", "POST /{proxy+}"}
    # and the page's own files, fetched before sign-in, are fixed paths: none reaches the data
    assert routes["aws_apigatewayv2_route.page"]["authorization_type"] == '"NONE"'
    assert set(_defaults()["page_routes"]) == {"GET /", "GET /page.js", "GET /config.json"}


def test_the_stage_throttles_every_route_and_the_deciding_ones_tighter_and_logs_each_request() -> None:
    stage = _resources()["aws_apigatewayv2_stage.this"]
    default = _one(stage["default_route_settings"])
    assert default["throttling_rate_limit"] == "${var.throttle_rate_limit}"
    assert default["throttling_burst_limit"] == "${var.throttle_burst_limit}"
    assert _one(stage["dynamic"])['"route_settings"']["for_each"] == "${var.route_throttles}"
    limits = _defaults()
    decisions = limits["route_throttles"]["POST /{proxy+}"]
    assert decisions["rate_limit"] < limits["throttle_rate_limit"]
    assert decisions["burst_limit"] < limits["throttle_burst_limit"]
    assert _one(stage["access_log_settings"])["destination_arn"] == "${aws_cloudwatch_log_group.access.arn}"
    # and both log groups are encrypted with the pipeline's key
    for group in ("function", "access"):
        assert _resources()[f"aws_cloudwatch_log_group.{group}"]["kms_key_id"] == "${var.kms_key_arn}"


def test_the_function_runs_in_the_private_subnets_and_reaches_only_what_it_uses() -> None:
    resources = _resources()
    function = resources["aws_lambda_function.this"]
    vpc = _one(function["vpc_config"])
    assert vpc["subnet_ids"] == "${var.subnet_ids}"
    assert vpc["security_group_ids"] == ["${aws_security_group.this.id}"]
    group = resources["aws_security_group.this"]
    assert "ingress" not in group
    assert not [n for n in resources if n.startswith("aws_vpc_security_group_")]
    # THEN its one way in is none, and its ways out HTTPS inside the VPC and to S3, and PostgreSQL
    # to the database's group, never an address range
    https, s3 = group["egress"]
    assert (https["from_port"], https["to_port"], https["cidr_blocks"]) == (443, 443, ["${var.vpc_cidr}"])
    assert (s3["from_port"], s3["to_port"], s3["prefix_list_ids"]) == (
        443,
        443,
        "${var.gateway_prefix_list_ids}",
    )
    database = _one(group["dynamic"])['"egress"']["content"][0]
    assert (database["from_port"], database["to_port"]) == (5432, 5432)
    assert (
        database["security_groups"] == "${var.database_security_group_ids}" and "cidr_blocks" not in database
    )
    # and the pipeline puts it in the private subnets, and admits it to PostgreSQL and the domain
    call = next(b['"review"'] for b in _hcl(PIPELINE)["module"] if '"review"' in b)
    assert call["subnet_ids"] == "${module.network.private_subnet_ids}"
    rule = _resources(PIPELINE)["aws_vpc_security_group_ingress_rule.database_from_review"]
    assert rule["referenced_security_group_id"] == "${module.review[0].security_group_id}"
    assert (rule["from_port"], rule["to_port"]) == (5432, 5432)
    search = next(b['"search"'] for b in _hcl(PIPELINE)["module"] if '"search"' in b)
    assert "review = module.review[0].security_group_id" in search["client_security_group_ids"]
    assert search["reviewer_role_arns"] == "${var.enable_review ? [module.review[0].role_arn] : []}"


def test_the_functions_policy_grants_each_decision_its_one_action_and_no_secret() -> None:
    statements = _policy()
    actions = {sid: s["actions"] for sid, s in statements.items()}
    # THEN a release is a send on the action queues, a label a put under the review prefix only
    assert actions["ReleaseActions"] == ['"sqs:SendMessage"']
    assert statements["ReleaseActions"]["resources"] == "${var.action_queue_arns}"
    assert actions["ReviewLabels"] == ['"s3:PutObject"']
    assert statements["ReviewLabels"]["resources"] == ['"${var.archive_bucket_arn}/${local.labels_prefix}/*"']
    # and the search domain is searched and its documents updated (POST), never PUT or DELETE
    assert set(actions["Search"]) == {'"es:ESHttpGet"', '"es:ESHttpHead"', '"es:ESHttpPost"'}
    assert actions["SearchUrl"] == ['"ssm:GetParameter"']
    # and the database is its own role's IAM login, never the master secret
    assert actions["Database"] == ['"rds-db:connect"']
    assert "${var.database_user}" in statements["Database"]["resources"][0]
    assert _defaults()["database_user"] == "trustpipe_review"
    assert "secretsmanager" not in json.dumps(statements)
    assert set(statements) == {
        "ReleaseActions",
        "ReviewLabels",
        "Settings",
        "PipelineKey",
        "FunctionLogs",
        "Search",
        "SearchUrl",
        "Database",
    }


def test_every_alarm_reads_an_aws_metric_of_the_api_or_function_and_links_a_runbook_that_exists() -> None:
    alarms = next(loc["alarms"] for loc in _hcl(MODULE / "main.tf")["locals"] if "alarms" in loc)
    metrics = {(a["namespace"].strip('"'), a["metric"].strip('"')) for a in alarms.values()}
    assert metrics == {
        ("AWS/ApiGateway", "5xx"),
        ("AWS/ApiGateway", "4xx"),
        ("AWS/ApiGateway", "Latency"),
        ("AWS/Lambda", "Errors"),
        ("AWS/Lambda", "Throttles"),
    }
    latency = next(a for a in alarms.values() if a["metric"] == '"Latency"')
    assert latency["percentile"] == '"p99"' and latency["statistic"] is None
    for name, alarm in alarms.items():
        assert (RUNBOOKS / f"{alarm['runbook'].strip(chr(34))}.md").is_file(), name
    # (and trustpipe cost estimate counts as many)
    from trustpipe_planning import cost

    assert len(alarms) == cost.REVIEW_ALARMS
    resource = _resources()["aws_cloudwatch_metric_alarm.this"]
    assert resource["alarm_description"].endswith(
        'Runbook: ${var.runbook_base_url}/${each.value.runbook}.md"'
    )
    assert resource["extended_statistic"] == "${each.value.percentile}"
    call = next(b['"review"'] for b in _hcl(PIPELINE)["module"] if '"review"' in b)
    assert call["alarm_actions"] == ["${module.monitoring.oncall_topic_arn}"]


def test_the_cloud_roots_switch_the_review_api_on_and_the_local_root_has_none() -> None:
    for env in ("dev", "prod"):
        args = next(b['"pipeline"'] for b in _hcl(ROOT / "infra" / "envs" / env / "main.tf")["module"])
        assert args["enable_review"] == "${var.enable_review}", env
        roots = {
            k.strip('"'): v
            for b in _hcl(ROOT / "infra" / "envs" / env / "variables.tf")["variable"]
            for k, v in b.items()
        }
        assert roots["enable_review"]["default"] is True, env
        outputs = {
            k.strip('"') for b in _hcl(ROOT / "infra" / "envs" / env / "outputs.tf")["output"] for k in b
        }
        assert "review" in outputs, env
    local = next(b['"pipeline"'] for b in _hcl(ROOT / "infra" / "envs" / "local" / "main.tf")["module"])
    assert "enable_review" not in local
    variables = {
        k.strip('"'): v for b in _hcl(PIPELINE.with_name("variables.tf"))["variable"] for k, v in b.items()
    }
    assert variables["enable_review"]["default"] is False
    outputs = {k.strip('"'): v for b in _hcl(MODULE / "outputs.tf")["output"] for k, v in b.items()}
    assert {"api_url", "user_pool_id", "client_id"} <= set(outputs)


def test_inside_the_search_domain_the_review_role_reads_and_updates_but_never_creates_or_deletes() -> None:
    search = ROOT / "infra" / "modules" / "search" / "main.tf"
    local = {k: v for block in _hcl(search)["locals"] for k, v in block.items()}
    requests = {r["path"].strip('"'): r["body"] for r in local["setup_requests"]}
    # THEN the review function's role is mapped to a role of its own
    assert "var.reviewer_role_arns" in requests["_plugins/_security/api/rolesmapping/trustpipe_reviewer"]
    role = requests["_plugins/_security/api/roles/trustpipe_reviewer"]
    assert '"read"' in role and '"indices:data/write/update"' in role
    assert '"crud"' not in role and "create_index" not in role and "delete" not in role
    # and the domain's access policy lets it send only the readers' requests (GET, HEAD, POST)
    docs = {
        name.strip('"'): body
        for block in _hcl(search)["data"]
        for kind, named in block.items()
        if kind == '"aws_iam_policy_document"'
        for name, body in named.items()
    }
    read = _one(docs["access"]["dynamic"])['"statement"']["content"][0]
    assert "var.reviewer_role_arns" in _one(read["principals"])["identifiers"]
    write = _one([s for s in docs["access"]["statement"] if s.get("sid") == '"Write"'])
    assert "reviewer" not in json.dumps(write)
