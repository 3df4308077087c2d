"""The stateful platform: key, buckets and data channels, container repositories, model registry,
and `PlatformData`, what the other stacks of the stage receive from it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from config import StageConfig
from constructs import Construct, pseudo
from constructs.container_repository import ContainerRepository
from constructs.data_channels import DATA_CAPTURE_PREFIX, DataChannels, artifacts_boundaries
from constructs.execution_role import SageMakerExecutionRole
from constructs.latest_approved_model import LatestApprovedModel
from constructs.model_publisher import ModelPublisher
from constructs.model_registry import ModelRegistry
from constructs.platform_key import PlatformKey
from constructs.published_outputs import PublishedOutputs
from constructs.sagemaker_logs import SageMakerLogGroups
from constructs.secure_bucket import AccessLogBucket, SecureBucket
from naming import StageNames, pascal, repository_id

# Output IDs that the other stacks of the stage import (see PlatformData.import_into).
KEY_ARN = "KeyArn"
DATA_BUCKET_ARN = "DataBucketArn"
ARTIFACTS_BUCKET_ARN = "ArtifactsBucketArn"
EXECUTION_ROLE_ARN = "ExecutionRoleArn"
MODEL_PUBLISHER_ROLE_ARN = "ModelPublisherRoleArn"


def repository_arn_output(name: str) -> str:
    return f"{repository_id(name)}Arn"


class DataStack(Stack):
    """Stateful: RETAINed and termination-protected outside sandbox stages."""

    def __init__(self, scope: Construct, id: str, *, names: StageNames, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, termination_protection=not config.sandbox, **kwargs)
        removal = RemovalPolicy.DESTROY if config.sandbox else RemovalPolicy.RETAIN
        data = config.data

        self.key = PlatformKey(self, "PlatformKey", alias=names.key_alias, removal_policy=removal).key
        access_logs = AccessLogBucket(
            self, "AccessLogs", retention_days=data.access_log_retention_days, removal_policy=removal
        ).bucket
        self.channels = DataChannels(
            self,
            "DataChannels",
            key=self.key,
            access_logs=access_logs,
            noncurrent_version_expiration_days=data.noncurrent_version_expiration_days,
            removal_policy=removal,
        )
        if any(entry.triggers.on_new_data for entry in config.pipelines):
            # Pipelines that start on new raw data listen for the bucket's EventBridge events: an in-place
            # update of the bucket (no replacement), made only when a pipeline asks for it.
            data_bucket = self.channels.bucket.node.default_child
            assert isinstance(data_bucket, s3.CfnBucket)
            data_bucket.add_property_override(
                "NotificationConfiguration.EventBridgeConfiguration.EventBridgeEnabled", True
            )
        self.artifacts = SecureBucket(
            self,
            "Artifacts",
            key=self.key,
            access_logs=access_logs,
            log_prefix="artifacts/",
            noncurrent_version_expiration_days=data.noncurrent_version_expiration_days,
            removal_policy=removal,
        ).bucket
        self.artifacts.add_lifecycle_rule(
            id="ExpireDataCapture",
            prefix=DATA_CAPTURE_PREFIX,
            expiration=Duration.days(data.data_capture_retention_days),
            # On a versioned bucket expiry keeps the object as an old version: delete that too.
            noncurrent_version_expiration=Duration.days(1),
        )
        self.repositories = {
            name: ContainerRepository(
                self,
                repository_id(name),
                repository_name=names.physical(name),
                key=self.key,
                max_image_count=data.max_images_per_repository,
                untagged_expiry_days=data.untagged_image_expiry_days,
                removal_policy=removal,
            ).repository
            for name in data.container_repositories
        }
        self.registry = ModelRegistry(
            self,
            "ModelRegistry",
            group_name=names.model_package_group,
            description=f"Models of {names.prefix}, registered by its training pipelines",
            removal_policy=removal,
        )
        self.latest_approved = LatestApprovedModel(
            self,
            "LatestApprovedModel",
            group_name=self.registry.group_name,
            parameter_name=names.latest_approved_parameter,
            rule_name=names.physical("publish-approved"),
            dead_letter_queue_name=names.physical("publish-approved-dead-letters"),
            key=self.key,
        )
        self.execution_role = SageMakerExecutionRole(
            self,
            "ExecutionRole",
            data_bucket=self.channels.bucket,
            artifacts_bucket=self.artifacts,
            key=self.key,
            repositories=list(self.repositories.values()),
        ).role
        if data.declare_account_log_groups:
            SageMakerLogGroups(
                self,
                "SageMakerLogGroups",
                key=self.key,
                retention_days=data.sagemaker_log_retention_days,
                removal_policy=removal,
            )
        self.model_publisher = ModelPublisher(
            self, "ModelPublisher", artifacts_bucket=self.artifacts, key=self.key
        ).role

        def roles_of(stack_id: str) -> str:
            return f"arn:{pseudo.PARTITION}:iam::{pseudo.ACCOUNT_ID}:role{names.role_path(stack_id)}*"

        for statement in artifacts_boundaries(
            self.artifacts,
            publishers=[self.model_publisher.role_arn],
            jobs=[self.execution_role.role_arn, roles_of("Notebooks")],
            pipelines=[roles_of("Pipelines")],
            endpoints=[roles_of("Endpoints")],
            monitors=[roles_of("Monitoring")],
        ):
            self.artifacts.add_to_resource_policy(statement)

        out = PublishedOutputs(self, "Published", names=names)
        out.publish(KEY_ARN, value=self.key.key_arn, description="ARN of the platform KMS key")
        out.publish("DataBucketName", value=self.channels.bucket.bucket_name, description="Data bucket name")
        out.publish(DATA_BUCKET_ARN, value=self.channels.bucket.bucket_arn, description="Data bucket ARN")
        for channel in self.channels.channel_names:
            out.publish(
                f"{pascal(channel)}ChannelUri",
                value=self.channels.uri(channel),
                description=f"S3 URI of the {channel} channel",
            )
        out.publish(
            "RawDataUri",
            value=self.channels.uri(self.channels.raw_prefix),
            description="S3 URI of raw data before the split",
        )
        out.publish(
            "LabelingUri",
            value=self.channels.uri(self.channels.labeling_prefix),
            description="S3 URI of data for Ground Truth labeling",
        )
        out.publish("ArtifactsBucketName", value=self.artifacts.bucket_name, description="Model artifacts bucket name")
        out.publish(ARTIFACTS_BUCKET_ARN, value=self.artifacts.bucket_arn, description="Model artifacts bucket ARN")
        out.publish("AccessLogsBucketName", value=access_logs.bucket_name, description="S3 access logs bucket name")
        for name, repository in self.repositories.items():
            out.publish(
                f"{repository_id(name)}Uri",
                value=repository.repository_uri,
                description=f"URI of the {name} ECR repository",
            )
            out.publish(
                repository_arn_output(name),
                value=repository.repository_arn,
                description=f"ARN of the {name} ECR repository",
            )
        out.publish(
            "ModelPackageGroupName",
            value=self.registry.group_name,
            description="Model registry (model package group) name",
        )
        out.publish(
            "ModelPackageGroupArn",
            value=self.registry.group_arn,
            description="Model registry (model package group) ARN",
        )
        out.publish(
            "LatestApprovedModelParameterName",
            value=self.latest_approved.parameter_name,
            description="SSM parameter holding the ARN of the most recently approved model package",
        )
        out.publish(
            EXECUTION_ROLE_ARN,
            value=self.execution_role.role_arn,
            description="SageMaker execution role for the platform's jobs",
        )
        out.publish(
            MODEL_PUBLISHER_ROLE_ARN,
            value=self.model_publisher.role_arn,
            description="The only role that may write models/ of the artifacts bucket (what endpoints serve)",
        )


@dataclass(frozen=True)
class PlatformData:
    """What the data stack gives the other stacks of its stage, read through its published
    exports (the same contract other teams use), never through CDK's automatic references: so
    there is one mechanism between stacks, and the values render identically in every stage."""

    key: kms.IKey
    data_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket
    repositories: Mapping[str, ecr.IRepository]
    execution_role: iam.IRole
    latest_approved_parameter: str

    @classmethod
    def import_into(cls, scope: Stack, *, names: StageNames, repositories: Sequence[str]) -> PlatformData:
        """Import into `scope` (a stack deployed after the data stack) as constructs
        `PlatformKey`, `DataBucket`, `ArtifactsBucket`, `<Name>Repository`, `ExecutionRole`."""

        def imported(output_id: str) -> str:
            return Fn.import_value(names.export(output_id))

        return cls(
            key=import_key(scope, names),
            data_bucket=s3.Bucket.from_bucket_arn(scope, "DataBucket", imported(DATA_BUCKET_ARN)),
            artifacts_bucket=s3.Bucket.from_bucket_arn(scope, "ArtifactsBucket", imported(ARTIFACTS_BUCKET_ARN)),
            repositories={
                name: ecr.Repository.from_repository_attributes(
                    scope,
                    repository_id(name),
                    repository_arn=imported(repository_arn_output(name)),
                    repository_name=names.physical(name),
                )
                for name in repositories
            },
            execution_role=iam.Role.from_role_arn(scope, "ExecutionRole", imported(EXECUTION_ROLE_ARN), mutable=False),
            latest_approved_parameter=names.latest_approved_parameter,
        )


def import_key(scope: Stack, names: StageNames) -> kms.IKey:
    """The platform key as construct `PlatformKey` of `scope`, from the data stack's export."""
    return kms.Key.from_key_arn(scope, "PlatformKey", Fn.import_value(names.export(KEY_ARN)))
