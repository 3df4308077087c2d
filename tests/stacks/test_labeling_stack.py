"""The labeling stack of the dev stage: the Cognito user pool of the private workforce, its domain and app
client, one work team per entry with its user group and encrypted topic, the labeling role's scope, and the
outputs."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import SynthesizedStage
from tests.policies import ACCOUNT, REGION, Principal, Renderer, Request, decide, role_principal

DATA = "arn:aws:s3:::datachannelsstoragebucketdfa7e37b"


@pytest.fixture(scope="module")
def dev(stages: dict[str, SynthesizedStage]) -> SynthesizedStage:
    return stages["dev"]


def one(stage: SynthesizedStage, type_name: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = stage.resources("labeling", type_name).items()
    return logical_id, resource["Properties"]


def test_only_dev_declares_labeling(stages: dict[str, SynthesizedStage]) -> None:
    assert {name for name, stage in stages.items() if "labeling" in stage.templates} == {"dev"}


def test_the_pool_invites_workers_with_strong_passwords_and_mfa(dev: SynthesizedStage) -> None:
    _, pool = one(dev, "AWS::Cognito::UserPool")
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True  # no self sign-up
    assert pool["Policies"]["PasswordPolicy"] == {
        "MinimumLength": 12,
        "RequireLowercase": True,
        "RequireUppercase": True,
        "RequireNumbers": True,
        "RequireSymbols": True,
        "TemporaryPasswordValidityDays": 7,
    }
    assert pool["MfaConfiguration"] == "ON"
    assert pool["EnabledMfas"] == ["SOFTWARE_TOKEN_MFA"]
    assert pool["DeletionProtection"] == "INACTIVE"  # dev is a sandbox


def test_the_portal_domain_and_the_client_ground_truth_needs(dev: SynthesizedStage) -> None:
    pool_id, _ = one(dev, "AWS::Cognito::UserPool")
    _, domain = one(dev, "AWS::Cognito::UserPoolDomain")
    assert domain == {"Domain": "smplat-dev-labeling", "UserPoolId": {"Ref": pool_id}}
    _, client = one(dev, "AWS::Cognito::UserPoolClient")
    assert client["UserPoolId"] == {"Ref": pool_id}
    assert client["GenerateSecret"] is True
    assert client["AllowedOAuthFlowsUserPoolClient"] is True
    assert sorted(client["AllowedOAuthFlows"]) == ["code", "implicit"]
    assert sorted(client["AllowedOAuthScopes"]) == ["email", "openid", "profile"]
    assert client["SupportedIdentityProviders"] == ["COGNITO"]


def test_one_work_team_per_entry_on_its_group_with_an_encrypted_topic(dev: SynthesizedStage) -> None:
    pool_id, _ = one(dev, "AWS::Cognito::UserPool")
    client_id, _ = one(dev, "AWS::Cognito::UserPoolClient")
    group_id, group = one(dev, "AWS::Cognito::UserPoolGroup")
    topic_id, topic = one(dev, "AWS::SNS::Topic")
    _, team = one(dev, "AWS::SageMaker::Workteam")
    assert group["GroupName"] == "annotators" and group["UserPoolId"] == {"Ref": pool_id}
    assert team["WorkteamName"] == "smplat-dev-annotators"
    assert team["Description"] == "Labels the sample data"
    assert team["MemberDefinitions"] == [
        {
            "CognitoMemberDefinition": {
                "CognitoUserPool": {"Ref": pool_id},
                "CognitoUserGroup": {"Ref": group_id},
                "CognitoClientId": {"Ref": client_id},
            }
        }
    ]
    assert team["NotificationConfiguration"] == {"NotificationTopicArn": {"Ref": topic_id}}
    assert topic["KmsMasterKeyId"] == {"Fn::ImportValue": "smplat-dev-KeyArn"}
    _, policy = one(dev, "AWS::SNS::TopicPolicy")
    publish = [s for s in policy["PolicyDocument"]["Statement"] if s["Effect"] == "Allow"]
    assert [(s["Principal"], s["Action"], s["Condition"]) for s in publish] == [
        (
            {"Service": "sagemaker.amazonaws.com"},
            "sns:Publish",
            {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}},
        )
    ]


def test_the_platform_key_lets_sagemaker_of_this_account_encrypt_notifications(dev: SynthesizedStage) -> None:
    ((key,),) = [[r["Properties"] for r in dev.resources("data", "AWS::KMS::Key").values()]]
    statements = {s.get("Sid"): s for s in key["KeyPolicy"]["Statement"]}
    sagemaker = statements["AllowSageMakerNotificationsOfThisAccount"]
    assert sagemaker["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert sagemaker["Condition"] == {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}


def test_the_role_reads_labeling_and_writes_only_its_output(dev: SynthesizedStage) -> None:
    role_id, role = one(dev, "AWS::IAM::Role")
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    assert set(trust["Condition"]) == {"StringEquals", "ArnLike"}
    renderer = Renderer(dev.templates)
    who: Principal = role_principal(renderer, "labeling", role_id)
    assert decide(Request(who, "s3:GetObject", f"{DATA}/labeling/manifests/job-1/input.manifest")) == "Allow"
    assert decide(Request(who, "s3:GetObject", f"{DATA}/labeling/images/cat-1.jpg")) == "Allow"
    assert decide(Request(who, "s3:PutObject", f"{DATA}/labeling/output/job-1/manifests/output.manifest")) == "Allow"
    assert decide(Request(who, "s3:PutObject", f"{DATA}/labeling/manifests/job-1/input.manifest")) != "Allow"
    for elsewhere in ("raw/sample/part-1.csv", "train/sample/train.csv", "test/x.csv", "labelingx/y"):
        assert decide(Request(who, "s3:GetObject", f"{DATA}/{elsewhere}")) != "Allow", elsewhere
        assert decide(Request(who, "s3:PutObject", f"{DATA}/{elsewhere}")) != "Allow", elsewhere
    assert decide(Request(who, "s3:ListBucket", DATA, {"s3:prefix": "labeling/output/"})) == "Allow"
    assert decide(Request(who, "s3:ListBucket", DATA, {"s3:prefix": "raw/"})) != "Allow"
    artifacts = "arn:aws:s3:::artifactsbucket88671897"
    assert decide(Request(who, "s3:GetObject", f"{artifacts}/models/sample/model.tar.gz")) != "Allow"
    streams = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:/aws/sagemaker/LabelingJobs:log-stream:"
    assert decide(Request(who, "logs:PutLogEvents", f"{streams}smplat-dev-cats/worker-1")) == "Allow"
    assert decide(Request(who, "logs:PutLogEvents", f"{streams}other-team/worker-1")) != "Allow"
    team = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/smplat-dev-annotators"
    other = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/someone-else"
    assert decide(Request(who, "sagemaker:DescribeWorkteam", team)) == "Allow"
    assert decide(Request(who, "sagemaker:DescribeWorkteam", other)) != "Allow"


def test_outputs_are_published(dev: SynthesizedStage) -> None:
    outputs = dev.templates["labeling"]["Outputs"]
    assert {k: v["Export"]["Name"] for k, v in outputs.items()} == {
        "LabelingWorkTeamAnnotatorsArn": "smplat-dev-LabelingWorkTeamAnnotatorsArn",
        "LabelingPortalUrl": "smplat-dev-LabelingPortalUrl",
        "LabelingManifestPrefix": "smplat-dev-LabelingManifestPrefix",
        "LabelingOutputPrefix": "smplat-dev-LabelingOutputPrefix",
        "LabelingRoleArn": "smplat-dev-LabelingRoleArn",
    }
    renderer = Renderer(dev.templates)
    rendered = {k: renderer.render(v["Value"], "labeling") for k, v in outputs.items()}
    # SageMaker's ARN of a private work team, built from its name (the local AWS does not model work teams).
    assert rendered["LabelingWorkTeamAnnotatorsArn"] == (
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:workteam/private-crowd/smplat-dev-annotators"
    )
    assert rendered["LabelingManifestPrefix"].endswith("/labeling/manifests/")
    assert rendered["LabelingOutputPrefix"].endswith("/labeling/output/")
    assert rendered["LabelingPortalUrl"].endswith(f".auth.{REGION}.amazoncognito.com")
    parameters = {r["Properties"]["Name"] for r in dev.resources("labeling", "AWS::SSM::Parameter").values()}
    assert parameters == {
        "/smplat/dev/labeling-work-team-annotators-arn",
        "/smplat/dev/labeling-portal-url",
        "/smplat/dev/labeling-manifest-prefix",
        "/smplat/dev/labeling-output-prefix",
        "/smplat/dev/labeling-role-arn",
    }
