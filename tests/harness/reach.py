"""Which AWS services each deployable calls, read from the code, and which services a subnet can
reach, read from a VPC's route tables and endpoints: the reachability check of the applied roots.

The code is read, never run: every module a deployable's entry points import (grimp's import
graph, imports inside functions included) is scanned for the clients it creates
(``<x>.client("sqs")``, ``boto3.client("s3")``), the ``AwsClients`` members it uses (``.s3``,
``.secret_string(...)``, ``.registry()``: each member's own services are read from its body; one
made with ``role_arn=`` calls STS first), the
SigV4 signing service of a hand-made request (``SigV4Auth(..., "execute-api", ...)``), and the
Amazon provider classes it imports from Airflow (the service is the provider module's name).
What no Python file of ours shows (the KCL daemon, the hosts' agents, a provider class named in
Terraform) is listed once in ``NOT_IN_THE_CODE``, each with why.
"""

from __future__ import annotations

import ast
import importlib.util
import ipaddress
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import grimp

from tests.harness.paths import ROOT
from trustpipe.workers import SEARCH_WORKERS, STREAM_WORKERS

PACKAGES = (
    "trustpipe", "trustpipe_stream", "trustpipe_scorer", "trustpipe_importer", "trustpipe_alerter",
    "trustpipe_search", "trustpipe_orchestration", "trustpipe_cli", "spark_jobs",
)  # fmt: skip
"""What the hosts in the VPC run (the Lambdas run outside it and reach AWS's public endpoints)."""

CLIENTS_MODULE = "trustpipe.aws"
CLIENTS_CLASS = "AwsClients"
AIRFLOW_PROVIDER = "airflow.providers.amazon.aws."
PROVIDER_MODULE_SERVICE = {"systems_manager": "ssm"}
"""Amazon provider modules whose name is not their boto3 service's."""
PRIVATELINK_NAME = {"kinesis": "kinesis-streams"}
"""Services whose VPC endpoint (com.amazonaws.<region>.<name>) is not named by their endpoint
prefix; every other service's endpoint is its botocore endpoint prefix (cloudwatch: monitoring)."""

SIGNED_ON_THE_HOST = {"rds": "generate_db_auth_token"}
"""Clients whose named method makes no call (an RDS IAM token is signed on the host): the service
needs no route from a deployable none of whose modules calls one of its API operations."""

KCL = {"kinesis": "records and leases", "dynamodb": "lease tables", "cloudwatch": "its own metrics"}
SSM_AGENT = {"ssm": "Session Manager", "ssmmessages": "its sessions", "ec2messages": "its commands"}
NOT_IN_THE_CODE: dict[str, dict[str, str]] = {
    # The KCL's MultiLangDaemon is Java (trustpipe_stream.daemon starts it): its clients are the
    # KCL's documented ones.
    "kcl": {s: f"the KCL daemon: {why}" for s, why in KCL.items()},
    # The AMI's agents (packer/worker.pkr.hcl, ansible/roles/trustpipe_worker).
    "ssm-agent": {s: f"the SSM agent: {why}" for s, why in SSM_AGENT.items()},
    "cloudwatch-agent": {"logs": "the CloudWatch agent ships the logs and their EMF metrics"},
    # Named in the orchestration module's Parameter Store configuration, not in Python.
    "dag-bundle": {"s3": "Airflow's S3 DAG bundle (the orchestration module's dag_bundle_config_list)"},
    # The EMR nodes themselves: spark_jobs/emr/bootstrap.sh copies the wheels with the AWS CLI;
    # the emr module's security configuration encrypts local disks with a KMS key (each node asks
    # KMS for its data key); the nodes' instance controller reports to the EMR service.
    "emr-node": {
        "s3": "the bootstrap action's `aws s3 cp`",
        "kms": "local-disk encryption with the pipeline's key (the emr module's security configuration)",
        "emr": "the nodes' instance controller",
    },
}


@dataclass(frozen=True)
class Deployable:
    """A kind of host in the VPC: the modules it runs and what it runs beside them."""

    name: str
    entry_modules: tuple[str, ...]
    beside: tuple[str, ...] = ()
    """Keys of NOT_IN_THE_CODE that run on this host too."""
    dag_files: tuple[Path, ...] = field(default=())


WORKER_HOST = ("kcl", "ssm-agent", "cloudwatch-agent")
ALSO_ON = {"importer": ("trustpipe_cli.database",)}
"""Beside its stream worker: the importer host runs the migrations' one-shot unit (`trustpipe db upgrade`)."""
DEPLOYABLES = (
    # The worker hosts (the workers module's groups, one per stream worker's consumer group, and
    # the indexer's): each its worker's package (app and KCL processor) and the CLI command that
    # starts it.
    *(
        Deployable(
            w.group,
            (w.processor.split(".")[0], "trustpipe_cli.workers", *ALSO_ON.get(w.group, ())),
            WORKER_HOST,
        )
        for w in (*STREAM_WORKERS, *SEARCH_WORKERS)
    ),
    # Airflow: its secrets backend and tasks, the DAG files, `trustpipe db url` for its metadata
    # URL, and the Spark job itself in `mode: local`.
    Deployable(
        "airflow",
        ("trustpipe_orchestration", "trustpipe_cli.database", "spark_jobs"),
        ("ssm-agent", "dag-bundle"),
        tuple(sorted((ROOT / "dags").glob("*.py"))),
    ),
    # The transient EMR cluster's nodes: the job and its bootstrap action.
    Deployable("emr", ("spark_jobs",), ("emr-node",), (ROOT / "spark_jobs/emr/score_messages.py",)),
)


@cache
def _graph() -> Any:
    return grimp.build_graph(*PACKAGES, include_external_packages=True)


def _file(module: str) -> Path:
    spec = importlib.util.find_spec(module)
    assert spec is not None and spec.origin, module
    return Path(spec.origin)


def _modules(deployable: Deployable) -> list[tuple[str, Path]]:
    """Every module of ours the deployable's entry points import, with its file."""
    graph = _graph()
    names: set[str] = set()
    for entry in deployable.entry_modules:
        family = {m for m in graph.modules if m == entry or m.startswith(f"{entry}.")}
        names |= family
        for module in family:
            names |= graph.find_upstream_modules(module)
    for path in deployable.dag_files:
        for imported in _imports(ast.parse(path.read_text())):
            if imported.split(".")[0] in PACKAGES:
                names.add(imported)
                names |= graph.find_upstream_modules(imported) if imported in graph.modules else set()
    ours = sorted(n for n in names if n.split(".")[0] in PACKAGES)
    return [(n, _file(n)) for n in ours] + [(p.stem, p) for p in deployable.dag_files]


def _imports(tree: ast.AST) -> set[str]:
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
    return out


def _literal(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _direct(tree: ast.AST, skip: Iterable[ast.AST] = ()) -> set[str]:
    """boto3 services named in ``tree``: ``.client("x")`` and ``SigV4Auth(_, "x", _)`` calls."""
    found: set[str] = set()
    skipped = {id(n) for s in skip for n in ast.walk(s)}
    for node in ast.walk(tree):
        if id(node) in skipped or not isinstance(node, ast.Call):
            continue
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name == "client":
            service = _literal(node.args[0] if node.args else None) or next(
                (_literal(k.value) for k in node.keywords if k.arg == "service_name"), None
            )
        elif name == "SigV4Auth" and len(node.args) >= 2:
            service = _literal(node.args[1])
        else:
            service = None
        if service:
            found.add(service)
    return found


def _clients_class() -> tuple[ast.ClassDef, dict[str, ast.FunctionDef]]:
    """``AwsClients`` and the functions of its module, parsed."""
    tree = ast.parse(_file(CLIENTS_MODULE).read_text())
    functions = {n.name: n for n in tree.body if isinstance(n, ast.FunctionDef)}
    (cls,) = [n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == CLIENTS_CLASS]
    return cls, functions


def _called_by(method: ast.AST, functions: dict[str, ast.FunctionDef]) -> list[ast.FunctionDef]:
    return [functions[n.id] for n in ast.walk(method) if isinstance(n, ast.Name) and n.id in functions]


@cache
def client_members() -> dict[str, frozenset[str]]:
    """Each ``AwsClients`` member and the services its body (or a function of its module that the
    body calls) names: ``s3`` -> s3, ``registry`` -> execute-api, ``secret_string`` -> secretsmanager."""
    cls, functions = _clients_class()
    members: dict[str, frozenset[str]] = {}
    for method in cls.body:
        if not isinstance(method, ast.FunctionDef) or method.name.startswith("_"):
            continue
        services = _direct(method).union(*(_direct(f) for f in _called_by(method, functions)))
        if services:
            members[method.name] = frozenset(services)
    return members


def _provider_services(tree: ast.AST) -> set[str]:
    """Services of the Amazon provider's classes imported (``...amazon.aws.operators.emr``: emr)."""
    known = set(botocore.session.get_session().get_available_services())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(AIRFLOW_PROVIDER):
            last = (node.module or "").rsplit(".", 1)[1]
            service = PROVIDER_MODULE_SERVICE.get(last, last)
            assert service in known, f"{node.module}: which AWS service? (PROVIDER_MODULE_SERVICE)"
            found.add(service)
    return found


def services_in(module: str, path: Path) -> set[str]:
    """The boto3 services one module's code calls."""
    tree = ast.parse(path.read_text())
    skip: list[ast.AST] = []
    if module == CLIENTS_MODULE:  # its members count where they are used, not where defined
        cls, functions = _clients_class()
        skip = [*(n for n in tree.body if isinstance(n, ast.ClassDef) and n.name == CLIENTS_CLASS)]
        skip += [
            n
            for n in tree.body
            if isinstance(n, ast.FunctionDef) and n.name in {f.name for f in _called_by(cls, functions)}
        ]
    found = _direct(tree, skip) | _provider_services(tree)
    if any(
        isinstance(n, ast.Call)
        and getattr(n.func, "id", getattr(n.func, "attr", None)) == CLIENTS_CLASS
        and any(k.arg == "role_arn" for k in n.keywords)
        for n in ast.walk(tree)
    ):
        found.add("sts")  # AwsClients(..., role_arn=...) assumes the role first
    members = client_members()
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in members:
            found |= members[node.attr]
    return found


@cache
def _operations(service: str) -> frozenset[str]:
    """The API operations of a boto3 service, as its client's method names."""
    client = botocore.session.get_session().create_client(service, region_name="us-east-1")
    return frozenset(client.meta.method_to_api_mapping)


def _called_methods(path: Path) -> set[str]:
    return {
        n.func.attr
        for n in ast.walk(ast.parse(path.read_text()))
        if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
    }


def calls(deployable: Deployable) -> dict[str, set[str]]:
    """VPC endpoint service name -> where in the deployable it is called from."""
    out: dict[str, set[str]] = {}
    modules = _modules(deployable)
    methods = set().union(*(_called_methods(path) for _, path in modules))
    for module, path in modules:
        for service in services_in(module, path):
            if service in SIGNED_ON_THE_HOST and not methods & _operations(service):
                continue  # only signed on the host: no call leaves it
            out.setdefault(endpoint_name(service), set()).add(module)
    for key in deployable.beside:
        for service, why in NOT_IN_THE_CODE[key].items():
            out.setdefault(endpoint_name(service), set()).add(why)
    return out


def endpoint_name(service: str) -> str:
    """The VPC endpoint service (after com.amazonaws.<region>.) that serves a boto3 service."""
    loader = botocore.session.get_session()
    if service not in loader.get_available_services():
        return service  # not a boto3 service: execute-api, ssmmessages, ec2messages
    prefix = str(loader.get_service_model(service).endpoint_prefix)
    return PRIVATELINK_NAME.get(prefix, prefix)


ANYWHERE = "0.0.0.0/0"


def reachable(ec2: Any, subnet_id: str) -> set[str] | None:
    """The services a subnet reaches through endpoints (None: a NAT or internet gateway route
    reaches every service). An interface endpoint counts when it has private DNS, a network
    interface in the subnet's zone, and a security group open to the subnet on 443."""
    (subnet,) = ec2.describe_subnets(SubnetIds=[subnet_id])["Subnets"]
    table = _route_table(ec2, subnet)
    if any(
        r.get("DestinationCidrBlock") == ANYWHERE
        and (r.get("NatGatewayId") or r.get("GatewayId", "").startswith("igw-"))
        for r in table["Routes"]
    ):
        return None
    endpoints = ec2.describe_vpc_endpoints(Filters=[{"Name": "vpc-id", "Values": [subnet["VpcId"]]}])[
        "VpcEndpoints"
    ]
    out = set()
    for e in endpoints:
        service = e["ServiceName"].split(".", 3)[3]
        gateway = e["VpcEndpointType"] == "Gateway" and table["RouteTableId"] in e.get("RouteTableIds", [])
        interface = e["VpcEndpointType"] == "Interface" and e.get("PrivateDnsEnabled")
        if gateway or (interface and _serves(ec2, e, subnet)):
            out.add(service)
    return out


def _route_table(ec2: Any, subnet: dict[str, Any]) -> dict[str, Any]:
    explicit = ec2.describe_route_tables(
        Filters=[{"Name": "association.subnet-id", "Values": [subnet["SubnetId"]]}]
    )["RouteTables"]
    if explicit:
        return dict(explicit[0])
    (main,) = ec2.describe_route_tables(
        Filters=[
            {"Name": "vpc-id", "Values": [subnet["VpcId"]]},
            {"Name": "association.main", "Values": ["true"]},
        ]
    )["RouteTables"]
    return dict(main)


def _serves(ec2: Any, endpoint: dict[str, Any], subnet: dict[str, Any]) -> bool:
    ids = endpoint.get("SubnetIds") or []
    subnets = ec2.describe_subnets(SubnetIds=ids)["Subnets"] if ids else []
    if subnet["AvailabilityZone"] not in {s["AvailabilityZone"] for s in subnets}:
        return False
    groups = [g["GroupId"] for g in endpoint.get("Groups", [])]
    rules = ec2.describe_security_groups(GroupIds=groups)["SecurityGroups"] if groups else []
    source = ipaddress.ip_network(subnet["CidrBlock"])
    return any(
        _opens_443(p)
        and any(source.subnet_of(ipaddress.ip_network(r["CidrIp"])) for r in p.get("IpRanges", []))
        for g in rules
        for p in g["IpPermissions"]
    )


def _opens_443(permission: dict[str, Any]) -> bool:
    if permission.get("IpProtocol") == "-1":
        return True
    return permission.get("IpProtocol") == "tcp" and permission.get("FromPort", 0) <= 443 <= permission.get(
        "ToPort", 0
    )


def missing(called: dict[str, set[str]], reached: Iterable[set[str] | None]) -> dict[str, set[str]]:
    """What ``called`` names that one of the subnets (``reached``, one per subnet) cannot reach."""
    out: dict[str, set[str]] = {}
    for services in reached:
        if services is None:
            continue
        for service, where in called.items():
            if service not in services:
                out.setdefault(service, set()).update(where)
    return out
