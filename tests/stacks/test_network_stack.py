"""The network stack: isolated subnets over the configured AZs, endpoints, flow logs, security groups."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from config.network import INTERFACE_ENDPOINTS
from tests.conftest import SynthesizedStage

HTTPS = {"FromPort": 443, "ToPort": 443, "IpProtocol": "tcp"}
NETWORK_OUTPUTS = {
    "VpcId",
    "PrivateSubnetIds",
    "AvailabilityZones",
    "JobSecurityGroupId",
    "EndpointSecurityGroupId",
    "S3PrefixListId",
}
JOB_GROUP = {"Fn::GetAtt": ["NetworkJobSecurityGroup21D3477A", "GroupId"]}
ENDPOINT_GROUP = {"Fn::GetAtt": ["NetworkEndpointSecurityGroup6DEF6240", "GroupId"]}
S3_PREFIX_LIST = {"Fn::GetAtt": ["NetworkS3PrefixListF999259A", "PrefixLists.0.PrefixListId"]}
THIS_ACCOUNT = {"StringEquals": {"aws:PrincipalAccount": {"Ref": "AWS::AccountId"}}}


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
        assert props["SecurityGroupIds"] == [
            {"Fn::GetAtt": ["NetworkInterfaceEndpointSecurityGroup031AC855", "GroupId"]}
        ]


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


def test_s3_gateway_admits_the_platform_buckets_for_this_account_and_ecr_image_layers(
    each_stage: SynthesizedStage,
) -> None:
    (gateway,) = [
        e["Properties"]
        for e in each_stage.resources("network", "AWS::EC2::VPCEndpoint").values()
        if e["Properties"]["VpcEndpointType"] == "Gateway"
    ]
    buckets = [{"Fn::ImportValue": f"smplat-{each_stage.name}-{b}BucketArn"} for b in ("Artifacts", "Data")]
    assert gateway["PolicyDocument"] == {
        "Statement": [
            {
                "Sid": "PlatformBuckets",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": [
                    "s3:AbortMultipartUpload",
                    "s3:GetBucketLocation",
                    "s3:GetObject",
                    "s3:ListBucket",
                    "s3:ListBucketMultipartUploads",
                    "s3:ListMultipartUploadParts",
                    "s3:PutObject",
                ],
                "Resource": [*buckets, *({"Fn::Join": ["", [b, "/*"]]} for b in buckets)],
                "Condition": THIS_ACCOUNT,
            },
            {
                "Sid": "EcrImageLayers",
                "Effect": "Allow",
                "Principal": {"AWS": "*"},
                "Action": "s3:GetObject",
                "Resource": {
                    "Fn::Join": [
                        "",
                        [
                            "arn:",
                            {"Ref": "AWS::Partition"},
                            ":s3:::prod-",
                            {"Ref": "AWS::Region"},
                            "-starport-layer-bucket/*",
                        ],
                    ]
                },
            },
            *(  # the training pipelines' code bundles, in the CDK's asset bucket
                [
                    {
                        "Sid": "ReadCodeBundles",
                        "Effect": "Allow",
                        "Principal": {"AWS": "*"},
                        "Action": "s3:GetObject",
                        "Resource": {
                            "Fn::Join": [
                                "",
                                [
                                    "arn:",
                                    {"Ref": "AWS::Partition"},
                                    ":s3:::cdk-hnb659fds-assets-",
                                    {"Ref": "AWS::AccountId"},
                                    "-",
                                    {"Ref": "AWS::Region"},
                                    "/*",
                                ],
                            ]
                        },
                        "Condition": THIS_ACCOUNT,
                    }
                ]
                if each_stage.config.pipelines
                else []
            ),
        ],
        "Version": "2012-10-17",
    }


def test_s3_gateway_admits_every_s3_action_that_the_platforms_roles_hold(each_stage: SynthesizedStage) -> None:
    (gateway,) = [
        e["Properties"]
        for e in each_stage.resources("network", "AWS::EC2::VPCEndpoint").values()
        if e["Properties"]["VpcEndpointType"] == "Gateway"
    ]
    admitted = set(gateway["PolicyDocument"]["Statement"][0]["Action"])
    held = set()
    for role in each_stage.templates:
        for kind in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy"):
            for policy in each_stage.resources(role, kind).values():
                for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                    actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                    held |= {a for a in actions if a.startswith("s3:") and statement["Effect"] == "Allow"}
    assert held  # the roles do use S3
    assert held <= admitted, held - admitted


def test_interface_endpoints_admit_principals_of_this_account_only(each_stage: SynthesizedStage) -> None:
    endpoints = each_stage.resources("network", "AWS::EC2::VPCEndpoint").values()
    interface = [e["Properties"] for e in endpoints if e["Properties"]["VpcEndpointType"] == "Interface"]
    assert len(interface) == 9
    for props in interface:
        assert props["PolicyDocument"] == {
            "Statement": [
                {
                    "Sid": "OwnAccountPrincipalsOnly",
                    "Effect": "Allow",
                    "Principal": {"AWS": "*"},
                    "Action": "*",
                    "Resource": "*",
                    "Condition": THIS_ACCOUNT,
                }
            ],
            "Version": "2012-10-17",
        }


def egress_rules(stage: SynthesizedStage, group: dict[str, object]) -> list[dict[str, object]]:
    """Every egress rule of a group of the network stack: inline ones and separate resources."""
    ((logical_id, _),) = [group["Fn::GetAtt"]]  # type: ignore[index]
    inline = stage.templates["network"]["Resources"][logical_id]["Properties"].get("SecurityGroupEgress", [])
    separate = [
        {k: v for k, v in r["Properties"].items() if k != "GroupId"}
        for r in stage.resources("network", "AWS::EC2::SecurityGroupEgress").values()
        if r["Properties"]["GroupId"] == group
    ]
    return [*inline, *separate]


def test_job_group_admits_itself_and_reaches_only_the_vpc_and_s3(each_stage: SynthesizedStage) -> None:
    cidr = each_stage.config.network.cidr
    each_stage.template("network").has_resource_properties(
        "AWS::EC2::SecurityGroup",
        {"GroupDescription": "SageMaker training, processing and tuning jobs of the platform"},
    )
    ingress = [r["Properties"] for r in each_stage.resources("network", "AWS::EC2::SecurityGroupIngress").values()]
    assert ingress == [
        {
            "Description": "Traffic between the instances of one job",
            "GroupId": JOB_GROUP,
            "IpProtocol": "-1",
            "SourceSecurityGroupId": JOB_GROUP,
        }
    ]
    assert egress_rules(each_stage, JOB_GROUP) == [
        {**HTTPS, "CidrIp": cidr, "Description": "HTTPS to the VPC's interface endpoints"},
        {**HTTPS, "DestinationPrefixListId": S3_PREFIX_LIST, "Description": "HTTPS to S3 through the gateway endpoint"},
        {
            "IpProtocol": "-1",
            "DestinationSecurityGroupId": JOB_GROUP,
            "Description": "Traffic between the instances of one job",
        },
    ]


def test_endpoint_group_admits_nothing_and_reaches_only_the_vpc_and_s3(each_stage: SynthesizedStage) -> None:
    cidr = each_stage.config.network.cidr
    (group,) = [
        g["Properties"]
        for g in each_stage.resources("network", "AWS::EC2::SecurityGroup").values()
        if g["Properties"]["GroupDescription"] == "SageMaker endpoints of the platform (no ingress)"
    ]
    assert "SecurityGroupIngress" not in group
    assert all(
        r["Properties"]["GroupId"] != ENDPOINT_GROUP
        for r in each_stage.resources("network", "AWS::EC2::SecurityGroupIngress").values()
    )
    assert egress_rules(each_stage, ENDPOINT_GROUP) == [
        {**HTTPS, "CidrIp": cidr, "Description": "HTTPS to the VPC's interface endpoints"},
        {**HTTPS, "DestinationPrefixListId": S3_PREFIX_LIST, "Description": "HTTPS to S3 through the gateway endpoint"},
    ]


def test_no_group_lets_anything_out_to_the_internet(each_stage: SynthesizedStage) -> None:
    text = json.dumps(each_stage.templates["network"])
    assert "0.0.0.0/0" not in text and "::/0" not in text


def rendered(value: object) -> str:
    """A string the template may build with Fn::Join, the deploy region written as ${AWS::Region}."""
    if isinstance(value, str):
        return value
    separator, parts = value["Fn::Join"]  # type: ignore[index]
    return separator.join(p if isinstance(p, str) else "${" + p["Ref"] + "}" for p in parts)


def test_s3_prefix_list_is_looked_up_at_deploy_time_in_the_deploy_region(each_stage: SynthesizedStage) -> None:
    (lookup,) = each_stage.resources("network", "Custom::AWS").values()
    region = each_stage.config.region or "${AWS::Region}"
    call = json.loads(rendered(lookup["Properties"]["Create"]))
    assert call == {
        "service": "EC2",
        "action": "describeManagedPrefixLists",
        "parameters": {"Filters": [{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{region}.s3"]}]},
        "outputPaths": ["PrefixLists.0.PrefixListId"],
        "physicalResourceId": {"responsePath": "PrefixLists.0.PrefixListId"},
    }
    assert lookup["Properties"]["Update"] == lookup["Properties"]["Create"]
    # The function's own role reads prefix lists and writes its log group, nothing else.
    each_stage.template("network").has_resource_properties(
        "AWS::IAM::ManagedPolicy",
        {
            "PolicyDocument": {
                "Statement": [
                    {"Action": "ec2:DescribeManagedPrefixLists", "Effect": "Allow", "Resource": "*"},
                    {
                        "Action": ["logs:CreateLogStream", "logs:PutLogEvents"],
                        "Effect": "Allow",
                        "Resource": {"Fn::GetAtt": ["NetworkCustomResourceLogGroupAE9569BB", "Arn"]},
                    },
                ],
                "Version": "2012-10-17",
            }
        },
    )


def test_the_created_vpcs_default_group_is_closed(each_stage: SynthesizedStage) -> None:
    (closer,) = each_stage.resources("network", "Custom::VpcRestrictDefaultSG").values()
    assert closer["Properties"]["DefaultSecurityGroupId"] == {
        "Fn::GetAtt": ["NetworkVpc7FB7348F", "DefaultSecurityGroup"]
    }


def test_deploy_time_functions_log_to_an_encrypted_expiring_group(each_stage: SynthesizedStage) -> None:
    functions = each_stage.resources("network", "AWS::Lambda::Function")
    assert len(functions) == 2  # closes the default group; looks up S3's prefix list
    for function in functions.values():
        assert function["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": "NetworkCustomResourceLogGroupAE9569BB"}}
    group = each_stage.templates["network"]["Resources"]["NetworkCustomResourceLogGroupAE9569BB"]["Properties"]
    assert group == {
        "KmsKeyId": {"Fn::ImportValue": f"smplat-{each_stage.name}-KeyArn"},
        "RetentionInDays": 365,
        "Tags": group["Tags"],
    }


def test_flow_logs_go_to_an_encrypted_log_group_through_a_managed_policy(each_stage: SynthesizedStage) -> None:
    template = each_stage.template("network")
    template.has_resource_properties(
        "AWS::EC2::FlowLog", {"TrafficType": "ALL", "LogDestinationType": "cloud-watch-logs", "ResourceType": "VPC"}
    )
    log_groups = {
        id: group
        for id, group in each_stage.resources("network", "AWS::Logs::LogGroup").items()
        if id.startswith("NetworkFlowLogGroup")
    }
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


def test_s3_prefix_list_id_is_published_for_the_notebooks_groups(each_stage: SynthesizedStage) -> None:
    """The looked-up id, as output and SSM parameter: each notebook's own group needs it to reach S3."""
    output = each_stage.templates["network"]["Outputs"]["S3PrefixListId"]
    assert output["Value"] == S3_PREFIX_LIST
    assert output["Description"].startswith("Id of S3's AWS-managed prefix list in the deploy region")
    each_stage.template("network").has_resource_properties(
        "AWS::SSM::Parameter", {"Name": f"/smplat/{each_stage.name}/s3-prefix-list-id", "Value": S3_PREFIX_LIST}
    )
