"""The network stack: isolated subnets over the configured AZs, endpoints, flow logs, security groups."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from config.network import INTERFACE_ENDPOINTS
from tests.conftest import SynthesizedStage

HTTPS = {"FromPort": 443, "ToPort": 443, "IpProtocol": "tcp"}
NETWORK_OUTPUTS = {"VpcId", "PrivateSubnetIds", "AvailabilityZones", "WorkloadSecurityGroupId"}


def test_private_subnets_one_per_zone_and_no_way_to_the_internet(each_stage: SynthesizedStage) -> None:
    network = each_stage.config.network
    subnets = each_stage.resources("network", "AWS::EC2::Subnet")
    assert len(subnets) == network.az_count
    zones = [s["Properties"]["AvailabilityZone"] for s in subnets.values()]
    if network.availability_zones:
        assert zones == list(network.availability_zones)
    else:  # environment-agnostic: the first two AZs of the deploy region
        assert zones == [{"Fn::Select": [i, {"Fn::GetAZs": ""}]} for i in range(2)]
    for subnet in subnets.values():
        assert subnet["Properties"]["MapPublicIpOnLaunch"] is False
    types = {r["Type"] for r in each_stage.templates["network"]["Resources"].values()}
    assert not types & {"AWS::EC2::InternetGateway", "AWS::EC2::NatGateway", "AWS::EC2::Route", "AWS::EC2::EIP"}
    each_stage.template("network").has_resource_properties("AWS::EC2::VPC", {"CidrBlock": network.cidr})


def test_endpoints_let_sagemaker_work_without_internet(each_stage: SynthesizedStage) -> None:
    endpoints = each_stage.resources("network", "AWS::EC2::VPCEndpoint").values()
    gateway = [e["Properties"] for e in endpoints if e["Properties"].get("VpcEndpointType") == "Gateway"]
    interface = [e["Properties"] for e in endpoints if e["Properties"].get("VpcEndpointType") == "Interface"]
    assert len(gateway) == 1 and "s3" in json.dumps(gateway[0]["ServiceName"])
    assert len(gateway[0]["RouteTableIds"]) == each_stage.config.network.az_count
    services = sorted(json.dumps(e["ServiceName"]) for e in interface)
    expected = [
        ".sagemaker.api",
        ".sagemaker.runtime",
        "notebook",
        ".ecr.api",
        ".ecr.dkr",
        ".logs",
        ".monitoring",
        ".sts",
        ".kms",
    ]
    assert len(services) == len(INTERFACE_ENDPOINTS) == len(expected)
    for fragment in expected:
        assert sum(fragment in s for s in services) == 1, fragment
    for props in interface:
        assert props["PrivateDnsEnabled"] is True
        assert len(props["SubnetIds"]) == each_stage.config.network.az_count
        assert props["SecurityGroupIds"] == [{"Fn::GetAtt": ["NetworkEndpointSecurityGroup6DEF6240", "GroupId"]}]


def test_endpoint_group_admits_https_from_the_vpc_only(each_stage: SynthesizedStage) -> None:
    each_stage.template("network").has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "HTTPS from inside the VPC to the interface endpoints",
            "SecurityGroupIngress": [
                {**HTTPS, "CidrIp": each_stage.config.network.cidr, "Description": "HTTPS from the VPC"}
            ],
            "SecurityGroupEgress": [Match.object_like({"CidrIp": "255.255.255.255/32"})],  # CDK's "no egress"
        },
    )


def test_workload_group_talks_to_itself_and_https_only(each_stage: SynthesizedStage) -> None:
    template = each_stage.template("network")
    group = {"Fn::GetAtt": ["NetworkWorkloadSecurityGroup768B39D0", "GroupId"]}
    template.has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {
            "GroupDescription": "SageMaker notebooks, jobs and endpoints of the platform",
            "SecurityGroupEgress": [{**HTTPS, "CidrIp": "0.0.0.0/0", "Description": Match.any_value()}],
        },
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupIngress", {"IpProtocol": "-1", "SourceSecurityGroupId": group, "GroupId": group}
    )
    template.has_resource_properties(
        "AWS::EC2::SecurityGroupEgress", {"IpProtocol": "-1", "DestinationSecurityGroupId": group, "GroupId": group}
    )
    template.resource_count_is("AWS::EC2::SecurityGroupIngress", 1)


def test_flow_logs_go_to_an_encrypted_log_group_through_a_managed_policy(each_stage: SynthesizedStage) -> None:
    template = each_stage.template("network")
    template.has_resource_properties(
        "AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs", "ResourceType": "VPC"}
    )
    log_groups = each_stage.resources("network", "AWS::Logs::LogGroup")
    (group,) = log_groups.values()
    assert group["Properties"]["RetentionInDays"] == each_stage.config.network.flow_log_retention_days
    # The platform key, through the data stack's published export like every other reference.
    assert group["Properties"]["KmsKeyId"] == {"Fn::ImportValue": f"smplat-{each_stage.name}-KeyArn"}
    assert group["DeletionPolicy"] == ("Delete" if each_stage.config.sandbox else "Retain")
    template.resource_count_is("AWS::IAM::Policy", 0)  # no inline policies anywhere
    template.has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "PolicyDocument": {
                "Statement": [
                    {
                        "Action": ["logs:CreateLogStream", "logs:DescribeLogStreams", "logs:PutLogEvents"],
                        "Effect": "Allow",
                        "Resource": {"Fn::GetAtt": [next(iter(log_groups)), "Arn"]},
                    }
                ],
                "Version": "2012-10-17",
            }
        },
    )
    template.has_resource_properties(
        "AWS::IAM::Role",
        {
            "AssumeRolePolicyDocument": {
                "Statement": [
                    Match.object_like(
                        {
                            "Principal": {"Service": "vpc-flow-logs.amazonaws.com"},
                            "Condition": {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
                        }
                    )
                ]
            }
        },
    )


def test_outputs_are_pinned(each_stage: SynthesizedStage) -> None:
    outputs = each_stage.templates["network"]["Outputs"]
    assert set(outputs) == NETWORK_OUTPUTS
    for output_id, output in outputs.items():
        assert output["Export"] == {"Name": f"smplat-{each_stage.name}-{output_id}"}
    assert len(each_stage.resources("network", "AWS::SSM::Parameter")) == len(NETWORK_OUTPUTS)
    assert each_stage.stage.network.termination_protection is (not each_stage.config.sandbox)
