"""The roles of a training pipeline: the pipeline role (what SageMaker Pipelines runs its steps as) and
the job role (what its jobs run as); and the job access the model publisher needs to run the publish
steps."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct, pseudo
from constructs.acknowledge import acknowledge_wildcard_resources
from constructs.container_repository import image_pull_statements
from constructs.data_channels import MODELS_PREFIX, PIPELINES_PREFIX
from constructs.execution_role import (
    VPC_ATTACHMENT_WILDCARDS,
    key_use_statements,
    log_statements,
    metric_statement,
    platform_job_conditions,
    sagemaker_source_arn,
    vpc_attachment_statements,
)
from constructs.pipeline_sdk import JobNames
from constructs.service_role import service_role
from model_code.contract import CHANNELS

JOB_LOG_GROUPS = ("/aws/sagemaker/TrainingJobs", "/aws/sagemaker/ProcessingJobs")
TRANSFORM_LOG_GROUP = "/aws/sagemaker/TransformJobs"


class PipelineRoles(Construct):
    """The two roles of one training pipeline (`entry`), so that one pipeline can neither read another
    entry's raw data nor write its channels or artifacts.

    - the job role: reads `raw/<entry prefix>` (and, with a transform step, its input prefix and the
      entry's published models under `models/<entry>/`), reads and writes `<channel>/<entry>/` of the data
      bucket and `pipelines/<entry>/` of the artifacts bucket (whose policy lets only pipeline roles
      write there), reads its code bundles, pulls the platform's images, uses the key through S3 and
      SageMaker, writes log streams of the stage's jobs;
    - the pipeline role: creates jobs only inside the platform: the platform's subnets, job security
      group and key, network isolation and encrypted traffic between instances for every job;
      follows and stops the stage's jobs, passes only its job role and the model publisher to
      SageMaker, registers only `PendingManualApproval` packages of the stage's group, reads its
      evaluation reports; with a transform step, creates network-isolated models in the platform's
      subnets and transform jobs of those models with the key, both under the stage's job names.

    Props:
        entry: the pipeline entry's name.
        raw_prefix: its raw data, `raw/.../`.
        transform_prefix: what its transform step scores, `raw/.../` (None: no transform step).
        job_names: the prefixes of the jobs' names (`<project>-<stage>`; tuning jobs keep 20 characters).
        data_bucket, artifacts_bucket, key: the data stack's.
        code: the code bundles its jobs read.
        repositories: the ECR repositories its jobs may pull images from.
        subnets, security_group: where its jobs run.
        model_package_group_arn: the registry it registers into.
        publisher: the model publisher role, which runs its publish step.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        entry: str,
        raw_prefix: str,
        transform_prefix: str | None = None,
        job_names: JobNames,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        code: Sequence[s3_assets.Asset],
        repositories: Sequence[ecr.IRepository],
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
        model_package_group_arn: str,
        publisher: iam.IRole,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        own = f"{PIPELINES_PREFIX}{entry}/"
        channels = [f"{c}/{entry}/" for c in CHANNELS]
        raw = [raw_prefix] + ([transform_prefix] if transform_prefix and transform_prefix != raw_prefix else [])
        log_groups = (*JOB_LOG_GROUPS, TRANSFORM_LOG_GROUP) if transform_prefix else JOB_LOG_GROUPS
        self.job_role = service_role(
            self,
            "JobRole",
            service="sagemaker.amazonaws.com",
            description=f"Runs the jobs of training pipeline {entry}",
            source_arn=sagemaker_source_arn(),
        )
        self.job_policy = iam.ManagedPolicy(
            self,
            "JobPolicy",
            description=f"Least privilege for the jobs of training pipeline {entry}",
            roles=[self.job_role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadOwnRawData",
                    actions=["s3:GetObject"],
                    resources=[data_bucket.arn_for_objects(f"{p}*") for p in raw],
                ),
                iam.PolicyStatement(
                    sid="ReadWriteOwnChannels",
                    actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[data_bucket.arn_for_objects(f"{c}*") for c in channels],
                ),
                iam.PolicyStatement(
                    sid="ListOwnData",
                    actions=["s3:ListBucket"],
                    resources=[data_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in (*raw, *channels)]}},
                ),
                iam.PolicyStatement(
                    sid="ReadWriteOwnArtifacts",
                    actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[artifacts_bucket.arn_for_objects(f"{own}*")],
                ),
                iam.PolicyStatement(
                    sid="ListOwnArtifacts",
                    actions=["s3:ListBucket"],
                    resources=[artifacts_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{own}*"]}},
                ),
                *(
                    [
                        iam.PolicyStatement(
                            sid="ReadOwnPublishedModels",  # what the transform step's model serves
                            actions=["s3:GetObject"],
                            resources=[artifacts_bucket.arn_for_objects(f"{MODELS_PREFIX}{entry}/*")],
                        )
                    ]
                    if transform_prefix
                    else []
                ),
                iam.PolicyStatement(
                    sid="ReadCode",
                    actions=["s3:GetObject"],
                    resources=[asset.bucket.arn_for_objects(asset.s3_object_key) for asset in code],
                ),
                *key_use_statements(key, grants=True),
                *image_pull_statements(repositories),
                *log_statements(stack, log_groups, stream_prefix=job_names.log_streams),
                metric_statement(log_groups),
                *vpc_attachment_statements(subnets, [security_group]),
            ],
        )
        acknowledge_wildcard_resources(
            self.job_policy,
            f"object keys need a wildcard (only under {', '.join(raw)}, the channels' {entry}/ prefixes, {own}"
            + (f" and {MODELS_PREFIX}{entry}/" if transform_prefix else "")
            + "); "
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData (limited to the jobs' namespaces) take no "
            "resource; log streams are named after jobs at run time (only the stage's jobs, in the jobs' own "
            "log groups); " + VPC_ATTACHMENT_WILDCARDS,
        )

        self.pipeline_role = service_role(
            self,
            "PipelineRole",
            service="sagemaker.amazonaws.com",
            description=f"Runs the steps of training pipeline {entry}",
            source_arn=sagemaker_source_arn(),
        )
        kinds = ("training-job", "processing-job", "hyper-parameter-tuning-job")
        jobs = {k: stack.format_arn(service="sagemaker", resource=k, resource_name=job_names.pattern(k)) for k in kinds}
        inside_the_platform = {
            **platform_job_conditions(subnets, security_group, key),
            "Bool": {"sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true"},
        }
        model_packages = model_package_group_arn.replace(":model-package-group/", ":model-package/") + "/*"
        self.pipeline_policy = iam.ManagedPolicy(
            self,
            "PipelinePolicy",
            description=f"Least privilege for the steps of training pipeline {entry}",
            roles=[self.pipeline_role],
            statements=[
                iam.PolicyStatement(
                    sid="CreateIsolatedJobsInThePlatform",
                    actions=[
                        "sagemaker:CreateTrainingJob",
                        "sagemaker:CreateHyperParameterTuningJob",
                        "sagemaker:CreateProcessingJob",
                    ],
                    resources=list(jobs.values()),
                    conditions=inside_the_platform,
                ),
                iam.PolicyStatement(
                    sid="FollowStageJobs",
                    actions=[
                        "sagemaker:DescribeTrainingJob",
                        "sagemaker:StopTrainingJob",
                        "sagemaker:DescribeProcessingJob",
                        "sagemaker:StopProcessingJob",
                        "sagemaker:DescribeHyperParameterTuningJob",
                        "sagemaker:StopHyperParameterTuningJob",
                        "sagemaker:ListTrainingJobsForHyperParameterTuningJob",
                        "sagemaker:AddTags",
                    ],
                    resources=list(jobs.values()),
                ),
                iam.PolicyStatement(
                    sid="RegisterPendingApproval",
                    actions=["sagemaker:CreateModelPackage"],
                    resources=[model_package_group_arn, model_packages],
                    conditions={"StringEquals": {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}},
                ),
                iam.PolicyStatement(
                    sid="FollowRegistration",
                    actions=["sagemaker:DescribeModelPackage", "sagemaker:AddTags"],
                    resources=[model_packages],
                ),
                iam.PolicyStatement(
                    sid="PassOnlyOwnJobRoles",
                    actions=["iam:PassRole"],
                    resources=[self.job_role.role_arn, publisher.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="ReadOwnEvaluations",
                    actions=["s3:GetObject"],
                    resources=[artifacts_bucket.arn_for_objects(f"{own}evaluation/*")],
                ),
                *(transform_job_statements(stack, job_names, subnets, security_group, key) if transform_prefix else []),
                iam.PolicyStatement(
                    sid="DecryptThroughS3",
                    actions=["kms:Decrypt"],
                    resources=[key.key_arn],
                    conditions={"StringEquals": {"kms:ViaService": [f"s3.{pseudo.REGION}.amazonaws.com"]}},
                ),
            ],
        )
        acknowledge_wildcard_resources(
            self.pipeline_policy,
            "job names get a suffix at run time (only the stage's prefix; creation is further bound to the "
            "platform's subnets, security group and key, with network isolation and encrypted traffic); model "
            "package versions are numbered at run time (only in the stage's group); evaluation reports are "
            "named by execution"
            + (
                "; models and transform jobs get a suffix at run time too (only the stage's prefix; models only "
                "network-isolated in the platform's subnets and security group, transform jobs only of those models "
                "and with the platform key)"
                if transform_prefix
                else ""
            ),
        )


class PublisherJobAccess(Construct):
    """A policy on the model publisher (a data-stack role) that lets it run the training pipelines'
    publish steps: a processing job's log streams, network interfaces in the platform's subnets and
    volume encryption with the key.

    Props:
        publisher: the model publisher role (imported, mutable).
        job_names: the prefixes of the jobs' names.
        key: the platform KMS key.
        subnets, security_group: where the publish steps run.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        publisher: iam.IRole,
        job_names: JobNames,
        key: kms.IKey,
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, id)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Lets the model publisher run the training pipelines' publish steps",
            roles=[publisher],
            statements=[
                *key_use_statements(key, grants=True)[1:],
                *log_statements(Stack.of(self), ["/aws/sagemaker/ProcessingJobs"], stream_prefix=job_names.log_streams),
                *vpc_attachment_statements(subnets, [security_group]),
            ],
        )
        acknowledge_wildcard_resources(
            self.policy,
            "log streams are named after the publish jobs at run time (only the stage's jobs, in the processing "
            "jobs' log group); " + VPC_ATTACHMENT_WILDCARDS,
        )


def transform_job_statements(
    stack: Stack,
    job_names: JobNames,
    subnets: Sequence[ec2.ISubnet],
    security_group: ec2.ISecurityGroup,
    key: kms.IKey,
) -> list[iam.PolicyStatement]:
    """CreateModel (condition keys: NetworkIsolation, VpcSubnets, VpcSecurityGroupIds) and
    CreateTransformJob (ModelArn, OutputKmsKey, VolumeKmsKey), as the service authorization reference
    lists them, each under the stage's job names."""
    model, transform = (
        stack.format_arn(service="sagemaker", resource=kind, resource_name=job_names.pattern(kind))
        for kind in ("model", "transform-job")
    )
    inside = platform_job_conditions(subnets, security_group, key)
    return [
        iam.PolicyStatement(
            sid="CreateIsolatedModelsInThePlatform",
            actions=["sagemaker:CreateModel"],
            resources=[model],
            conditions={
                "ForAllValues:StringEquals": inside["ForAllValues:StringEquals"],
                "Null": inside["Null"],
                "Bool": {"sagemaker:NetworkIsolation": "true"},
            },
        ),
        iam.PolicyStatement(
            sid="CreateTransformJobsOfStageModelsWithTheKey",
            actions=["sagemaker:CreateTransformJob"],
            resources=[transform],
            conditions={"ArnEquals": inside["ArnEquals"], "ArnLike": {"sagemaker:ModelArn": model}},
        ),
        iam.PolicyStatement(
            sid="FollowStageModelsAndTransformJobs",
            actions=[
                "sagemaker:DescribeModel",
                "sagemaker:DescribeTransformJob",
                "sagemaker:StopTransformJob",
                "sagemaker:AddTags",
            ],
            resources=[model, transform],
        ),
    ]
