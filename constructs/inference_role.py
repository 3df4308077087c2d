"""The role one endpoint's containers run as: read its model, pull its image, write its data
capture, its own log group and metrics, use the platform key through S3 and SageMaker, attach to the
VPC's platform subnets; nothing of the data channels."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.acknowledge import acknowledge_wildcard_resources
from constructs.container_repository import image_pull_statements
from constructs.endpoint_model import VpcPlacement
from constructs.execution_role import (
    VPC_ATTACHMENT_WILDCARDS,
    key_use_statements,
    log_statements,
    metric_statement,
    sagemaker_source_arn,
    vpc_attachment_statements,
)
from constructs.service_role import service_role


class InferenceRole(Construct):
    """The role one endpoint's containers run as: read its model objects, pull its images, write its
    data capture, its own log group and SageMaker's endpoint metrics, use the platform key through S3
    and SageMaker, attach to the platform's subnets; nothing of the data channels and no PassRole.

    Props:
        endpoint_name: the endpoint's physical name (its log group and descriptions name it).
        key: the platform KMS key.
        artifacts_bucket: the bucket holding models and data capture.
        model_objects: keys or key patterns in the artifacts bucket the models load (may be empty).
        capture_prefix: where data capture writes, or None without data capture.
        image_repositories: repositories the models' images come from (may be empty).
        log_group_name: the endpoint's log group, `/aws/sagemaker/Endpoints/<endpoint_name>`.
        vpc: the subnets and security group SageMaker attaches the endpoint's instances to, or None for
            an endpoint outside the VPC (serverless), which then gets no network-interface permissions.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint_name: str,
        key: kms.IKey,
        artifacts_bucket: s3.IBucket,
        model_objects: Sequence[str],
        capture_prefix: str | None,
        image_repositories: Sequence[ecr.IRepository],
        log_group_name: str,
        vpc: VpcPlacement | None,
    ) -> None:
        super().__init__(scope, id)
        self.role = service_role(
            self,
            "Role",
            service="sagemaker.amazonaws.com",
            description=f"Runs the containers of endpoint {endpoint_name}",
            source_arn=sagemaker_source_arn(),
        )
        statements = [
            *key_use_statements(key, grants=True),
            *log_statements(Stack.of(self), [log_group_name]),
            # SageMaker publishes the instance metrics of every endpoint (CPU, memory, disk; CPU may
            # drive autoscaling) under this one namespace, and PutMetricData cannot be limited to
            # this endpoint's dimensions.
            metric_statement(["/aws/sagemaker/Endpoints"]),
        ]
        if vpc is not None:
            statements += vpc_attachment_statements(vpc.subnets, [vpc.security_group])
        if model_objects:
            statements.append(
                iam.PolicyStatement(
                    sid="ReadModel",
                    actions=["s3:GetObject"],
                    resources=[artifacts_bucket.arn_for_objects(k) for k in model_objects],
                )
            )
        if capture_prefix is not None:
            statements.append(
                iam.PolicyStatement(
                    sid="WriteDataCapture",
                    actions=["s3:PutObject"],
                    resources=[artifacts_bucket.arn_for_objects(f"{capture_prefix}*")],
                )
            )
        if image_repositories:
            statements += image_pull_statements(image_repositories)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Least privilege for the containers of endpoint {endpoint_name}",
            roles=[self.role],
            statements=statements,
        )
        acknowledge_wildcard_resources(
            self.policy,
            "data capture writes new object keys under this endpoint's own prefix; the endpoint's log streams "
            "are created at run time in its own log group; ecr:GetAuthorizationToken and cloudwatch:PutMetricData "
            f"(limited to SageMaker's endpoint namespace) take no resource; {VPC_ATTACHMENT_WILDCARDS}",
        )
