"""The reachability check's two halves: the AWS services read from the code, and the services a
subnet reaches read from its VPC (moto in-process). The applied dev root puts them together
(tests/integration/infra/test_dev_root_apply.py)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.harness import reach

MODULE = """
import boto3
from airflow.providers.amazon.aws.operators.emr import EmrAddStepsOperator

def run(aws, session):
    aws.client("sqs").send_message()
    boto3.client("kinesis")
    session.client(service_name="cloudwatch")
    aws.registry().get_by_id(3)
    aws.s3.put_object()
    aws.secret_string("arn")
    aws.client(name)  # not a literal: nothing to read
    AwsClients(settings, role_arn="arn:aws:iam::1:role/r").s3
"""


def test_a_modules_clients_members_signing_and_provider_classes_are_read(tmp_path: Path) -> None:
    # GIVEN a module that calls AWS every way the code does
    path = tmp_path / "m.py"
    path.write_text(MODULE)
    # WHEN it is scanned
    found = reach.services_in("m", path)
    # THEN each service is named once, the AwsClients members by what their bodies call
    assert found == {"sqs", "kinesis", "cloudwatch", "execute-api", "s3", "secretsmanager", "emr", "sts"}


def test_the_clients_module_counts_where_its_members_are_used_not_where_defined() -> None:
    assert reach.client_members()["registry"] == {"execute-api"}
    assert reach.services_in(reach.CLIENTS_MODULE, reach._file(reach.CLIENTS_MODULE)) == set()


@pytest.mark.parametrize(
    ("client", "endpoint"),
    [
        *(("cloudwatch", "monitoring"), ("kinesis", "kinesis-streams"), ("emr", "elasticmapreduce")),
        *(("sqs", "sqs"), ("execute-api", "execute-api"), ("ssmmessages", "ssmmessages")),
    ],
)
def test_a_client_is_served_by_its_vpc_endpoint(client: str, endpoint: str) -> None:
    assert reach.endpoint_name(client) == endpoint


def test_the_workers_calls_are_read_from_their_code() -> None:
    # GIVEN the scorer host as deployed
    (scorer,) = [d for d in reach.DEPLOYABLES if d.name == "scorer"]
    # WHEN its code is read
    called = reach.calls(scorer)
    # THEN its own app's registry and stream clients are found where they are created
    assert "trustpipe_scorer.app" in called["execute-api"]
    assert "trustpipe_scorer.app" in called["kinesis-streams"]
    # and the KCL daemon's, which no Python shows, come from the one hand list
    assert any("KCL" in why for why in called["monitoring"])


def test_the_search_clients_url_lookup_is_read_on_the_indexer_and_airflow() -> None:
    # GIVEN the indexer host and the Airflow host, both clients of the search domain
    hosts = {d.name: d for d in reach.DEPLOYABLES if d.name in {"indexer", "airflow"}}
    assert set(hosts) == {"indexer", "airflow"}
    for host in hosts.values():
        # WHEN their code is read
        called = reach.calls(host)
        # THEN the search client's read of the domain's URL is found as an SSM call (the subnets'
        # interface endpoint com.amazonaws.<region>.ssm), and nothing asks the domain API (es)
        assert "trustpipe_search.engine" in called["ssm"], host.name
        assert "es" not in called and "opensearch" not in called, host.name
    assert "trustpipe_search.app" in reach.calls(hosts["indexer"])["sqs"]


def test_a_client_used_only_to_sign_on_the_host_needs_no_route(monkeypatch: pytest.MonkeyPatch) -> None:
    # GIVEN the importer host, whose RDS client only signs its IAM tokens
    (importer,) = [d for d in reach.DEPLOYABLES if d.name == "importer"]
    # THEN it needs no route to RDS's API
    assert "rds" not in reach.calls(importer)
    # WHEN its code also called one of RDS's operations
    signed_only = reach._called_methods
    monkeypatch.setattr(reach, "_called_methods", lambda path: {*signed_only(path), "describe_db_instances"})
    # THEN it would
    assert "rds" in reach.calls(importer)


@pytest.fixture
def ec2() -> Iterator[Any]:
    with mock_aws():
        yield boto3.client("ec2", region_name="us-east-1")


def _vpc(ec2: Any) -> tuple[str, str, str]:
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.0.0/20", AvailabilityZone="us-east-1a")
    table = ec2.create_route_table(VpcId=vpc)["RouteTable"]["RouteTableId"]
    ec2.associate_route_table(RouteTableId=table, SubnetId=subnet["Subnet"]["SubnetId"])
    return vpc, subnet["Subnet"]["SubnetId"], table


def test_a_subnet_reaches_its_gateway_endpoints_and_open_interface_endpoints(ec2: Any) -> None:
    # GIVEN a private subnet with an S3 gateway endpoint, and two interface endpoints: one whose
    # security group takes 443 from the VPC, one whose group takes nothing
    vpc, subnet, table = _vpc(ec2)
    ec2.create_vpc_endpoint(
        VpcId=vpc, ServiceName="com.amazonaws.us-east-1.s3", VpcEndpointType="Gateway", RouteTableIds=[table]
    )
    open_group = ec2.create_security_group(GroupName="open", Description="443", VpcId=vpc)["GroupId"]
    ec2.authorize_security_group_ingress(
        GroupId=open_group,
        IpPermissions=[
            {"IpProtocol": "tcp", "FromPort": 443, "ToPort": 443, "IpRanges": [{"CidrIp": "10.40.0.0/16"}]}
        ],
    )
    closed_group = ec2.create_security_group(GroupName="closed", Description="none", VpcId=vpc)["GroupId"]
    for service, group in (("sqs", open_group), ("sns", closed_group)):
        ec2.create_vpc_endpoint(
            VpcId=vpc,
            ServiceName=f"com.amazonaws.us-east-1.{service}",
            VpcEndpointType="Interface",
            SubnetIds=[subnet],
            SecurityGroupIds=[group],
            PrivateDnsEnabled=True,
        )
    # WHEN what it reaches is read
    reached = reach.reachable(ec2, subnet)
    # THEN it is the gateway endpoint and the open interface endpoint
    assert reached == {"s3", "sqs"}
    # and what a host there calls beyond them is missing, with where it is called from
    called = {"s3": {"a"}, "sqs": {"b"}, "sns": {"c"}, "execute-api": {"d"}}
    assert reach.missing(called, [reached]) == {"sns": {"c"}, "execute-api": {"d"}}


def test_a_nat_route_reaches_everything(ec2: Any) -> None:
    _, subnet, table = _vpc(ec2)
    allocation = ec2.allocate_address(Domain="vpc")["AllocationId"]
    nat = ec2.create_nat_gateway(SubnetId=subnet, AllocationId=allocation)["NatGateway"]["NatGatewayId"]
    ec2.create_route(RouteTableId=table, DestinationCidrBlock="0.0.0.0/0", NatGatewayId=nat)
    assert reach.reachable(ec2, subnet) is None
    assert reach.missing({"sns": {"c"}}, [None]) == {}
