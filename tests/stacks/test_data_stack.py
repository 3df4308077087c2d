"""The stateful data stack: key, buckets and channels, repositories, registry, outputs (dev and prod)."""

from __future__ import annotations

import json

import pytest
from aws_cdk.assertions import Match

from constructs.data_channels import MODELS_PREFIX
from constructs.endpoint_model import REGISTERED_MODELS_PREFIX
from tests.conftest import SynthesizedStage
from tests.policy_evaluation import ACCOUNT, Principal, Renderer, Request, allowed, bucket_policy, role_principal

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
                                "Condition": {"ArnLike": {"kms:EncryptionContext:aws:logs:arn": Match.any_value()}},
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
    renderer = Renderer(stage.templates)
    resource = f"arn:aws:s3:::{bucket.lower()}/{key}"
    return allowed(who, Request(action, resource, headers), bucket_policy(renderer, "data", bucket))


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
    renderer = Renderer(each_stage.templates)
    (logical_id,) = (k for k in each_stage.resources("data", "AWS::IAM::Role") if k.startswith("ModelPublisherRole"))
    trust = renderer.statements(
        each_stage.templates["data"]["Resources"][logical_id]["Properties"]["AssumeRolePolicyDocument"], "data"
    )
    assert [(s["Principal"], s.get("Condition")) for s in trust] == [
        ({"Service": "sagemaker.amazonaws.com"}, {"StringEquals": {"aws:SourceAccount": ACCOUNT}}),
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
