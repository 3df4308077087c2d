"""A SageMaker notebook instance: private subnet, own security group, no internet, no root,
IMDSv2 only, encrypted volume, least-privilege role, lifecycle scripts with idle auto-stop."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import CfnTag, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from config.notebooks import NotebookConfig
from constructs import Construct, pseudo
from constructs.acknowledge import acknowledge_wildcard_resources
from constructs.container_repository import image_pull_statements
from constructs.data_channels import data_access_statements
from constructs.endpoint_model import VpcPlacement
from constructs.execution_role import job_creation_statements, key_use_statements, log_statements
from constructs.notebook_lifecycle import NotebookLifecycle
from constructs.sagemaker_logs import NOTEBOOK_LOG_GROUP
from constructs.service_role import service_role


class Notebook(Construct):
    """A SageMaker notebook instance: in a private subnet with its own security group (no ingress,
    HTTPS to the VPC and to S3's prefix list only), no direct internet, no root, IMDSv2 only, volume
    encrypted with the platform key, a least-privilege role, and a lifecycle configuration with idle
    auto-stop.

    Props:
        config: the stage file's `notebooks[]` entry (instance type, volume, idle timeout, repositories, pip packages).
        instance_name: the physical name, `<project>-<stage>-<name>`.
        job_name_prefix: the notebook may start and stop only jobs and pipelines named `<prefix>-*`.
        ssm_prefix: where the platform's published values live (named in the note left for the user).
        vpc: the platform VPC. subnet: the private subnet it runs in.
        s3_prefix_list_id: S3's AWS-managed prefix list: the S3 gateway endpoint carries traffic to
            S3's public addresses, so the group reaches S3 only through a rule to it. None (the local
            AWS, which cannot look it up) leaves the group reaching the VPC only.
        key: the platform KMS key.
        data_bucket, artifacts_bucket: it reads the channels and `models/`, reads and writes `jobs/`.
        repositories: ECR repositories it may pull from.
        execution_role: the only role it may pass to the jobs it starts.
        jobs_vpc: the subnets and the one security group every job it starts must run in.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: NotebookConfig,
        instance_name: str,
        job_name_prefix: str,
        ssm_prefix: str,
        vpc: ec2.IVpc,
        s3_prefix_list_id: str | None,
        subnet: ec2.ISubnet,
        key: kms.IKey,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        repositories: Sequence[ecr.IRepository],
        execution_role: iam.IRole,
        jobs_vpc: VpcPlacement,
    ) -> None:
        super().__init__(scope, id)
        self.instance_name = instance_name
        stack = Stack.of(self)
        self.security_group = ec2.SecurityGroup(
            self,
            "SecurityGroup",
            vpc=vpc,
            description=f"Notebook {self.instance_name}: no ingress, HTTPS out to the VPC endpoints",
            allow_all_outbound=False,
        )
        self.security_group.add_egress_rule(ec2.Peer.ipv4(vpc.vpc_cidr_block), ec2.Port.tcp(443), "VPC endpoints")
        if s3_prefix_list_id is not None:
            self.security_group.add_egress_rule(
                ec2.Peer.prefix_list(s3_prefix_list_id), ec2.Port.tcp(443), "S3 through the gateway endpoint"
            )
        self.role = service_role(
            self, "Role", service="sagemaker.amazonaws.com", description=f"Notebook {self.instance_name}"
        )
        own_arn = stack.format_arn(service="sagemaker", resource="notebook-instance", resource_name=self.instance_name)
        # Creating a job is granted with conditions (job_creation_statements); following one is not.
        jobs = [
            stack.format_arn(service="sagemaker", resource=kind, resource_name=f"{job_name_prefix}-*")
            for kind in ("training-job", "hyper-parameter-tuning-job", "processing-job", "pipeline")
        ]
        policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Least privilege for notebook {self.instance_name}",
            roles=[self.role],
            statements=[
                *data_access_statements(data_bucket, artifacts_bucket),
                *key_use_statements(key, grants=False),
                *job_creation_statements(
                    stack,
                    job_name_prefix=job_name_prefix,
                    subnets=jobs_vpc.subnets,
                    security_group=jobs_vpc.security_group,
                    key=key,
                ),
                iam.PolicyStatement(
                    sid="FollowPlatformJobs",
                    actions=[
                        "sagemaker:StartPipelineExecution",
                        "sagemaker:DescribeTrainingJob",
                        "sagemaker:DescribeHyperParameterTuningJob",
                        "sagemaker:DescribeProcessingJob",
                        "sagemaker:DescribePipeline",
                        "sagemaker:StopTrainingJob",
                        "sagemaker:StopHyperParameterTuningJob",
                        "sagemaker:StopProcessingJob",
                        "sagemaker:AddTags",
                    ],
                    resources=jobs,
                ),
                # The endpoints' drift checks (constructs/drift_monitor.py) are the platform's, not the team's: a
                # stopped or replayed check would hide drift.
                iam.PolicyStatement(
                    sid="LeaveTheDriftChecksAlone",
                    effect=iam.Effect.DENY,
                    actions=[
                        "sagemaker:StartPipelineExecution",
                        "sagemaker:StopPipelineExecution",
                        "sagemaker:RetryPipelineExecution",
                        "sagemaker:CreateProcessingJob",
                        "sagemaker:StopProcessingJob",
                    ],
                    resources=[
                        stack.format_arn(
                            service="sagemaker", resource="pipeline", resource_name=f"{job_name_prefix}-*-monitor"
                        ),
                        stack.format_arn(
                            service="sagemaker",
                            resource="processing-job",
                            resource_name=f"{job_name_prefix}-monitor-*",
                        ),
                    ],
                ),
                iam.PolicyStatement(
                    sid="PassOnlyThePlatformRole",
                    actions=["iam:PassRole"],
                    resources=[execution_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
                *image_pull_statements(repositories),
                iam.PolicyStatement(
                    sid="StopItselfWhenIdle",
                    actions=["sagemaker:DescribeNotebookInstance", "sagemaker:StopNotebookInstance"],
                    resources=[own_arn],
                ),
                # SageMaker names the instance's streams `<instance name>/jupyter.log`, `.../LifecycleConfigOnStart`.
                *log_statements(stack, [NOTEBOOK_LOG_GROUP], stream_prefix=f"{self.instance_name}/", describe=False),
            ],
        )
        acknowledge_wildcard_resources(
            policy,
            "object keys need a wildcard (only under the channel prefixes, and models/ and jobs/ of the artifacts "
            "bucket); job "
            "ARNs are limited to this platform's name prefix; ecr:GetAuthorizationToken takes no resource; "
            "the notebook's log streams are created at run time, only under its own name in the notebooks' log group",
        )
        self.lifecycle = NotebookLifecycle(
            self,
            "Lifecycle",
            settings={
                "IDLE_TIMEOUT_MINUTES": str(config.idle_timeout_minutes),
                "IDLE_IGNORES_OPEN_BROWSERS": str(config.idle_ignores_open_browsers).lower(),
                "PIP_REQUIREMENTS": "\n".join(config.pip_packages),  # a file's lines: pip reads them as data
                "PLATFORM_PREFIX": job_name_prefix,
                "SSM_PREFIX": ssm_prefix,
            },
        )
        repositories_cfn = [
            sagemaker.CfnCodeRepository(
                self,
                f"CodeRepository{index}",
                git_config=sagemaker.CfnCodeRepository.GitConfigProperty(repository_url=repo.url, branch=repo.branch),
            )
            for index, repo in enumerate(config.code_repositories)
        ]
        self.instance = sagemaker.CfnNotebookInstance(
            self,
            "Instance",
            notebook_instance_name=self.instance_name,
            instance_type=config.instance_type,
            volume_size_in_gb=config.volume_size_gb,
            platform_identifier=config.platform_identifier,
            role_arn=self.role.role_arn,
            subnet_id=subnet.subnet_id,
            security_group_ids=[self.security_group.security_group_id],
            direct_internet_access="Disabled",
            root_access="Disabled",
            kms_key_id=key.key_id,
            lifecycle_config_name=self.lifecycle.config.attr_notebook_instance_lifecycle_config_name,
            instance_metadata_service_configuration=sagemaker.CfnNotebookInstance.InstanceMetadataServiceConfigurationProperty(
                minimum_instance_metadata_service_version="2"
            ),
            default_code_repository=repositories_cfn[0].attr_code_repository_name if repositories_cfn else None,
            additional_code_repositories=[r.attr_code_repository_name for r in repositories_cfn[1:]] or None,
            tags=[CfnTag(key="Owner", value=config.owner)],
        )
        self.url = f"https://{self.instance_name}.notebook.{pseudo.REGION}.sagemaker.aws/lab"
        self.console_url = f"https://console.aws.amazon.com/sagemaker/home?region={pseudo.REGION}#/notebook-instances/{self.instance_name}"
