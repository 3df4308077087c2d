"""The stateful platform: key, buckets and data channels, container repositories, model registry."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from aws_cdk import Fn, RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from config import StageConfig
from constructs import Construct
from constructs.container_repository import ContainerRepository, repository_id
from constructs.data_channels import DataChannels
from constructs.execution_role import SageMakerExecutionRole
from constructs.latest_approved_model import LatestApprovedModel
from constructs.model_registry import ModelRegistry
from constructs.platform_key import PlatformKey
from constructs.published_outputs import PublishedOutputs
from constructs.secure_bucket import AccessLogBucket, SecureBucket


def latest_approved_parameter(project: str, stage: str) -> str:
    """SSM parameter holding the ARN of the registry's most recently approved model package."""
    return f"/{project}/{stage}/latest-approved-model-package"


class DataStack(Stack):
    def __init__(self, scope: Construct, id: str, *, stage: str, config: StageConfig, **kwargs: Any) -> None:
        super().__init__(scope, id, termination_protection=not config.sandbox, **kwargs)
        removal = RemovalPolicy.DESTROY if config.sandbox else RemovalPolicy.RETAIN
        prefix = f"{config.project}-{stage}"
        data = config.data

        self.key = PlatformKey(self, "PlatformKey", alias=f"alias/{prefix}", removal_policy=removal).key
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
        self.artifacts = SecureBucket(
            self,
            "Artifacts",
            key=self.key,
            access_logs=access_logs,
            log_prefix="artifacts/",
            noncurrent_version_expiration_days=data.noncurrent_version_expiration_days,
            removal_policy=removal,
        ).bucket
        self.repositories = {
            name: ContainerRepository(
                self,
                f"{repository_id(name)}Repository",
                repository_name=f"{prefix}-{name}",
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
            group_name=prefix,
            description=f"Models of {prefix}, registered by its training pipelines",
            removal_policy=removal,
        )

        self.latest_approved = LatestApprovedModel(
            self,
            "LatestApprovedModel",
            group_name=self.registry.group_name,
            parameter_name=latest_approved_parameter(config.project, stage),
        )

        self.execution_role = SageMakerExecutionRole(
            self,
            "ExecutionRole",
            data_bucket=self.channels.bucket,
            artifacts_bucket=self.artifacts,
            key=self.key,
            repositories=list(self.repositories.values()),
        ).role

        out = PublishedOutputs(self, "Published", project=config.project, stage=stage)
        out.publish("KeyArn", value=self.key.key_arn, description="ARN of the platform KMS key")
        out.publish("DataBucketName", value=self.channels.bucket.bucket_name, description="Data bucket name")
        out.publish("DataBucketArn", value=self.channels.bucket.bucket_arn, description="Data bucket ARN")
        for channel in self.channels.channel_names:
            out.publish(
                f"{channel.title()}ChannelUri",
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
        out.publish("ArtifactsBucketArn", value=self.artifacts.bucket_arn, description="Model artifacts bucket ARN")
        out.publish("AccessLogsBucketName", value=access_logs.bucket_name, description="S3 access logs bucket name")
        for name, repository in self.repositories.items():
            pascal = repository_id(name)
            out.publish(
                f"{pascal}RepositoryUri",
                value=repository.repository_uri,
                description=f"URI of the {name} ECR repository",
            )
            out.publish(
                f"{pascal}RepositoryArn",
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
            "ExecutionRoleArn",
            value=self.execution_role.role_arn,
            description="SageMaker execution role for the platform's jobs",
        )


@dataclass(frozen=True)
class ImportedPlatform:
    """The data stack's resources as another stack of the stage sees them."""

    key: kms.IKey
    data_bucket: s3.IBucket
    artifacts_bucket: s3.IBucket
    repositories: dict[str, ecr.IRepository]
    execution_role: iam.IRole


def import_platform(scope: Stack, *, data: DataStack, stage: str, config: StageConfig) -> ImportedPlatform:
    """Reads the data stack through its published exports, like any consumer: IAM findings then
    name the resources identically in every stage, so their acknowledgments are stage-stable."""
    prefix = f"{config.project}-{stage}"
    scope.add_stack_dependency(data)

    def imported(output_id: str) -> str:
        return Fn.import_value(f"{prefix}-{output_id}")

    return ImportedPlatform(
        key=kms.Key.from_key_arn(scope, "PlatformKey", imported("KeyArn")),
        data_bucket=s3.Bucket.from_bucket_arn(scope, "DataBucket", imported("DataBucketArn")),
        artifacts_bucket=s3.Bucket.from_bucket_arn(scope, "ArtifactsBucket", imported("ArtifactsBucketArn")),
        repositories={
            name: ecr.Repository.from_repository_attributes(
                scope,
                f"{repository_id(name)}Repository",
                repository_arn=imported(f"{repository_id(name)}RepositoryArn"),
                repository_name=f"{prefix}-{name}",
            )
            for name in config.data.container_repositories
        },
        execution_role=iam.Role.from_role_arn(scope, "ExecutionRole", imported("ExecutionRoleArn"), mutable=False),
    )
