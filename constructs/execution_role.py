"""The platform's SageMaker execution role: what training, processing, tuning and batch transform jobs
run as. Notebooks may pass this role, and no other, to the jobs they start. Also the statements every
SageMaker role of the platform shares (the key through AWS services, SageMaker's logs and metrics,
network interfaces in the platform's subnets) and the conditions under which a principal may create jobs."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import ArnFormat, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct, pseudo
from constructs.acknowledge import acknowledge_wildcard_resources
from constructs.container_repository import image_pull_statements
from constructs.data_channels import data_access_statements
from constructs.service_role import service_role

# SageMaker writes a job's logs to the account-wide group of its kind and publishes its instance
# metrics (CPU, memory, disk) under a namespace of the same name, both with the job's role.
JOB_LOG_GROUPS = ("/aws/sagemaker/TrainingJobs", "/aws/sagemaker/ProcessingJobs", "/aws/sagemaker/TransformJobs")
JOB_METRIC_NAMESPACES = JOB_LOG_GROUPS
# The services through which the platform's roles use the key: S3 (SSE-KMS objects) and SageMaker.
KEY_SERVICES = ("s3", "sagemaker")
# SageMaker encrypts the volumes of its instances with a grant created through SageMaker or EBS (EC2).
GRANT_SERVICES = ("sagemaker", "ec2")


def sagemaker_source_arn() -> str:
    """Any SageMaker resource of this account and region: the `aws:SourceArn` SageMaker sets when it
    assumes a role for a training, processing, tuning or transform job, a pipeline or an endpoint."""
    return f"arn:{pseudo.PARTITION}:sagemaker:{pseudo.REGION}:{pseudo.ACCOUNT_ID}:*"


class SageMakerExecutionRole(Construct):
    """The role the platform's SageMaker jobs run as (training, processing, tuning, transform):
    reads the channels and published models, reads and writes `jobs/` of the artifacts bucket (and
    nothing else there), pulls the platform's images, uses the key through S3 and SageMaker, writes the
    jobs' log groups and metric namespaces. Notebooks may pass this role, and no other, to the jobs
    they start. Attaching jobs to the VPC is granted by `JobNetworkAccess`, beside the network.

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
            source_arn=sagemaker_source_arn(),
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Least privilege for the platform's SageMaker jobs",
            roles=[self.role],
            statements=[
                *data_access_statements(data_bucket, artifacts_bucket),
                *key_use_statements(key, grants=True),
                *image_pull_statements(repositories),
                *log_statements(Stack.of(self), JOB_LOG_GROUPS),
                metric_statement(JOB_METRIC_NAMESPACES),
            ],
        )
        acknowledge_wildcard_resources(
            self.policy,
            "object keys need a wildcard (only under the channel prefixes, and models/ and jobs/ of the artifacts "
            "bucket); ecr:GetAuthorizationToken and cloudwatch:PutMetricData (limited to the jobs' namespaces) "
            "take no resource; job log streams are created at run time, only in the jobs' own log groups",
        )


class JobNetworkAccess(Construct):
    """A managed policy on the platform's execution role that lets SageMaker attach the platform's
    jobs to the VPC: network interfaces created only in the given subnets with the given security
    group, and managed only in those subnets. The network stack declares it: the data stack, which
    holds the role, deploys first and cannot name the VPC.

    Props:
        role: the execution role (imported from the data stack's export).
        subnets: the private subnets jobs run in.
        security_group: the one security group jobs may use.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        role: iam.IRole,
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, id)
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Lets SageMaker attach the platform's jobs to its private subnets",
            roles=[role],
            statements=vpc_attachment_statements(subnets, [security_group]),
        )
        acknowledge_wildcard_resources(self.policy, VPC_ATTACHMENT_WILDCARDS)


VPC_ATTACHMENT_WILDCARDS = (
    "a network interface's ID is unknown until SageMaker creates it: creation is limited to the platform's "
    "subnets and security group by ARN, the other interface actions to the platform's subnets by ec2:Subnet; "
    "the EC2 Describe actions take no resource"
)


def key_use_statements(key: kms.IKey, *, grants: bool) -> list[iam.PolicyStatement]:
    """Use the platform key only through S3 and SageMaker of this region (`kms:ViaService`), never
    directly; with `grants`, let SageMaker or EBS create grants for the volumes of its instances
    (`kms:GrantIsForAWSResource`: a grant for an AWS resource, not for a principal of the caller's choosing)."""
    statements = [
        iam.PolicyStatement(
            sid="UsePlatformKeyThroughServices",
            actions=["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
            resources=[key.key_arn],
            conditions={"StringEquals": {"kms:ViaService": _regional(KEY_SERVICES)}},
        )
    ]
    if grants:
        statements.append(
            iam.PolicyStatement(
                sid="LetServicesEncryptVolumes",
                actions=["kms:CreateGrant"],
                resources=[key.key_arn],
                conditions={
                    "Bool": {"kms:GrantIsForAWSResource": "true"},
                    "StringEquals": {"kms:ViaService": _regional(GRANT_SERVICES)},
                },
            )
        )
    return statements


def log_statements(
    stack: Stack, log_groups: Sequence[str], *, stream_prefix: str = "", describe: bool = True
) -> list[iam.PolicyStatement]:
    """Write log streams (named `<stream_prefix>...`) of exactly these log groups; the platform
    declares the groups, so no role may create one (`logs:CreateLogGroup` is granted to none)."""

    def arn(name: str) -> str:
        return stack.format_arn(
            service="logs", resource="log-group", resource_name=name, arn_format=ArnFormat.COLON_RESOURCE_NAME
        )

    statements = [
        iam.PolicyStatement(
            sid="WriteOwnLogs",
            actions=["logs:CreateLogStream", "logs:PutLogEvents"],
            resources=[arn(f"{group}:log-stream:{stream_prefix}*") for group in log_groups],
        )
    ]
    if describe:
        statements.append(
            iam.PolicyStatement(
                sid="DescribeOwnLogStreams",
                actions=["logs:DescribeLogStreams"],
                resources=[arn(f"{group}:*") for group in log_groups],
            )
        )
    return statements


def metric_statement(namespaces: Sequence[str]) -> iam.PolicyStatement:
    """Publish metrics under exactly these namespaces. PutMetricData takes no resource and CloudWatch
    offers no condition on dimensions: within a namespace a role can write any series."""
    return iam.PolicyStatement(
        sid="PublishOwnMetrics",
        actions=["cloudwatch:PutMetricData"],
        resources=["*"],
        conditions={"StringEquals": {"cloudwatch:namespace": list(namespaces)}},
    )


def vpc_attachment_statements(
    subnets: Sequence[ec2.ISubnet], security_groups: Sequence[ec2.ISecurityGroup]
) -> list[iam.PolicyStatement]:
    """What SageMaker does with a role to put a job's or endpoint's instances into the VPC: create
    network interfaces in these subnets with these security groups (by ARN; a new interface has no
    ID yet), manage interfaces only in these subnets (`ec2:Subnet`), and describe the VPC."""
    subnet_arns = [_ec2_arn("subnet", s.subnet_id) for s in subnets]
    return [
        iam.PolicyStatement(
            sid="CreateInterfacesInPlatformSubnets",
            actions=["ec2:CreateNetworkInterface"],
            resources=[
                _ec2_arn("network-interface", "*"),
                *subnet_arns,
                *(_ec2_arn("security-group", g.security_group_id) for g in security_groups),
            ],
        ),
        iam.PolicyStatement(
            sid="ManageInterfacesInPlatformSubnets",
            actions=[
                "ec2:CreateNetworkInterfacePermission",
                "ec2:DeleteNetworkInterface",
                "ec2:DeleteNetworkInterfacePermission",
            ],
            resources=[_ec2_arn("network-interface", "*")],
            conditions={"ArnEquals": {"ec2:Subnet": subnet_arns}},
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


def job_creation_statements(
    stack: Stack,
    *,
    job_name_prefix: str,
    subnets: Sequence[ec2.ISubnet],
    security_group: ec2.ISecurityGroup,
    key: kms.IKey,
) -> list[iam.PolicyStatement]:
    """Create the platform's jobs (named `<job_name_prefix>-*`) only inside the platform: every
    subnet and security group of the request must be the platform's, and the request must name some
    (`Null: false`; `ForAllValues` alone also matches a request without VpcConfig, which would run
    in SageMaker's network with internet access), and volumes and output must use the platform key.
    Training and tuning jobs must also be network-isolated: their containers read inputs and write
    outputs only through SageMaker. Processing jobs may reach AWS APIs through the VPC endpoints
    (Clarify and Model Monitor processors call endpoints and services), so isolation is not forced."""

    def jobs(*kinds: str) -> list[str]:
        return [stack.format_arn(service="sagemaker", resource=k, resource_name=f"{job_name_prefix}-*") for k in kinds]

    inside_the_platform = platform_job_conditions(subnets, security_group, key)
    return [
        iam.PolicyStatement(
            sid="CreateIsolatedTrainingJobs",
            actions=["sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob"],
            resources=jobs("training-job", "hyper-parameter-tuning-job"),
            conditions={**inside_the_platform, "Bool": {"sagemaker:NetworkIsolation": "true"}},
        ),
        iam.PolicyStatement(
            sid="CreateProcessingJobsInTheVpc",
            actions=["sagemaker:CreateProcessingJob"],
            resources=jobs("processing-job"),
            conditions=inside_the_platform,
        ),
    ]


def platform_job_conditions(
    subnets: Sequence[ec2.ISubnet], security_group: ec2.ISecurityGroup, key: kms.IKey
) -> dict[str, dict[str, object]]:
    """The conditions of a job created inside the platform: only the platform's subnets and security
    group, which the request must name (`ForAllValues` alone also matches a request without
    VpcConfig, which would run in SageMaker's network), and the platform key for volumes and output."""
    return {
        "ForAllValues:StringEquals": {
            "sagemaker:VpcSubnets": [s.subnet_id for s in subnets],
            "sagemaker:VpcSecurityGroupIds": [security_group.security_group_id],
        },
        "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
        "ArnEquals": {"sagemaker:VolumeKmsKey": key.key_arn, "sagemaker:OutputKmsKey": key.key_arn},
    }


def _regional(services: Sequence[str]) -> list[str]:
    return [f"{service}.{pseudo.REGION}.amazonaws.com" for service in services]


def _ec2_arn(kind: str, id: str) -> str:
    return f"arn:{pseudo.PARTITION}:ec2:{pseudo.REGION}:{pseudo.ACCOUNT_ID}:{kind}/{id}"
