"""The platform's SageMaker execution role: what training, processing, tuning and batch transform jobs
run as. Notebooks may pass this role, and no other, to the jobs they start."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Aws
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.acknowledge import acknowledge_wildcard_resources
from constructs.container_repository import image_pull_statements
from constructs.data_channels import data_access_statements
from constructs.service_role import service_role


class SageMakerExecutionRole(Construct):
    """The role the platform's SageMaker jobs run as (training, processing, tuning, transform):
    reads the channels and published models, reads and writes `jobs/` of the artifacts bucket (and
    nothing else there), pulls the platform's images, uses the key,
    writes SageMaker's logs and metrics, and attaches jobs to the VPC. Notebooks may pass this role,
    and no other, to the jobs they start.

    Props:
        data_bucket: the data bucket; only its channel prefixes are readable.
        artifacts_bucket: jobs read `models/` and read and write `jobs/` of it.
        key: the platform KMS key.
        repositories: the ECR repositories jobs may pull images from.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        key: kms.IKey,
        repositories: Sequence[ecr.IRepository],
    ) -> None:
        super().__init__(scope, id)
        self.role = service_role(
            self,
            "Role",
            service="sagemaker.amazonaws.com",
            description="Runs the platform's SageMaker jobs (endpoints run as roles of their own)",
        )
        sagemaker_logs = f"arn:{Aws.PARTITION}:logs:{Aws.REGION}:{Aws.ACCOUNT_ID}:log-group:/aws/sagemaker/*"
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Least privilege for the platform's SageMaker jobs",
            roles=[self.role],
            statements=[
                *data_access_statements(data_bucket, artifacts_bucket),
                iam.PolicyStatement(
                    sid="UsePlatformKey",
                    actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant"],
                    resources=[key.key_arn],
                ),
                *image_pull_statements(repositories),
                *sagemaker_runtime_statements(sagemaker_logs),
            ],
        )
        acknowledge_wildcard_resources(
            self.policy,
            "object keys need a wildcard (only under the channel prefixes, and models/ and jobs/ of the artifacts "
            "bucket); "
            "ecr:GetAuthorizationToken, cloudwatch:PutMetricData (limited by namespace) and the EC2 "
            "network-interface actions that attach jobs to the VPC take no resource; SageMaker's log "
            "streams live under /aws/sagemaker/",
        )


def sagemaker_runtime_statements(log_groups: str) -> list[iam.PolicyStatement]:
    """What a SageMaker job or endpoint container needs around its own work: write its logs to
    `log_groups`, publish metrics under SageMaker's namespaces, and attach to the VPC."""
    return [
        iam.PolicyStatement(
            sid="SageMakerLogs",
            actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
            resources=[log_groups],
        ),
        iam.PolicyStatement(
            sid="SageMakerMetrics",
            actions=["cloudwatch:PutMetricData"],
            resources=["*"],
            conditions={"StringLike": {"cloudwatch:namespace": ["/aws/sagemaker/*", "aws/sagemaker/*"]}},
        ),
        iam.PolicyStatement(
            sid="AttachToTheVpc",
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            resources=[
                f"arn:{Aws.PARTITION}:ec2:{Aws.REGION}:{Aws.ACCOUNT_ID}:{kind}/*"
                for kind in ("network-interface", "subnet", "security-group")
            ],
        ),
        iam.PolicyStatement(
            sid="DescribeTheVpc",
            actions=[
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeVpcs",
                "ec2:DescribeDhcpOptions",
                "ec2:DescribeSubnets",
                "ec2:DescribeSecurityGroups",
            ],
            resources=["*"],
        ),
    ]
