"""The VPC SageMaker workloads run in: private subnets only, VPC endpoints instead of internet."""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

from aws_cdk import CfnResource, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import custom_resources as cr

from config.network import ExistingVpc, NewVpc
from constructs import Construct, pseudo
from constructs.acknowledge import COMPLIANCE_PACKS, acknowledge
from naming import pascal

# Stage-file names of the interface endpoints -> the AWS services behind them.
ENDPOINT_SERVICES = {
    "sagemaker_api": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_API,
    "sagemaker_runtime": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_RUNTIME,
    "sagemaker_notebook": ec2.InterfaceVpcEndpointAwsService.SAGEMAKER_NOTEBOOK,
    "ecr_api": ec2.InterfaceVpcEndpointAwsService.ECR,
    "ecr_docker": ec2.InterfaceVpcEndpointAwsService.ECR_DOCKER,
    "cloudwatch_logs": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_LOGS,
    "cloudwatch_monitoring": ec2.InterfaceVpcEndpointAwsService.CLOUDWATCH_MONITORING,
    "sts": ec2.InterfaceVpcEndpointAwsService.STS,
    "kms": ec2.InterfaceVpcEndpointAwsService.KMS,
}
# What the platform's roles do in its buckets; the S3 gateway endpoint lets nothing else through.
S3_OBJECT_ACTIONS = [
    "s3:AbortMultipartUpload",
    "s3:GetBucketLocation",
    "s3:GetObject",
    "s3:ListBucket",
    "s3:ListBucketMultipartUploads",
    "s3:ListMultipartUploadParts",
    "s3:PutObject",
]
S3_PREFIX_LIST_ID = "PrefixLists.0.PrefixListId"
# Why the deploy-time functions of custom resources go without what the compliance packs ask of
# functions that serve traffic.
DEPLOY_TIME_FUNCTION = {
    "LambdaInsideVPC": "a deploy-time custom resource function: it calls the EC2 API when CloudFormation "
    "asks and touches no platform data; inside the isolated VPC it would need an EC2 endpoint for nothing else",
    "LambdaConcurrency": "a deploy-time custom resource function that CloudFormation invokes once per change; "
    "reserving concurrency takes it from the account's pool and fails in accounts at the minimum",
    "LambdaDLQ": "a deploy-time custom resource function: a failed invocation fails the CloudFormation "
    "deploy, which reports it; a dead-letter queue would hold nothing to act on",
}
# The packs that check each of those (PCI DSS 3.2.1 asks only for the VPC).
NAG_LAMBDA_RULES = {
    "LambdaInsideVPC": COMPLIANCE_PACKS,
    "LambdaConcurrency": ("HIPAA.Security", "NIST.800.53.R5"),
    "LambdaDLQ": ("HIPAA.Security", "NIST.800.53.R5"),
}
CHECKOV_LAMBDA_CHECKS = {
    "CKV_AWS_117": "LambdaInsideVPC",
    "CKV_AWS_115": "LambdaConcurrency",
    "CKV_AWS_116": "LambdaDLQ",
}


def skip_checkov(function: CfnResource) -> None:
    """The same exemptions for checkov, which reads them from the resource's metadata."""
    function.add_metadata(
        "checkov",
        {"skip": [{"id": id, "comment": DEPLOY_TIME_FUNCTION[rule]} for id, rule in CHECKOV_LAMBDA_CHECKS.items()]},
    )


def own_account_statement() -> iam.PolicyStatement:
    """An endpoint policy statement: any action, for principals of this account only, so that
    credentials of another account cannot be used through the platform's endpoints."""
    return iam.PolicyStatement(
        sid="OwnAccountPrincipalsOnly",
        principals=[iam.AnyPrincipal()],
        actions=["*"],
        resources=["*"],
        conditions={"StringEquals": {"aws:PrincipalAccount": pseudo.ACCOUNT_ID}},
    )


def s3_endpoint_statements(bucket_arns: Sequence[str], *, code_bucket: str | None = None) -> list[iam.PolicyStatement]:
    """The S3 gateway endpoint's policy: the platform's buckets for this account's principals,
    and ECR's image layers: an image pull through the VPC fetches them from an AWS-owned bucket
    through URLs that ECR presigns, so the request's principal is not of this account. With
    `code_bucket`, also reading objects of that bucket (the CDK's asset bucket, where the training
    pipelines' code bundles are), for this account's principals."""
    code = [
        iam.PolicyStatement(
            sid="ReadCodeBundles",
            principals=[iam.AnyPrincipal()],
            actions=["s3:GetObject"],
            resources=[f"arn:{pseudo.PARTITION}:s3:::{code_bucket}/*"],
            conditions={"StringEquals": {"aws:PrincipalAccount": pseudo.ACCOUNT_ID}},
        )
    ]
    return [
        iam.PolicyStatement(
            sid="PlatformBuckets",
            principals=[iam.AnyPrincipal()],
            actions=S3_OBJECT_ACTIONS,
            resources=[arn for bucket in bucket_arns for arn in (bucket, f"{bucket}/*")],
            conditions={"StringEquals": {"aws:PrincipalAccount": pseudo.ACCOUNT_ID}},
        ),
        iam.PolicyStatement(
            sid="EcrImageLayers",
            principals=[iam.AnyPrincipal()],
            actions=["s3:GetObject"],
            resources=[f"arn:{pseudo.PARTITION}:s3:::prod-{pseudo.REGION}-starport-layer-bucket/*"],
        ),
        *(code if code_bucket else []),
    ]


class PlatformNetwork(Construct):
    """The VPC SageMaker workloads run in: a new one (isolated private subnets only, no NAT, no
    internet gateway, flow logs to a log group encrypted with the platform key, its default
    security group closed) or an existing one imported from ids; the S3 gateway and the interface
    endpoints SageMaker needs without internet, each with an endpoint policy; the security groups
    of SageMaker jobs and of SageMaker endpoints.

    Props:
        config: the stage file's `network` section (`create` or `import`, validated by config).
        key: encrypts the flow log group and the custom resources' log group.
        bucket_arns: the platform's buckets, the only buckets of the account that the S3 gateway
            endpoint lets through (non-empty).
        removal_policy: of the log groups: DESTROY in sandbox stages, RETAIN elsewhere.
        code_bucket: a bucket whose objects the S3 gateway endpoint also lets this account read (the
            CDK's asset bucket, when the stage has training pipelines); default none.
        custom_resources: whether to deploy the two Lambda-backed custom resources, which close
            the created VPC's default security group and look up S3's prefix list for the
            workload groups' egress (default True). The local AWS cannot run Lambda functions:
            without them the default group stays open and the workload groups reach the VPC only.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: NewVpc | ExistingVpc,
        key: kms.IKey,
        bucket_arns: Sequence[str],
        removal_policy: RemovalPolicy,
        code_bucket: str | None = None,
        custom_resources: bool = True,
    ) -> None:
        super().__init__(scope, id)
        if not bucket_arns:
            raise ValueError("PlatformNetwork: bucket_arns must name at least one bucket")
        # The deploy-time functions behind the custom resources log here, encrypted and expiring,
        # instead of into log groups that Lambda would create with neither.
        self.custom_resource_logs = (
            logs.LogGroup(
                self,
                "CustomResourceLogGroup",
                encryption_key=key,
                retention=logs.RetentionDays.ONE_YEAR,
                removal_policy=removal_policy,
            )
            if custom_resources
            else None
        )
        self.vpc: ec2.IVpc
        if isinstance(config, NewVpc):
            self.vpc = self._create_vpc(config, key, removal_policy)
            with_s3_gateway = True
        else:
            self.vpc = ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=config.vpc_id,
                vpc_cidr_block=config.cidr,
                availability_zones=list(config.availability_zones),
                isolated_subnet_ids=list(config.private_subnet_ids),
                isolated_subnet_route_table_ids=list(config.private_route_table_ids),
            )
            with_s3_gateway = config.s3_gateway_endpoint
        private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)
        self.subnets = self.vpc.select_subnets(subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)

        if with_s3_gateway:
            gateway = self.vpc.add_gateway_endpoint(
                "S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[private]
            )
            for statement in s3_endpoint_statements(bucket_arns, code_bucket=code_bucket):
                gateway.add_to_policy(statement)
        self.interface_endpoint_security_group = ec2.SecurityGroup(
            self,
            "InterfaceEndpointSecurityGroup",
            vpc=self.vpc,
            description="HTTPS from inside the VPC to the interface endpoints",
            allow_all_outbound=False,
        )
        self.interface_endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(config.cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        for name in config.interface_endpoints:
            endpoint = self.vpc.add_interface_endpoint(
                pascal(name) + "Endpoint",
                service=ENDPOINT_SERVICES[name],
                private_dns_enabled=True,
                subnets=private,
                security_groups=[self.interface_endpoint_security_group],
                open=False,
            )
            endpoint.add_to_policy(own_account_statement())

        # S3 is reached through the gateway endpoint at S3's public addresses, so a security
        # group admits it only through S3's AWS-managed prefix list, whose id differs per region
        # and which CloudFormation cannot return (AWS::EC2::VPCEndpoint has no such attribute).
        s3_prefix_list = self._s3_prefix_list(self.custom_resource_logs) if self.custom_resource_logs else None
        # For groups created elsewhere (notebooks'): None without the custom resources.
        self.s3_prefix_list_id = s3_prefix_list

        self.job_security_group = self._workload_group(
            "JobSecurityGroup", "SageMaker training, processing and tuning jobs of the platform", config, s3_prefix_list
        )
        # Distributed training (NCCL, MPI, parameter servers) talks between a job's own
        # instances on arbitrary ports; SageMaker requires the group to admit itself.
        self.job_security_group.connections.allow_internally(
            ec2.Port.all_traffic(), "Traffic between the instances of one job"
        )
        acknowledge(
            self.job_security_group,
            {
                f"{pack}-EC2RestrictedCommonPorts": "the only ingress rule's source is this security "
                "group itself (the instances of SageMaker jobs, for distributed training), never an IP range"
                for pack in COMPLIANCE_PACKS
            },
        )
        # An endpoint's instances never talk to each other: requests arrive through SageMaker
        # Runtime, which does not enter the VPC, so the group admits nothing.
        self.endpoint_security_group = self._workload_group(
            "EndpointSecurityGroup", "SageMaker endpoints of the platform (no ingress)", config, s3_prefix_list
        )

    def _workload_group(
        self, id: str, description: str, config: NewVpc | ExistingVpc, s3_prefix_list: str | None
    ) -> ec2.SecurityGroup:
        """A group whose egress is HTTPS to the VPC (its interface endpoints) and to S3."""
        group = ec2.SecurityGroup(self, id, vpc=self.vpc, description=description, allow_all_outbound=False)
        group.add_egress_rule(ec2.Peer.ipv4(config.cidr), ec2.Port.tcp(443), "HTTPS to the VPC's interface endpoints")
        if s3_prefix_list is not None:
            group.add_egress_rule(
                ec2.Peer.prefix_list(s3_prefix_list), ec2.Port.tcp(443), "HTTPS to S3 through the gateway endpoint"
            )
        return group

    def _s3_prefix_list(self, log_group: logs.ILogGroup) -> str:
        """The id of S3's AWS-managed prefix list in the deploy region, looked up at deploy time
        by CDK's AwsCustomResource (a Lambda function that CloudFormation invokes when the lookup
        changes), with a role and a log group of our own instead of the defaults."""
        region = Stack.of(self).region
        role = iam.Role(
            self,
            "S3PrefixListRole",
            assumed_by=iam.ServicePrincipal(
                "lambda.amazonaws.com", conditions={"StringEquals": {"aws:SourceAccount": pseudo.ACCOUNT_ID}}
            ),
            description="Looks up the id of S3's prefix list when the network stack deploys",
        )
        policy = iam.ManagedPolicy(
            self,
            "S3PrefixListPolicy",
            description="Read the AWS-managed prefix lists; write the lookup's own log group",
            statements=[
                iam.PolicyStatement(actions=["ec2:DescribeManagedPrefixLists"], resources=["*"]),
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents"], resources=[log_group.log_group_arn]
                ),
            ],
            roles=[role],
        )
        acknowledge(
            policy,
            {
                "AwsSolutions-IAM5[Resource::*]": "ec2:DescribeManagedPrefixLists supports no resource-level "
                "permissions; it reads only the names and ids of prefix lists"
            },
        )
        lookup = cr.AwsCustomResource(
            self,
            "S3PrefixList",
            on_update=cr.AwsSdkCall(
                service="EC2",
                action="describeManagedPrefixLists",
                parameters={"Filters": [{"Name": "prefix-list-name", "Values": [f"com.amazonaws.{region}.s3"]}]},
                physical_resource_id=cr.PhysicalResourceId.from_response(S3_PREFIX_LIST_ID),
                output_paths=[S3_PREFIX_LIST_ID],
            ),
            role=role.without_policy_updates(),
            log_group=log_group,
            install_latest_aws_sdk=False,
        )
        lookup.node.add_dependency(policy)
        # CDK shares one function among the stack's AwsCustomResources, named after this UUID.
        uuid = cr.AwsCustomResource.PROVIDER_FUNCTION_UUID.replace("-", "")
        function = Stack.of(self).node.find_child(f"AWS{uuid}")
        acknowledge(
            function,
            {
                f"{pack}-{rule}": DEPLOY_TIME_FUNCTION[rule]
                for rule, packs in NAG_LAMBDA_RULES.items()
                for pack in packs
            },
        )
        skip_checkov(cast(CfnResource, function.node.default_child))
        return lookup.get_response_field(S3_PREFIX_LIST_ID)

    def _create_vpc(self, config: NewVpc, key: kms.IKey, removal_policy: RemovalPolicy) -> ec2.Vpc:
        vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(config.cidr),
            # Explicit AZs (fixed environments) need no lookup; otherwise Fn::GetAZs picks 2.
            availability_zones=list(config.availability_zones) if config.availability_zones else None,
            max_azs=None if config.availability_zones else config.az_count,
            nat_gateways=0,
            create_internet_gateway=False,
            subnet_configuration=[ec2.SubnetConfiguration(name="Private", subnet_type=ec2.SubnetType.PRIVATE_ISOLATED)],
            # CloudFormation creates every VPC with a default group that admits its own members
            # and lets everything out; a deploy-time custom resource (CDK's own) revokes both
            # rules, so that nothing placed in the VPC without a group of its own can talk.
            restrict_default_security_group=self.custom_resource_logs is not None,
        )
        if self.custom_resource_logs:
            # CDK's provider function (a singleton of the stack) logs into our log group; its role
            # holds AWSLambdaBasicExecutionRole, so it may write there.
            provider = Stack.of(self).node.find_child("Custom::VpcRestrictDefaultSGCustomResourceProvider")
            handler = cast(CfnResource, provider.node.find_child("Handler"))
            handler.add_property_override("LoggingConfig.LogGroup", self.custom_resource_logs.log_group_name)
            skip_checkov(handler)
        else:
            acknowledge(
                vpc,
                {
                    f"{pack}-VPCDefaultSecurityGroupClosed": "only for the local AWS, which cannot run the "
                    "Lambda function that closes the default group; real deployments close it"
                    for pack in COMPLIANCE_PACKS
                },
            )
        log_group = logs.LogGroup(
            self,
            "FlowLogGroup",
            encryption_key=key,
            removal_policy=removal_policy,
        )
        # The schema already limits the value to CloudWatch's periods; set it on the L1 as days.
        cast(logs.CfnLogGroup, log_group.node.default_child).retention_in_days = config.flow_log_retention_days
        role = iam.Role(
            self,
            "FlowLogRole",
            assumed_by=iam.ServicePrincipal(
                "vpc-flow-logs.amazonaws.com",
                conditions={"StringEquals": {"aws:SourceAccount": pseudo.ACCOUNT_ID}},
            ),
            description="Lets VPC flow logs write to the platform's flow log group",
        )
        # A managed policy with exactly these rights, instead of the inline policy that the
        # flow log L2 would add (the compliance packs refuse inline policies).
        iam.ManagedPolicy(
            self,
            "FlowLogPolicy",
            description="Write VPC flow logs to the platform's flow log group",
            statements=[
                iam.PolicyStatement(
                    actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                    resources=[log_group.log_group_arn],
                )
            ],
            roles=[role],
        )
        vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(log_group, role.without_policy_updates()),
            traffic_type=ec2.FlowLogTrafficType.ALL,
        )
        return vpc
