"""PlatformNetwork on an existing VPC: imported from ids, with no lookup, adding only what is asked."""

from __future__ import annotations

import json
from pathlib import Path

import aws_cdk as cdk
import pytest
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


BUCKETS = ["arn:aws:s3:::platform-data", "arn:aws:s3:::platform-artifacts"]
# The deploying account and region, as CloudFormation resolves them.
THIS_ACCOUNT = {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}
HTTPS = {"FromPort": 443, "ToPort": 443, "IpProtocol": "tcp"}


def synth(tmp_path: Path, *, custom_resources: bool = True, **overrides: object) -> Template:
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Imported", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    config = ExistingVpc.model_validate_json(json.dumps({**EXISTING, **overrides}))
    PlatformNetwork(
        stack,
        "Network",
        config=config,
        key=kms.Key(stack, "Key"),
        bucket_arns=BUCKETS,
        removal_policy=cdk.RemovalPolicy.DESTROY,
        custom_resources=custom_resources,
    )
    template = Template.from_stack(stack)
    app.synth()
    assert "missing" not in json.loads((tmp_path / "manifest.json").read_text())  # no lookup needed
    return template


def test_imports_the_vpc_and_creates_no_network(tmp_path: Path) -> None:
    template = synth(tmp_path)
    for kind in ("AWS::EC2::VPC", "AWS::EC2::Subnet", "AWS::EC2::FlowLog", "AWS::EC2::VPCEndpoint"):
        template.resource_count_is(kind, 0)
    # The existing VPC's default group belongs to its owner: the platform leaves it alone.
    template.resource_count_is("Custom::VpcRestrictDefaultSG", 0)
    for description in (
        "SageMaker training, processing and tuning jobs of the platform",
        "SageMaker endpoints of the platform (no ingress)",
    ):
        template.has_resource_properties(
            "AWS::EC2::SecurityGroup",
            {
                "GroupDescription": description,
                "VpcId": EXISTING["vpc_id"],
                "SecurityGroupEgress": [
                    {**HTTPS, "CidrIp": EXISTING["cidr"], "Description": "HTTPS to the VPC's interface endpoints"}
                ],
            },
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


def test_endpoints_added_to_an_existing_vpc_carry_the_platforms_policies(tmp_path: Path) -> None:
    template = synth(tmp_path, interface_endpoints=["sagemaker_api", "sts"], s3_gateway_endpoint=True)
    gateway = template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Gateway"}})
    (statement, layers) = next(iter(gateway.values()))["Properties"]["PolicyDocument"]["Statement"]
    assert statement["Resource"] == [
        "arn:aws:s3:::platform-artifacts",
        "arn:aws:s3:::platform-artifacts/*",
        "arn:aws:s3:::platform-data",
        "arn:aws:s3:::platform-data/*",
    ]
    assert statement["Condition"] == THIS_ACCOUNT
    assert layers["Resource"] == {
        "Fn::Join": [
            "",
            ["arn:", {"Ref": "AWS::Partition"}, ":s3:::prod-", {"Ref": "AWS::Region"}, "-starport-layer-bucket/*"],
        ]
    }
    interface = template.find_resources("AWS::EC2::VPCEndpoint", {"Properties": {"VpcEndpointType": "Interface"}})
    assert len(interface) == 2
    for endpoint in interface.values():
        (statement,) = endpoint["Properties"]["PolicyDocument"]["Statement"]
        assert (statement["Action"], statement["Resource"], statement["Condition"]) == ("*", "*", THIS_ACCOUNT)


def test_workload_groups_of_an_existing_vpc_reach_s3_by_its_prefix_list_and_nowhere_else(tmp_path: Path) -> None:
    template = synth(tmp_path)
    egress = template.find_resources("AWS::EC2::SecurityGroupEgress", {"Properties": {"DestinationPrefixListId": {}}})
    assert len(egress) == 2  # the job group and the endpoint group
    for rule in egress.values():
        assert rule["Properties"]["DestinationPrefixListId"] == {
            "Fn::GetAtt": ["NetworkS3PrefixListF999259A", "PrefixLists.0.PrefixListId"]
        }
    assert "0.0.0.0/0" not in json.dumps(template.to_json())


def test_without_custom_resources_no_function_is_deployed_and_the_groups_reach_the_vpc_only(tmp_path: Path) -> None:
    template = synth(tmp_path, custom_resources=False)
    for kind in ("AWS::Lambda::Function", "Custom::AWS", "AWS::EC2::SecurityGroupEgress"):
        template.resource_count_is(kind, 1 if kind == "AWS::EC2::SecurityGroupEgress" else 0)
    # The only separate egress rule left is the job group's rule to itself.
    template.has_resource_properties("AWS::EC2::SecurityGroupEgress", {"IpProtocol": "-1"})


def test_bucket_arns_are_required(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Imported", env=cdk.Environment(account="111122223333", region="eu-west-1"))
    config = ExistingVpc.model_validate_json(json.dumps(EXISTING))
    with pytest.raises(ValueError, match="PlatformNetwork: bucket_arns must name at least one bucket"):
        PlatformNetwork(
            stack,
            "Network",
            config=config,
            key=kms.Key(stack, "Key"),
            bucket_arns=[],
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
