"""The stateful data stack: key, buckets and channels, repositories, registry, outputs (dev and prod)."""

from __future__ import annotations

import json

from aws_cdk.assertions import Match

from tests.conftest import SynthesizedStage

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


def test_approvals_publish_the_latest_approved_package_without_a_function(each_stage: SynthesizedStage) -> None:
    group, parameter = f"smplat-{each_stage.name}", f"/smplat/{each_stage.name}/latest-approved-model-package"
    (rule,) = each_stage.resources("data", "AWS::Events::Rule").values()
    assert rule["Properties"]["EventPattern"] == {
        "source": ["aws.sagemaker"],
        "detail-type": ["SageMaker Model Package State Change"],
        "detail": {"ModelPackageGroupName": [group], "ModelApprovalStatus": ["Approved"]},
    }
    (target,) = rule["Properties"]["Targets"]
    assert ":automation-definition/" in json.dumps(target["Arn"]) and json.dumps(target["Arn"]).endswith(
        ':$DEFAULT"]]}'
    )
    assert target["InputTransformer"] == {
        "InputPathsMap": {"package": "$.detail.ModelPackageArn"},
        "InputTemplate": '{"ModelPackageArn": [<package>]}',
    }
    (runbook,) = each_stage.resources("data", "AWS::SSM::Document").values()
    assert runbook["Properties"]["DocumentType"] == "Automation"
    (step,) = runbook["Properties"]["Content"]["mainSteps"]
    assert step["inputs"] | {"Service": "ssm", "Api": "PutParameter", "Name": parameter} == step["inputs"]
    assert step["inputs"]["Value"] == "{{ ModelPackageArn }}" and step["inputs"]["Overwrite"] is True
    # The runbook may write that one parameter and nothing else; CloudFormation never writes it.
    policies = [json.dumps(p) for p in each_stage.resources("data", "AWS::IAM::ManagedPolicy").values()]
    (runbook_policy,) = [p for p in policies if "ssm:PutParameter" in p]
    assert f"parameter{parameter}" in runbook_policy and "*" not in runbook_policy
    names = {p["Properties"]["Name"] for p in each_stage.resources("data", "AWS::SSM::Parameter").values()}
    assert parameter not in names
    assert each_stage.resources("data", "AWS::Lambda::Function") == {}
    trigger_role = target["RoleArn"]["Fn::GetAtt"][0]
    (trigger_policy,) = [
        p["Properties"]["PolicyDocument"]["Statement"]
        for p in each_stage.resources("data", "AWS::IAM::ManagedPolicy").values()
        if p["Properties"]["Roles"] == [{"Ref": trigger_role}]
    ]
    assert [s["Action"] for s in trigger_policy] == ["ssm:StartAutomationExecution", "iam:PassRole"]


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
