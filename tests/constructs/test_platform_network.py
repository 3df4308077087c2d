"""PlatformNetwork on an existing VPC: imported from ids, with no lookup, adding only what is asked."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk.assertions import Template

from config.network import ExistingVpc
from constructs.platform_network import PlatformNetwork
from tests.conftest import new_app

EXISTING = {
    "source": "import",
    "vpc_id": "vpc-0123456789abcdef0",
    "cidr": "10.1.0.0/16",
    "availability_zones": ["eu-west-1a", "eu-west-1b"],
    "private_subnet_ids": ["subnet-0123456789abcdef0", "subnet-0fedcba9876543210"],
    "private_route_table_ids": ["rtb-0123456789abcdef0", "rtb-0fedcba9876543210"],
}


def synth(tmp_path: Path, **overrides: object) -> Template:
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Imported", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    config = ExistingVpc.model_validate_json(json.dumps({**EXISTING, **overrides}))
    PlatformNetwork(
        stack, "Network", config=config, key=kms.Key(stack, "Key"), removal_policy=cdk.RemovalPolicy.DESTROY
    )
    template = Template.from_stack(stack)
    app.synth()
    assert "missing" not in json.loads((tmp_path / "manifest.json").read_text())  # no lookup needed
    return template


def test_imports_the_vpc_and_creates_no_network(tmp_path: Path) -> None:
    template = synth(tmp_path)
    for kind in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::FlowLog", "AWS::EC2::VPCEndpoint"):
        template.resource_count_is(kind, 0)
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": "SageMaker notebooks, jobs and endpoints of the platform", "VpcId": EXISTING["vpc_id"]},
    )


def test_adds_the_endpoints_asked_for_in_the_given_subnets(tmp_path: Path) -> None:
    template = synth(tmp_path, interface_endpoints=["sagemaker_api", "sts"], s3_gateway_endpoint=True)
    template.resource_count_is("AWS::EC2::VPCEndpoint", 3)
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint",
        {
            "VpcEndpointType": "Interface",
            "SubnetIds": EXISTING["private_subnet_ids"],
            "ServiceName": "com.amazonaws.eu-west-1.sts",
        },
    )
    template.has_resource_properties(
        "AWS::EC2::VPCEndpoint", {"VpcEndpointType": "Gateway", "RouteTableIds": EXISTING["private_route_table_ids"]}
    )
