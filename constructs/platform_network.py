"""The VPC SageMaker workloads run in: private subnets only, VPC endpoints instead of internet."""

from __future__ import annotations

from typing import cast

from aws_cdk import Aws, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from config.network import ExistingVpc, NewVpc
from constructs import Construct
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


class PlatformNetwork(Construct):
    """The VPC SageMaker workloads run in: a new one (isolated private subnets only, no NAT, no
    internet gateway, flow logs to a log group encrypted with the platform key) or an existing one
    imported from ids; the S3 gateway and the interface endpoints SageMaker needs without internet;
    the security group of SageMaker workloads.

    Props:
        config: the stage file's `network` section (`create` or `import`, validated by config).
        key: encrypts the flow log group.
        removal_policy: of the flow log group: DESTROY in sandbox stages, RETAIN elsewhere.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: NewVpc | ExistingVpc,
        key: kms.IKey,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
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
            self.vpc.add_gateway_endpoint("S3Endpoint", service=ec2.GatewayVpcEndpointAwsService.S3, subnets=[private])
        self.endpoint_security_group = ec2.SecurityGroup(
            self,
            "EndpointSecurityGroup",
            vpc=self.vpc,
            description="HTTPS from inside the VPC to the interface endpoints",
            allow_all_outbound=False,
        )
        self.endpoint_security_group.add_ingress_rule(
            ec2.Peer.ipv4(config.cidr), ec2.Port.tcp(443), "HTTPS from the VPC"
        )
        for name in config.interface_endpoints:
            self.vpc.add_interface_endpoint(
                pascal(name) + "Endpoint",
                service=ENDPOINT_SERVICES[name],
                private_dns_enabled=True,
                subnets=private,
                security_groups=[self.endpoint_security_group],
                open=False,
            )

        self.workload_security_group = ec2.SecurityGroup(
            self,
            "WorkloadSecurityGroup",
            vpc=self.vpc,
            description="SageMaker notebooks, jobs and endpoints of the platform",
            allow_all_outbound=False,
        )
        # Distributed training (NCCL, MPI, parameter servers) talks between the job's own
        # instances on arbitrary ports; SageMaker requires the group to admit itself.
        self.workload_security_group.connections.allow_internally(
            ec2.Port.all_traffic(), "Traffic between containers of one job or endpoint"
        )
        acknowledge(
            self.workload_security_group,
            {
                f"{pack}-EC2RestrictedCommonPorts": "the only ingress rule's source is this security "
                "group itself (instances of one SageMaker job or endpoint), never an IP range"
                for pack in COMPLIANCE_PACKS
            },
        )
        # The subnets route nowhere but to the VPC endpoints and the S3 gateway, so HTTPS
        # egress reaches AWS APIs only (S3's prefix list id differs per region and would need
        # a lookup at synth).
        self.workload_security_group.add_egress_rule(
            ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS to VPC endpoints and the S3 gateway"
        )

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
            # Restricting the default security group needs a Lambda-backed custom resource;
            # nothing in the platform uses the default group (see the acknowledgment below).
            restrict_default_security_group=False,
        )
        acknowledge(
            vpc,
            {
                f"{pack}-VPCDefaultSecurityGroupClosed": "closing the default group needs a "
                "Lambda-backed custom resource; no platform resource uses the default group "
                "(notebooks, jobs, endpoints and VPC endpoints get their own groups)"
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
                conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}},
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
