"""The stateful data stack: key, buckets and channels, repositories, registry, outputs (dev and prod)."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from aws_cdk.assertions import Match

from constructs.data_channels import MODELS_PREFIX
from constructs.endpoint_model import REGISTERED_MODELS_PREFIX
from tests.conftest import SynthesizedStage
from tests.policies import ACCOUNT, REGION, Principal, Renderer, Request, bucket_policy, decide, role_principal

# Stateful resources keep these logical IDs forever: a new ID means a new (empty) resource.
STATEFUL_LOGICAL_IDS = {
    "PlatformKey1C4A1A63": "AWS::KMS::Key",
    "AccessLogsBucketCD784A59": "AWS::S3::Bucket",
    "DataChannelsStorageBucketDFA7E37B": "AWS::S3::Bucket",
    "ArtifactsBucket88671897": "AWS::S3::Bucket",
    "TrainingRepository3CD922C6": "AWS::ECR::Repository",
    "InferenceRepository50BCE833": "AWS::ECR::Repository",
    "ModelRegistryGroupC87F7ECA": "AWS::SageMaker::ModelPackageGroup",
}
STATEFUL_TYPES = set(STATEFUL_LOGICAL_IDS.values())

DATA_OUTPUTS = {
    "ExecutionRoleArn",
    "ModelPublisherRoleArn",
    "LatestApprovedModelParameterName",
    "KeyArn",
    "DataBucketName",
    "DataBucketArn",
    "TrainChannelUri",
    "ValidationChannelUri",
    "TestChannelUri",
    "RawDataUri",
    "LabelingUri",
    "ArtifactsBucketName",
    "ArtifactsBucketArn",
    "AccessLogsBucketName",
    "TrainingRepositoryUri",
    "TrainingRepositoryArn",
    "InferenceRepositoryUri",
    "InferenceRepositoryArn",
    "ModelPackageGroupName",
    "ModelPackageGroupArn",
}
# Output ID -> its SSM parameter under /smplat/<stage>/
DATA_PARAMETERS = {
    "ExecutionRoleArn": "execution-role-arn",
    "ModelPublisherRoleArn": "model-publisher-role-arn",
    "LatestApprovedModelParameterName": "latest-approved-model-parameter-name",
    "KeyArn": "key-arn",
    "DataBucketName": "data-bucket-name",
    "DataBucketArn": "data-bucket-arn",
    "TrainChannelUri": "train-channel-uri",
    "ValidationChannelUri": "validation-channel-uri",
    "TestChannelUri": "test-channel-uri",
    "RawDataUri": "raw-data-uri",
    "LabelingUri": "labeling-uri",
    "ArtifactsBucketName": "artifacts-bucket-name",
    "ArtifactsBucketArn": "artifacts-bucket-arn",
    "AccessLogsBucketName": "access-logs-bucket-name",
    "TrainingRepositoryUri": "training-repository-uri",
    "TrainingRepositoryArn": "training-repository-arn",
    "InferenceRepositoryUri": "inference-repository-uri",
    "InferenceRepositoryArn": "inference-repository-arn",
    "ModelPackageGroupName": "model-package-group-name",
    "ModelPackageGroupArn": "model-package-group-arn",
}


def test_stateful_logical_ids_are_pinned(each_stage: SynthesizedStage) -> None:
    resources = each_stage.templates["data"]["Resources"]
    stateful = {k: v["Type"] for k, v in resources.items() if v["Type"] in STATEFUL_TYPES}
    assert stateful == STATEFUL_LOGICAL_IDS


def test_stateful_resources_are_retained_outside_sandboxes(each_stage: SynthesizedStage) -> None:
    expected = "Delete" if each_stage.config.sandbox else "Retain"
    resources = each_stage.templates["data"]["Resources"]
    for logical_id in STATEFUL_LOGICAL_IDS:
        assert resources[logical_id]["DeletionPolicy"] == expected, logical_id
        assert resources[logical_id]["UpdateReplacePolicy"] == expected, logical_id
    assert each_stage.stage.data.termination_protection is (not each_stage.config.sandbox)


def test_key_rotates_and_serves_cloudwatch_logs_of_this_account(each_stage: SynthesizedStage) -> None:
    template = each_stage.template("data")
    template.has_resource_properties(
        "AWS::KMS::Key",
        {
            "EnableKeyRotation": True,
            "PendingWindowInDays": 30,
            "KeyPolicy": {
                "Statement": Match.array_with(
                    [
                        Match.object_like(
                            {
                                "Sid": "AllowCloudWatchLogsOfThisAccount",
                                "Action": ["kms:Decrypt*", "kms:Encrypt*", "kms:GenerateDataKey*", "kms:ReEncrypt*"],
                                "Condition": {"StringLike": {"kms:EncryptionContext:aws:logs:arn": Match.any_value()}},
                            }
                        )
                    ]
                )
            },
        },
    )
    template.has_resource_properties("AWS::KMS::Alias", {"AliasName": f"alias/smplat-{each_stage.name}"})


def test_data_and_artifact_buckets_use_the_platform_key(each_stage: SynthesizedStage) -> None:
    resources = each_stage.templates["data"]["Resources"]
    days = each_stage.config.data.noncurrent_version_expiration_days
    for logical_id in ("DataChannelsStorageBucketDFA7E37B", "ArtifactsBucket88671897"):
        props = resources[logical_id]["Properties"]
        sse = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert sse["ServerSideEncryptionByDefault"] == {
            "SSEAlgorithm": "aws:kms",
            "KMSMasterKeyID": {"Fn::GetAtt": ["PlatformKey1C4A1A63", "Arn"]},
        }
        assert sse["BucketKeyEnabled"] is True
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": "AccessLogsBucketCD784A59"}
        rule = props["LifecycleConfiguration"]["Rules"][0]
        assert rule["NoncurrentVersionExpiration"] == {"NoncurrentDays": days}
        assert rule["AbortIncompleteMultipartUpload"] == {"DaysAfterInitiation": 7}


def test_every_bucket_is_private_ssl_only_and_versioned(each_stage: SynthesizedStage) -> None:
    buckets = each_stage.resources("data", "AWS::S3::Bucket")
    for props in (b["Properties"] for b in buckets.values()):
        assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
            ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
        )
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    policies = each_stage.resources("data", "AWS::S3::BucketPolicy")
    assert {p["Properties"]["Bucket"]["Ref"] for p in policies.values()} == set(buckets)
    for policy in policies.values():
        denies = [s for s in policy["Properties"]["PolicyDocument"]["Statement"] if s["Effect"] == "Deny"]
        assert denies[0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_access_log_bucket_expires_logs_and_admits_s3_logging_only(each_stage: SynthesizedStage) -> None:
    resources = each_stage.templates["data"]["Resources"]
    props = resources["AccessLogsBucketCD784A59"]["Properties"]
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    rule = props["LifecycleConfiguration"]["Rules"][0]
    assert rule["ExpirationInDays"] == each_stage.config.data.access_log_retention_days
    statements = resources["AccessLogsBucketPolicy3D5B5143"]["Properties"]["PolicyDocument"]["Statement"]
    writers = [s for s in statements if s["Effect"] == "Allow"]
    # One grant per logged bucket (data, artifacts), each limited to that bucket and account.
    assert [s["Principal"] for s in writers] == [{"Service": "logging.s3.amazonaws.com"}] * 2
    for writer in writers:
        assert set(writer["Condition"]["ArnLike"]) == {"aws:SourceArn"}
        assert set(writer["Condition"]["StringEquals"]) == {"aws:SourceAccount"}


def test_container_repositories(each_stage: SynthesizedStage) -> None:
    data = each_stage.config.data
    repositories = each_stage.resources("data", "AWS::ECR::Repository")
    assert sorted(r["Properties"]["RepositoryName"] for r in repositories.values()) == [
        f"smplat-{each_stage.name}-inference",
        f"smplat-{each_stage.name}-training",
    ]
    for repository in repositories.values():
        props = repository["Properties"]
        assert props["ImageScanningConfiguration"] == {"ScanOnPush": True}
        assert props["ImageTagMutability"] == "IMMUTABLE"
        assert props["EncryptionConfiguration"] == {
            "EncryptionType": "KMS",
            "KmsKey": {"Fn::GetAtt": ["PlatformKey1C4A1A63", "Arn"]},
        }
        rules = json.loads(props["LifecyclePolicy"]["LifecyclePolicyText"])["rules"]
        untagged, any_tag = (r["selection"] for r in rules)
        assert untagged == {
            "tagStatus": "untagged",
            "countType": "sinceImagePushed",
            "countNumber": data.untagged_image_expiry_days,
            "countUnit": "days",
        }
        assert any_tag == {
            "tagStatus": "any",
            "countType": "imageCountMoreThan",
            "countNumber": data.max_images_per_repository,
        }


def test_model_registry(each_stage: SynthesizedStage) -> None:
    each_stage.template("data").has_resource_properties(
        "AWS::SageMaker::ModelPackageGroup", {"ModelPackageGroupName": f"smplat-{each_stage.name}"}
    )


def approval_resources(stage: SynthesizedStage) -> dict[str, dict[str, Any]]:
    """The latest-approved publisher's resources by logical ID, rendered for account 123456789012 in eu-west-1."""
    renderer = Renderer(stage.templates)
    resources = stage.templates["data"]["Resources"]
    return {k: renderer.render(v, "data") for k, v in resources.items() if k.startswith("LatestApprovedModel")}


def of_type(resources: dict[str, dict[str, Any]], type_name: str) -> list[dict[str, Any]]:
    return [r["Properties"] for r in resources.values() if r["Type"] == type_name]


def role_of(resources: dict[str, dict[str, Any]], role_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """A role's trust policy and the statements of the managed policies attached to it."""
    trust = resources[role_id]["Properties"]["AssumeRolePolicyDocument"]
    policies = [p for p in of_type(resources, "AWS::IAM::ManagedPolicy") if p["Roles"] == [role_id]]
    return trust, [s for p in policies for s in p["PolicyDocument"]["Statement"]]


def rule_arn(stage: SynthesizedStage) -> str:
    return f"arn:aws:events:{REGION}:{ACCOUNT}:rule/smplat-{stage.name}-publish-approved"


def test_approvals_publish_the_latest_approved_package_without_a_function(each_stage: SynthesizedStage) -> None:
    group, parameter = f"smplat-{each_stage.name}", f"/smplat/{each_stage.name}/latest-approved-model-package"
    resources = approval_resources(each_stage)
    (rule,) = of_type(resources, "AWS::Events::Rule")
    assert rule["Name"] == f"smplat-{each_stage.name}-publish-approved"  # named: the trust policy names the rule
    assert rule["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [group], "ModelApprovalStatus": ["Approved"]},
    }
    (target,) = rule["Targets"]
    runbook_arn = f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-definition/LatestApprovedModelRunbookCEB479C2:$DEFAULT"
    assert target["Arn"] == runbook_arn
    assert target["InputTransformer"] == {
        "InputPathsMap": {"package": "$.detail.ModelPackageArn"},
        "InputTemplate": '{"ModelPackageArn": [<package>]}',
    }
    (runbook,) = of_type(resources, "AWS::SSM::Document")
    assert runbook["DocumentType"] == "Automation"
    *_, publish = runbook["Content"]["mainSteps"]
    assert publish["inputs"] | {"Service": "ssm", "Api": "PutParameter", "Name": parameter} == publish["inputs"]
    assert publish["inputs"]["Value"] == "{{ ModelPackageArn }}" and publish["inputs"]["Overwrite"] is True
    # The runbook may write that one parameter and nothing else; CloudFormation never writes it.
    _, runbook_statements = role_of(resources, "LatestApprovedModelRunbookRoleD7BD6329")
    writes = [s for s in runbook_statements if s["Action"] == "ssm:PutParameter"]
    assert writes == [
        {
            "Sid": "PublishApprovedPackage",
            "Effect": "Allow",
            "Action": "ssm:PutParameter",
            "Resource": f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter{parameter}",
        }
    ]
    names = {p["Properties"]["Name"] for p in each_stage.resources("data", "AWS::SSM::Parameter").values()}
    assert parameter not in names
    assert each_stage.resources("data", "AWS::Lambda::Function") == {}
    assert target["RoleArn"] == f"arn:aws:iam::{ACCOUNT}:role/LatestApprovedModelTriggerRoleB249C028"
    _, trigger_statements = role_of(resources, "LatestApprovedModelTriggerRoleB249C028")
    assert [s["Action"] for s in trigger_statements] == ["ssm:StartAutomationExecution", "iam:PassRole"]


def test_the_runbook_accepts_only_versions_of_its_own_group(each_stage: SynthesizedStage) -> None:
    (runbook,) = of_type(approval_resources(each_stage), "AWS::SSM::Document")
    pattern = runbook["Content"]["parameters"]["ModelPackageArn"]["allowedPattern"]
    assert pattern == f"^arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/smplat-{each_stage.name}/[0-9]+$"
    other = {"dev": "prod", "prod": "dev"}[each_stage.name]
    packages = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package"
    accepted = f"{packages}/smplat-{each_stage.name}/3"
    refused = [
        f"{packages}/smplat-{other}/3",  # another stage's group
        f"{packages}/smplat-{each_stage.name}-x/3",  # a group whose name starts with this one's
        f"{packages}/smplat-{each_stage.name}",  # an unversioned package
        f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package-group/smplat-{each_stage.name}",
        accepted.replace(ACCOUNT, "210987654321"),
        accepted.replace(REGION, "us-east-1"),
        f"{accepted}\nx",
    ]
    assert re.fullmatch(pattern.strip("^$"), accepted)
    for arn in refused:
        assert not re.fullmatch(pattern.strip("^$"), arn), arn


def test_the_runbook_refuses_a_package_that_is_not_approved_before_publishing(each_stage: SynthesizedStage) -> None:
    resources = approval_resources(each_stage)
    (runbook,) = of_type(resources, "AWS::SSM::Document")
    steps = runbook["Content"]["mainSteps"]
    assert [(s["name"], s["action"]) for s in steps] == [
        ("DescribePackage", "aws:executeAwsApi"),
        ("RefuseUnapprovedPackage", "aws:assertAwsResourceProperty"),
        ("PublishApprovedPackage", "aws:executeAwsApi"),
    ]
    describe, refuse, _ = steps
    package = {"Service": "sagemaker", "Api": "DescribeModelPackage", "ModelPackageName": "{{ ModelPackageArn }}"}
    assert describe["inputs"] == package
    assert refuse["inputs"] == package | {"PropertySelector": "$.ModelApprovalStatus", "DesiredValues": ["Approved"]}
    # A failed assertion aborts the execution: the parameter keeps its value.
    assert all(s.get("onFailure", "Abort") == "Abort" for s in steps)
    _, statements = role_of(resources, "LatestApprovedModelRunbookRoleD7BD6329")
    (read,) = [s for s in statements if s["Action"] != "ssm:PutParameter"]
    assert read == {
        "Sid": "DescribeOwnPackages",
        "Effect": "Allow",
        "Action": "sagemaker:DescribeModelPackage",
        "Resource": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/smplat-{each_stage.name}/*",
    }


def test_the_roles_trust_only_this_rule_and_automation_and_the_trigger_passes_to_ssm_only(
    each_stage: SynthesizedStage,
) -> None:
    resources = approval_resources(each_stage)
    trigger_trust, trigger_statements = role_of(resources, "LatestApprovedModelTriggerRoleB249C028")
    assert trigger_trust["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT, "aws:SourceArn": rule_arn(each_stage)}},
        }
    ]
    runbook_trust, _ = role_of(resources, "LatestApprovedModelRunbookRoleD7BD6329")
    assert runbook_trust["Statement"] == [
        {
            "Action": "sts:AssumeRole",
            "Effect": "Allow",
            "Principal": {"Service": "ssm.amazonaws.com"},
            "Condition": {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": f"arn:aws:ssm:{REGION}:{ACCOUNT}:automation-execution/*"},
            },
        }
    ]
    (pass_role,) = [s for s in trigger_statements if s["Action"] == "iam:PassRole"]
    assert pass_role["Resource"] == f"arn:aws:iam::{ACCOUNT}:role/LatestApprovedModelRunbookRoleD7BD6329"
    assert pass_role["Condition"] == {"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}}


def test_undelivered_approvals_are_retried_then_kept_in_an_encrypted_dead_letter_queue(
    each_stage: SynthesizedStage,
) -> None:
    resources = approval_resources(each_stage)
    (rule,) = of_type(resources, "AWS::Events::Rule")
    (target,) = rule["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 14400}
    (queue,) = of_type(resources, "AWS::SQS::Queue")
    queue_name = f"smplat-{each_stage.name}-publish-approved-dead-letters"
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{queue_name}"
    assert target["DeadLetterConfig"] == {"Arn": queue_arn}
    assert queue == queue | {
        "QueueName": queue_name,
        "KmsMasterKeyId": KEY_ARN,
        "MessageRetentionPeriod": 1209600,  # 14 days, SQS's longest
    }
    # Only this rule may send, and only over TLS.
    (policy,) = of_type(resources, "AWS::SQS::QueuePolicy")

    def send(source: str, *, service: str = "events.amazonaws.com", tls: str = "true") -> str:
        context = {"aws:SourceArn": source, "aws:SourceAccount": ACCOUNT, "aws:SecureTransport": tls}
        return decide(Request(Principal(service), "sqs:SendMessage", queue_arn, context), policy["PolicyDocument"])

    assert send(rule_arn(each_stage)) == "Allow"
    assert send(rule_arn(each_stage), tls="false") == "Deny"
    assert send(f"{rule_arn(each_stage)}-other") == "ImplicitDeny"
    assert send(rule_arn(each_stage), service="sns.amazonaws.com") == "ImplicitDeny"
    # SQS encrypts with the platform key on behalf of EventBridge: the key lets it, for this queue only.
    key_policy = each_stage.templates["data"]["Resources"]["PlatformKey1C4A1A63"]["Properties"]["KeyPolicy"]
    statements = Renderer(each_stage.templates).render(key_policy, "data")["Statement"]
    (grant,) = [s for s in statements if s.get("Sid") == "AllowEventBridgeDeadLetters"]
    assert grant == {
        "Sid": "AllowEventBridgeDeadLetters",
        "Effect": "Allow",
        "Principal": {"Service": "events.amazonaws.com"},
        "Action": ["kms:Decrypt", "kms:GenerateDataKey"],
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT, "kms:EncryptionContext:aws:sqs:arn": queue_arn}},
    }


def test_outputs_are_pinned_exported_and_mirrored_in_ssm(each_stage: SynthesizedStage) -> None:
    template = each_stage.templates["data"]
    published = template["Outputs"]
    assert set(published) == DATA_OUTPUTS
    parameters = {
        p["Properties"]["Name"]: p["Properties"]["Value"]
        for p in each_stage.resources("data", "AWS::SSM::Parameter").values()
    }
    for output_id, output in published.items():
        assert output["Export"] == {"Name": f"smplat-{each_stage.name}-{output_id}"}
        name = f"/smplat/{each_stage.name}/{DATA_PARAMETERS[output_id]}"
        assert parameters[name] == output["Value"], output_id
        assert output["Description"].endswith(f"(SSM: {name})")
    assert len(parameters) == len(DATA_OUTPUTS)


def test_channels_are_distinct_locations_of_the_data_bucket(each_stage: SynthesizedStage) -> None:
    outputs = each_stage.templates["data"]["Outputs"]
    uris = {
        k: json.dumps(outputs[k]["Value"])
        for k in ("TrainChannelUri", "ValidationChannelUri", "TestChannelUri", "RawDataUri", "LabelingUri")
    }
    assert len(set(uris.values())) == 5
    prefixes = {
        "TrainChannelUri": "train",
        "ValidationChannelUri": "validation",
        "TestChannelUri": "test",
        "RawDataUri": "raw",
        "LabelingUri": "labeling",
    }
    for output_id, uri in uris.items():
        assert "DataChannelsStorageBucketDFA7E37B" in uri
        assert uri.endswith(f'/{prefixes[output_id]}/"]]}}'), uri


# Who may do what in the buckets, evaluated from the synthesized identity and bucket policies.
ARTIFACTS, DATA = "ArtifactsBucket88671897", "DataChannelsStorageBucketDFA7E37B"
KEY_ARN = f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/PlatformKey1C4A1A63"
ENDPOINT = {"dev": "smplat-dev-sample", "prod": "smplat-prod-fraud-scoring"}
# The endpoint's own model: dev serves an artifact, prod the registry (any registered model).
OWN_MODEL = {"dev": "models/sample/model.tar.gz", "prod": "models/fraud/v7/model.tar.gz"}
# Someone outside the platform whose own policy allows all of S3 (an administrator, a CI role).
OUTSIDER = Principal(f"arn:aws:iam::{ACCOUNT}:role/Admin", ({"Effect": "Allow", "Action": "s3:*", "Resource": "*"},))
EVERYTHING = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}

# (principal, action, object key, allowed); {endpoint} is the stage's endpoint, {model} its model.
ARTIFACT_ACCESS = [
    ("notebook", "s3:GetObject", "models/fraud/v7/model.tar.gz", True),
    ("notebook", "s3:PutObject", "models/fraud/v7/model.tar.gz", False),
    ("notebook", "s3:DeleteObjectVersion", "models/fraud/v7/model.tar.gz", False),
    ("notebook", "s3:GetObject", "data-capture/{endpoint}/AllTraffic/2026/01/01/00/a.jsonl", False),
    ("notebook", "s3:PutObject", "jobs/xgb-1/source/sourcedir.tar.gz", True),
    ("notebook", "s3:GetObject", "jobs/xgb-1/output/model.tar.gz", True),
    ("notebook", "s3:PutObject", "scratch/notes.txt", False),
    ("jobs", "s3:GetObject", "models/fraud/v7/model.tar.gz", True),
    ("jobs", "s3:PutObject", "models/fraud/v7/model.tar.gz", False),
    ("jobs", "s3:PutObject", "jobs/xgb-1/output/model.tar.gz", True),
    ("jobs", "s3:GetObject", "jobs/xgb-1/source/sourcedir.tar.gz", True),
    ("jobs", "s3:GetObject", "data-capture/{endpoint}/AllTraffic/2026/01/01/00/a.jsonl", False),
    ("jobs", "s3:PutObject", "data-capture/{endpoint}/AllTraffic/2026/01/01/00/a.jsonl", False),
    ("publisher", "s3:GetObject", "jobs/xgb-1/output/model.tar.gz", True),
    ("publisher", "s3:PutObject", "models/fraud/v8/model.tar.gz", True),
    ("publisher", "s3:PutObject", "jobs/xgb-1/output/model.tar.gz", False),
    ("publisher", "s3:GetObject", "data-capture/{endpoint}/AllTraffic/2026/01/01/00/a.jsonl", False),
    ("endpoint", "s3:GetObject", "{model}", True),
    ("endpoint", "s3:GetObject", "jobs/xgb-1/output/model.tar.gz", False),
    ("endpoint", "s3:PutObject", "{model}", False),
    ("endpoint", "s3:PutObject", "data-capture/{endpoint}/AllTraffic/2026/01/01/00/a.jsonl", True),
    ("endpoint", "s3:GetObject", "data-capture/{endpoint}/AllTraffic/2026/01/01/00/a.jsonl", False),
    ("endpoint", "s3:PutObject", "data-capture/smplat-other/AllTraffic/2026/01/01/00/a.jsonl", False),
]


ROLES = {  # kind -> (template, logical ID prefix of its role) per stage
    "notebook": ("notebooks", {"dev": "NotebookDataScienceRole", "prod": "NotebookFraudTeamRole"}),
    "jobs": ("data", {"dev": "ExecutionRole", "prod": "ExecutionRole"}),
    "publisher": ("data", {"dev": "ModelPublisherRole", "prod": "ModelPublisherRole"}),
    "endpoint": (
        "endpoints",
        {"dev": "EndpointSampleInferenceRole", "prod": "EndpointFraudScoringInferenceRole"},
    ),
}


def principal(stage: SynthesizedStage, kind: str) -> Principal:
    """The role of `kind` in `stage` as IAM sees it: its ARN (with its path) and its policies."""
    role, prefixes = ROLES[kind]
    resources = stage.templates[role]["Resources"]
    ids = [k for k, v in resources.items() if v["Type"] == "AWS::IAM::Role" and k.startswith(prefixes[stage.name])]
    assert len(ids) == 1, f"expected one role {prefixes[stage.name]}* in the {role} stack, found {ids}"
    return role_principal(Renderer(stage.templates), role, ids[0])


def can(
    stage: SynthesizedStage, who: Principal, action: str, key: str, bucket: str = ARTIFACTS, **headers: str
) -> bool:
    resource = f"arn:aws:s3:::{bucket.lower()}/{key}"
    policy = bucket_policy(Renderer(stage.templates), "data", bucket)
    return decide(Request(who, action, resource, headers), policy) == "Allow"


@pytest.mark.parametrize(("who", "action", "key", "expected"), ARTIFACT_ACCESS)
def test_each_principal_reads_and_writes_only_its_artifact_prefixes(
    each_stage: SynthesizedStage, who: str, action: str, key: str, expected: bool
) -> None:
    key = key.format(endpoint=ENDPOINT[each_stage.name], model=OWN_MODEL[each_stage.name])
    assert can(each_stage, principal(each_stage, who), action, key) is expected


def test_the_bucket_policy_holds_when_identity_policies_grow(each_stage: SynthesizedStage) -> None:
    """A broader identity policy added later (here: all of S3) cannot widen who writes models and
    captured data, who reads captured data, nor where the platform's workloads write."""
    roles = {kind: principal(each_stage, kind).widened(EVERYTHING) for kind in ROLES}
    capture = f"data-capture/{ENDPOINT[each_stage.name]}/AllTraffic/2026/01/01/00/a.jsonl"
    model = "models/fraud/v7/model.tar.gz"
    writes_model = {kind: can(each_stage, p, "s3:PutObject", model) for kind, p in roles.items()}
    assert writes_model == {"notebook": False, "jobs": False, "publisher": True, "endpoint": False}
    deletes_model = {kind: can(each_stage, p, "s3:DeleteObject", model) for kind, p in roles.items()}
    assert deletes_model == {"notebook": False, "jobs": False, "publisher": True, "endpoint": False}
    writes_capture = {kind: can(each_stage, p, "s3:PutObject", capture) for kind, p in roles.items()}
    assert writes_capture == {"notebook": False, "jobs": False, "publisher": False, "endpoint": True}
    reads_capture = {kind: can(each_stage, p, "s3:GetObject", capture) for kind, p in roles.items()}
    assert reads_capture == dict.fromkeys(roles, False)
    writes_elsewhere = {kind: can(each_stage, p, "s3:PutObject", "scratch/x.csv") for kind, p in roles.items()}
    assert writes_elsewhere == dict.fromkeys(roles, False)
    writes_jobs = {kind: can(each_stage, p, "s3:PutObject", "jobs/x/y.csv") for kind, p in roles.items()}
    assert writes_jobs == {"notebook": True, "jobs": True, "publisher": False, "endpoint": False}
    # Outside the platform: models and captured data are written only by their writers; reading
    # captured data (incident response, the coming model monitor) is left to identity policies.
    assert not can(each_stage, OUTSIDER, "s3:PutObject", model)
    assert not can(each_stage, OUTSIDER, "s3:DeleteObjectVersion", model)
    assert not can(each_stage, OUTSIDER, "s3:PutObject", capture)
    assert can(each_stage, OUTSIDER, "s3:GetObject", capture)
    assert can(each_stage, OUTSIDER, "s3:PutObject", "jobs/x/y.csv")


# SSE headers of an upload -> accepted. No header: S3 applies the bucket's default (the platform
# key); `aws:kms` without a key id would use the AWS managed key aws/s3.
UPLOAD_ENCRYPTION = [
    ({}, True),
    ({"s3:x-amz-server-side-encryption": "aws:kms", "s3:x-amz-server-side-encryption-aws-kms-key-id": KEY_ARN}, True),
    ({"s3:x-amz-server-side-encryption": "aws:kms"}, False),
    (
        {
            "s3:x-amz-server-side-encryption": "aws:kms",
            "s3:x-amz-server-side-encryption-aws-kms-key-id": f"arn:aws:kms:eu-west-1:{ACCOUNT}:key/other",
        },
        False,
    ),
    ({"s3:x-amz-server-side-encryption": "AES256"}, False),
    ({"s3:x-amz-server-side-encryption-customer-algorithm": "AES256"}, False),
]


@pytest.mark.parametrize(("headers", "expected"), UPLOAD_ENCRYPTION)
@pytest.mark.parametrize(("bucket", "key"), [(DATA, "raw/batch-1.csv"), (ARTIFACTS, "jobs/xgb-1/output/model.tar.gz")])
def test_uploads_are_encrypted_with_the_platform_key(
    each_stage: SynthesizedStage, bucket: str, key: str, headers: dict[str, str], expected: bool
) -> None:
    assert can(each_stage, OUTSIDER, "s3:PutObject", key, bucket, **headers) is expected


def test_captured_production_data_expires(each_stage: SynthesizedStage) -> None:
    rules = each_stage.templates["data"]["Resources"][ARTIFACTS]["Properties"]["LifecycleConfiguration"]["Rules"]
    capture = [r for r in rules if r.get("Prefix") == "data-capture/"]
    assert capture == [
        {
            "Id": "ExpireDataCapture",
            "Prefix": "data-capture/",
            "Status": "Enabled",
            "ExpirationInDays": 90,
            # Expiring a versioned object leaves it as an old version: delete that a day later too.
            "NoncurrentVersionExpiration": {"NoncurrentDays": 1},
        }
    ]


def test_models_are_published_by_sagemaker_or_by_people_iam_allows_to_assume_the_publisher(
    each_stage: SynthesizedStage,
) -> None:
    (logical_id,) = (k for k in each_stage.resources("data", "AWS::IAM::Role") if k.startswith("ModelPublisherRole"))
    document = each_stage.templates["data"]["Resources"][logical_id]["Properties"]["AssumeRolePolicyDocument"]
    trust = Renderer(each_stage.templates).render(document, "data")["Statement"]
    assert [(s["Principal"], s.get("Condition")) for s in trust] == [
        (
            {"Service": "sagemaker.amazonaws.com"},
            {
                "StringEquals": {"aws:SourceAccount": ACCOUNT},
                "ArnLike": {"aws:SourceArn": f"arn:aws:sagemaker:eu-west-1:{ACCOUNT}:*"},
            },
        ),
        ({"AWS": f"arn:aws:iam::{ACCOUNT}:root"}, None),
    ]
    # Notebooks may pass the execution role only, never the publisher.
    notebook = principal(each_stage, "notebook")
    passed = [s["Resource"] for s in notebook.statements if "iam:PassRole" in s["Action"]]
    assert passed == [f"arn:aws:iam::{ACCOUNT}:role/{role_id_of(each_stage, 'jobs')}"]


def role_id_of(stage: SynthesizedStage, kind: str) -> str:
    role, prefixes = ROLES[kind]
    (logical_id,) = (k for k in stage.resources(role, "AWS::IAM::Role") if k.startswith(prefixes[stage.name]))
    return logical_id


def test_registry_endpoints_read_the_prefix_that_only_the_publisher_writes() -> None:
    assert REGISTERED_MODELS_PREFIX == MODELS_PREFIX == "models/"
