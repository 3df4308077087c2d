"""A SageMaker model from one of three sources: a model.tar.gz in the artifacts bucket with an
image, an approved package of the platform's registry, or an AWS Marketplace model package.

L1 (CfnModel): the alpha L2 has no model packages and creates a broad role of its own. The
model's name is left to CloudFormation: models are immutable, so every change replaces it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm

from config.model_sources import (
    LATEST_APPROVED,
    ArtifactModel,
    ImageReference,
    MarketplaceModel,
    ModelConfig,
    RegistryModel,
)
from constructs import Construct

# Where the platform's pipelines put artifacts that they register as model packages.
REGISTERED_MODELS_PREFIX = "models/"


@dataclass(frozen=True)
class VpcPlacement:
    subnets: Sequence[ec2.ISubnet]
    security_group: ec2.ISecurityGroup


@dataclass(frozen=True)
class ModelNeeds:
    """What the inference role must allow for a model to load."""

    objects: tuple[str, ...]  # keys or key patterns in the artifacts bucket
    repositories: tuple[ecr.IRepository, ...]


def model_needs(
    scope: Construct, id: str, config: ModelConfig, repositories: Mapping[str, ecr.IRepository]
) -> ModelNeeds:
    """What the inference role must allow for `config` to load (`id`: construct ID of an imported
    AWS-owned repository, for built-in images)."""
    if isinstance(config, MarketplaceModel):
        return ModelNeeds((), ())  # the seller's image and artifact are SageMaker's to fetch
    if isinstance(config, RegistryModel):
        # A package may name any platform image and any registered artifact.
        return ModelNeeds((f"{REGISTERED_MODELS_PREFIX}*",), tuple(repositories.values()))
    image = config.container_image
    if isinstance(image, ImageReference):
        return ModelNeeds((config.artifact_key,), (repositories[image.repository],))
    return ModelNeeds((config.artifact_key,), (_repository_of(scope, id, image),))


def _repository_of(scope: Construct, id: str, image_uri: str) -> ecr.IRepository:
    """The (AWS-owned) repository of a built-in or framework image URI."""
    registry, path = image_uri.split("/", 1)
    account, _, _, region, *_ = registry.split(".")
    name = path.split("@")[0].split(":")[0]
    arn = Stack.of(scope).format_arn(
        service="ecr", account=account, region=region, resource="repository", resource_name=name
    )
    return ecr.Repository.from_repository_attributes(scope, id, repository_arn=arn, repository_name=name)


class EndpointModel(Construct):
    """A SageMaker model (L1 `CfnModel`, generated name) from one of three sources: a model.tar.gz
    in the artifacts bucket with an image, a package of the platform's registry (a version ARN or
    the latest approved, read from SSM by CloudFormation at deploy time), or a Marketplace package.

    Props:
        config: the endpoint's `model` entry (validated by config).
        role: the role the containers run as (the endpoint's InferenceRole).
        artifacts_bucket: where `artifact` models load from.
        repositories: the platform's ECR repositories by stage-file name.
        latest_approved_parameter: SSM parameter holding the latest approved package ARN.
        vpc: private subnets and security group; None only for serverless variants (no VPC there).
        network_isolation: run the container without network (always on for Marketplace models).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: ModelConfig,
        role: iam.IRole,
        artifacts_bucket: s3.IBucket,
        repositories: Mapping[str, ecr.IRepository],
        latest_approved_parameter: str,
        vpc: VpcPlacement | None,
        network_isolation: bool,
    ) -> None:
        super().__init__(scope, id)
        self.model = sagemaker.CfnModel(
            self,
            "Model",
            execution_role_arn=role.role_arn,
            primary_container=self._container(config, artifacts_bucket, repositories, latest_approved_parameter),
            # Marketplace containers must run isolated: SageMaker refuses them otherwise.
            enable_network_isolation=network_isolation or config.source == "marketplace",
            vpc_config=sagemaker.CfnModel.VpcConfigProperty(
                subnets=[s.subnet_id for s in vpc.subnets], security_group_ids=[vpc.security_group.security_group_id]
            )
            if vpc
            else None,
        )
        self.model_name = self.model.attr_model_name

    def _container(
        self,
        config: ModelConfig,
        bucket: s3.IBucket,
        repositories: Mapping[str, ecr.IRepository],
        latest_approved_parameter: str,
    ) -> sagemaker.CfnModel.ContainerDefinitionProperty:
        environment = dict(config.environment) or None
        if isinstance(config, ArtifactModel):
            image = config.container_image
            return sagemaker.CfnModel.ContainerDefinitionProperty(
                image=repositories[image.repository].repository_uri_for_tag(image.tag)
                if isinstance(image, ImageReference)
                else image,
                model_data_url=bucket.s3_url_for_object(config.artifact_key),
                environment=environment,
            )
        package = config.model_package
        if package == LATEST_APPROVED:
            # A CloudFormation parameter of SSM type: read when the stack deploys, never at synth.
            package = ssm.StringParameter.value_for_string_parameter(self, latest_approved_parameter)
        return sagemaker.CfnModel.ContainerDefinitionProperty(model_package_name=package, environment=environment)
