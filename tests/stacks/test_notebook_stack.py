"""The notebook stack: secure notebook instances with a least-privilege role and outputs."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.conftest import SynthesizedStage


def test_every_notebook_is_private_rootless_encrypted_and_imdsv2_only(each_stage: SynthesizedStage) -> None:
    notebooks = each_stage.resources("notebooks", "AWS::SageMaker::NotebookInstance")
    assert [n["Properties"]["NotebookInstanceName"] for n in notebooks.values()] == {
        "dev": ["smplat-dev-data-science"],
        "prod": ["smplat-prod-fraud-team"],
    }[each_stage.name]
    for entry, notebook in zip(each_stage.config.notebooks, notebooks.values(), strict=True):
        props = notebook["Properties"]
        assert (props["DirectInternetAccess"], props["RootAccess"]) == ("Disabled", "Disabled")
        assert props["InstanceMetadataServiceConfiguration"] == {"MinimumInstanceMetadataServiceVersion": "2"}
        assert (props["InstanceType"], props["VolumeSizeInGB"]) == (entry.instance_type, entry.volume_size_gb)
        assert props["PlatformIdentifier"] == entry.platform_identifier
        assert "KeyArn" in json.dumps(props["KmsKeyId"])  # the platform key, from the data stack's export
        assert "Subnet" in json.dumps(props["SubnetId"]) and len(props["SecurityGroupIds"]) == 1
        assert {"Key": "Owner", "Value": entry.owner} in props["Tags"]
        assert "NotebookInstanceLifecycleConfigName" in json.dumps(props["LifecycleConfigName"])


HTTPS = {"FromPort": 443, "ToPort": 443, "IpProtocol": "tcp"}


def test_notebook_security_group_admits_nothing_and_reaches_only_the_vpc_and_s3(each_stage: SynthesizedStage) -> None:
    """S3 is reached through the gateway endpoint at S3's public addresses (its prefix list), not
    at VPC addresses: without the prefix-list rule a notebook could not read a channel."""
    groups = each_stage.resources("notebooks", "AWS::EC2::SecurityGroup")
    expected = {"dev": "NotebookDataScienceSecurityGroupCB640F40", "prod": "NotebookFraudTeamSecurityGroupB6A0F819"}
    assert list(groups) == [expected[each_stage.name]]  # one per notebook: the loop below must not run on nothing
    for logical_id, group in groups.items():
        props = group["Properties"]
        group_id = {"Fn::GetAtt": [logical_id, "GroupId"]}
        assert "SecurityGroupIngress" not in props
        assert all(
            r["Properties"]["GroupId"] != group_id
            for r in each_stage.resources("notebooks", "AWS::EC2::SecurityGroupIngress").values()
        )
        # CDK writes a rule to a prefix list as a resource of its own, never inline.
        separate = [
            {k: v for k, v in r["Properties"].items() if k != "GroupId"}
            for r in each_stage.resources("notebooks", "AWS::EC2::SecurityGroupEgress").values()
            if r["Properties"]["GroupId"] == group_id
        ]
        assert [*props["SecurityGroupEgress"], *separate] == [
            {**HTTPS, "CidrIp": each_stage.config.network.cidr, "Description": "VPC endpoints"},
            {
                **HTTPS,
                "DestinationPrefixListId": {"Fn::ImportValue": f"smplat-{each_stage.name}-S3PrefixListId"},
                "Description": "S3 through the gateway endpoint",
            },
        ]


def test_role_passes_only_the_platform_role_and_stops_only_itself(each_stage: SynthesizedStage) -> None:
    (policy,) = each_stage.resources("notebooks", "AWS::IAM::ManagedPolicy").values()
    statements = {s["Sid"]: s for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    prefix = f"smplat-{each_stage.name}"
    assert statements["PassOnlyThePlatformRole"]["Action"] == "iam:PassRole"
    assert statements["PassOnlyThePlatformRole"]["Resource"] == {"Fn::ImportValue": f"{prefix}-ExecutionRoleArn"}
    assert statements["PassOnlyThePlatformRole"]["Condition"] == {
        "StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}
    }
    stop = json.dumps(statements["StopItselfWhenIdle"]["Resource"])
    notebook = {"dev": "smplat-dev-data-science", "prod": "smplat-prod-fraud-team"}[each_stage.name]
    assert f"notebook-instance/{notebook}" in stop and "*" not in stop
    jobs = json.dumps(statements["FollowPlatformJobs"]["Resource"])
    for kind in ("training-job", "hyper-parameter-tuning-job", "processing-job", "pipeline"):
        assert f"{kind}/{prefix}-*" in jobs
    assert statements["ReadChannels"]["Action"] == "s3:GetObject"
    assert sorted(json.dumps(r) for r in statements["ReadChannels"]["Resource"]) == sorted(
        json.dumps({"Fn::Join": ["", [{"Fn::ImportValue": f"{prefix}-DataBucketArn"}, f"/{c}/*"]]})
        for c in ("train", "validation", "test")
    )
    each_stage.template("notebooks").resource_count_is("AWS::IAM::Policy", 0)


def test_outputs_name_and_link_every_notebook(each_stage: SynthesizedStage) -> None:
    outputs = each_stage.templates["notebooks"]["Outputs"]
    name_output, url_output, export, url_parameter = {
        "dev": (
            "NotebookDataScienceName",
            "NotebookDataScienceUrl",
            "smplat-dev-NotebookDataScienceName",
            "/smplat/dev/notebook-data-science-url",
        ),
        "prod": (
            "NotebookFraudTeamName",
            "NotebookFraudTeamUrl",
            "smplat-prod-NotebookFraudTeamName",
            "/smplat/prod/notebook-fraud-team-url",
        ),
    }[each_stage.name]
    assert set(outputs) == {name_output, url_output}
    assert outputs[name_output]["Export"] == {"Name": export}
    each_stage.template("notebooks").has_resource_properties(
        "AWS::SSM::Parameter", {"Name": url_parameter, "Value": Match.any_value()}
    )
