"""The roles of a stage's training pipelines: the pipeline role (what SageMaker Pipelines runs the steps
as), the job role (what the pipelines' jobs run as), and the job access the model publisher needs to run
the publish step."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct
from constructs.acknowledge import acknowledge_wildcard_resources
from constructs.container_repository import image_pull_statements
from constructs.data_channels import JOBS_PREFIX, list_artifacts_statement
from constructs.execution_role import (
    VPC_ATTACHMENT_WILDCARDS,
    job_creation_statements,
    key_use_statements,
    log_statements,
    metric_statement,
    sagemaker_source_arn,
    vpc_attachment_statements,
)
from constructs.pipeline_sdk import JobNames
from constructs.service_role import service_role
from model_code.contract import CHANNELS

JOB_LOG_GROUPS = ("/aws/sagemaker/TrainingJobs", "/aws/sagemaker/ProcessingJobs")


class PipelineRoles(Construct):
    """Two roles for all pipelines of a stage, and a policy on the model publisher.

    - the job role: reads `raw/<entry prefix>` of each pipeline, writes the channels under
      `<channel>/<pipeline>/`, reads and writes `jobs/` of the artifacts bucket, reads the code bundles,
      pulls the platform's images, uses the key through S3 and SageMaker, writes the jobs' logs;
    - the pipeline role: creates the jobs only inside the platform (the platform's subnets, security
      group and key; training network-isolated), passes only the job role and the publisher to
      SageMaker, registers only in the stage's model package group, reads the evaluation reports;
    - the publisher's job access: what the model publisher needs to run as the publish step's job
      (logs, the VPC, volume encryption).

    Props:
        job_names: the prefixes of the jobs' names (`<project>-<stage>`; tuning jobs keep 20 characters).
        pipelines: (pipeline name, raw prefix) of each entry.
        data_bucket, artifacts_bucket, key: the data stack's.
        code: the code bundles the jobs read.
        repositories: the ECR repositories the jobs pull images from.
        subnets, security_group: where the jobs run.
        model_package_group_arn: the registry the pipelines register into.
        publisher: the model publisher role (imported, mutable), which runs the publish step.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        job_names: JobNames,
        pipelines: Sequence[tuple[str, str]],
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
        self.job_role = service_role(
            self,
            "JobRole",
            service="sagemaker.amazonaws.com",
            description="Runs the training pipelines' jobs",
            source_arn=sagemaker_source_arn(),
        )
        names = [name for name, _ in pipelines]
        job_statements = [
            iam.PolicyStatement(
                sid="ReadRawData",
                actions=["s3:GetObject"],
                resources=[data_bucket.arn_for_objects(f"{prefix}*") for _, prefix in pipelines],
            ),
            iam.PolicyStatement(
                sid="ReadWriteOwnChannels",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[data_bucket.arn_for_objects(f"{c}/{n}/*") for c in CHANNELS for n in names],
            ),
            iam.PolicyStatement(
                sid="ListOwnData",
                actions=["s3:ListBucket"],
                resources=[data_bucket.bucket_arn],
                conditions={
                    "StringLike": {
                        "s3:prefix": [f"{p}*" for _, p in pipelines] + [f"{c}/{n}/*" for c in CHANNELS for n in names]
                    }
                },
            ),
            iam.PolicyStatement(
                sid="ReadWriteJobs",
                actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                resources=[artifacts_bucket.arn_for_objects(f"{JOBS_PREFIX}*")],
            ),
            list_artifacts_statement(artifacts_bucket, JOBS_PREFIX),
            iam.PolicyStatement(
                sid="ReadCode",
                actions=["s3:GetObject"],
                resources=[asset.bucket.arn_for_objects(asset.s3_object_key) for asset in code],
            ),
            *key_use_statements(key, grants=True),
            *image_pull_statements(repositories),
            *log_statements(stack, JOB_LOG_GROUPS),
            metric_statement(JOB_LOG_GROUPS),
            *vpc_attachment_statements(subnets, [security_group]),
        ]
        self.job_policy = iam.ManagedPolicy(
            self,
            "JobPolicy",
            description="Least privilege for the training pipelines' jobs",
            roles=[self.job_role],
            statements=job_statements,
        )
        acknowledge_wildcard_resources(
            self.job_policy,
            "object keys need a wildcard (only under the entries' raw prefixes, their own channel prefixes and jobs/); "
            "ecr:GetAuthorizationToken and cloudwatch:PutMetricData (limited to the jobs' namespaces) take no "
            "resource; "
            "job log streams are created at run time in the jobs' own log groups; " + VPC_ATTACHMENT_WILDCARDS,
        )

        self.pipeline_role = service_role(
            self,
            "PipelineRole",
            service="sagemaker.amazonaws.com",
            description="Runs the training pipelines' steps",
            source_arn=sagemaker_source_arn(),
        )

        kinds = ("training-job", "processing-job", "hyper-parameter-tuning-job")
        own_jobs = [
            stack.format_arn(service="sagemaker", resource=k, resource_name=job_names.pattern(k)) for k in kinds
        ]
        creation = job_creation_statements(
            stack, job_name_prefix=job_names.prefix, subnets=subnets, security_group=security_group, key=key
        )
        if job_names.tuning != job_names.prefix:  # tuning jobs keep only 20 characters of the prefix
            creation[0].add_resources(own_jobs[2])
        self.pipeline_policy = iam.ManagedPolicy(
            self,
            "PipelinePolicy",
            description="Least privilege for the training pipelines' steps",
            roles=[self.pipeline_role],
            statements=[
                *creation,
                iam.PolicyStatement(
                    sid="FollowOwnJobs",
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
                    resources=own_jobs,
                ),
                iam.PolicyStatement(
                    sid="RegisterInOwnGroup",
                    actions=["sagemaker:CreateModelPackage", "sagemaker:DescribeModelPackage", "sagemaker:AddTags"],
                    resources=[
                        model_package_group_arn,
                        model_package_group_arn.replace(":model-package-group/", ":model-package/") + "/*",
                    ],
                ),
                iam.PolicyStatement(
                    sid="PassOnlyPipelineJobRoles",
                    actions=["iam:PassRole"],
                    resources=[self.job_role.role_arn, publisher.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                iam.PolicyStatement(
                    sid="ReadEvaluationReports",
                    actions=["s3:GetObject"],
                    resources=[artifacts_bucket.arn_for_objects(f"{JOBS_PREFIX}{n}/evaluation/*") for n in names],
                ),
                *key_use_statements(key, grants=False),
            ],
        )
        acknowledge_wildcard_resources(
            self.pipeline_policy,
            "job names get a suffix at run time (only the stage's prefix is allowed), creation is further bound to the "
            "platform's subnets, security group and key; model package versions are numbered at run time (only in "
            "the stage's group); evaluation reports are named by execution",
        )

        self.publisher_policy = iam.ManagedPolicy(
            self,
            "PublisherJobAccess",
            description="Lets the model publisher run the training pipelines' publish step",
            roles=[publisher],
            statements=[
                *key_use_statements(key, grants=True)[1:],
                *log_statements(stack, ["/aws/sagemaker/ProcessingJobs"], describe=True),
                *vpc_attachment_statements(subnets, [security_group]),
            ],
        )
        acknowledge_wildcard_resources(
            self.publisher_policy,
            "job log streams are created at run time in the processing jobs' log group; " + VPC_ATTACHMENT_WILDCARDS,
        )
