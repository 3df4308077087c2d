"""The network: the VPC, its endpoints and the security groups of SageMaker jobs and endpoints,
and `PlatformNetworkAccess`, what the workload stacks of the stage receive from it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aws_cdk import Annotations, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam

from config import StageConfig
from config.network import NetworkConfig, NewVpc
from constructs import Construct
from constructs.acknowledge import acknowledge
from constructs.execution_role import JobNetworkAccess
from constructs.platform_network import PlatformNetwork
from constructs.published_outputs import PublishedOutputs
from constructs.source_bundle import code_bundles_bucket
from naming import StageNames
from stacks.data_stack import ARTIFACTS_BUCKET_ARN, DATA_BUCKET_ARN, EXECUTION_ROLE_ARN, DataStack, import_key

# Output IDs that the workload stacks import (see PlatformNetworkAccess.import_into).
VPC_ID = "VpcId"
PRIVATE_SUBNET_IDS = "PrivateSubnetIds"
AVAILABILITY_ZONES = "AvailabilityZones"
JOB_SECURITY_GROUP_ID = "JobSecurityGroupId"
ENDPOINT_SECURITY_GROUP_ID = "EndpointSecurityGroupId"
S3_PREFIX_LIST_ID = "S3PrefixListId"


class NetworkStack(Stack):
    """The VPC is stateful (RETAIN and termination protection outside sandbox stages)."""

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        names: StageNames,
        config: StageConfig,
        data: DataStack,
        custom_resources: bool = True,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, termination_protection=not config.sandbox, **kwargs)
        self.add_stack_dependency(data)
        self._configured_zones = config.network.availability_zones
        if self._configured_zones:
            acknowledge(
                self, {"CloudFormation-Validate::W3010": "the stage file names the AZs, so synth needs no lookup"}
            )
        self.network = PlatformNetwork(
            self,
            "Network",
            config=config.network,
            key=import_key(self, names),
            bucket_arns=[Fn.import_value(names.export(arn)) for arn in (DATA_BUCKET_ARN, ARTIFACTS_BUCKET_ARN)],
            removal_policy=RemovalPolicy.DESTROY if config.sandbox else RemovalPolicy.RETAIN,
            # The training pipelines' jobs read their code bundles from the CDK's asset bucket.
            code_bucket=code_bundles_bucket() if config.pipelines else None,
            custom_resources=custom_resources,
        )
        subnets = self.network.subnets
        JobNetworkAccess(
            self,
            "JobNetworkAccess",
            role=iam.Role.from_role_arn(
                self, "ExecutionRole", Fn.import_value(names.export(EXECUTION_ROLE_ARN)), mutable=False
            ),
            subnets=subnets.subnets,
            security_group=self.network.job_security_group,
        )

        out = PublishedOutputs(self, "Published", names=names)
        out.publish(VPC_ID, value=self.network.vpc.vpc_id, description="Id of the platform VPC")
        out.publish(
            PRIVATE_SUBNET_IDS,
            value=Fn.join(",", subnets.subnet_ids),
            description="Comma-separated ids of the private subnets, one per AZ",
        )
        out.publish(
            AVAILABILITY_ZONES,
            value=Fn.join(",", subnets.availability_zones),
            description="Comma-separated AZs of the private subnets",
        )
        out.publish(
            JOB_SECURITY_GROUP_ID,
            value=self.network.job_security_group.security_group_id,
            description="Security group for SageMaker training, processing and tuning jobs",
        )
        out.publish(
            ENDPOINT_SECURITY_GROUP_ID,
            value=self.network.endpoint_security_group.security_group_id,
            description="Security group for SageMaker endpoints",
        )
        # Looked up at deploy time (see PlatformNetwork): without the custom resources (the local
        # AWS) there is no id, and no output, rather than a placeholder a consumer could mistake.
        prefix_list_id = self.network.s3_prefix_list_id
        self.publishes_s3_prefix_list = prefix_list_id is not None
        if prefix_list_id is not None:
            out.publish(
                S3_PREFIX_LIST_ID,
                value=prefix_list_id,
                description="Id of S3's AWS-managed prefix list in the deploy region, for HTTPS egress rules to S3 "
                "through the gateway endpoint",
            )

    @property
    def availability_zones(self) -> list[str]:
        # A stack with a fixed environment would look its AZs up in the account at synth; the
        # stage file names them instead, so synth needs no credentials.
        if self._configured_zones:
            return list(self._configured_zones)
        return super().availability_zones


@dataclass(frozen=True)
class PlatformNetworkAccess:
    """What the network stack gives the workload stacks of its stage, read through its published
    exports: the VPC, its private subnets (one per AZ, in AZ order), the security group of jobs
    (admits itself, for distributed training) and that of endpoints (admits nothing), and the id of
    S3's prefix list, for the egress rules of groups of their own (None where the network stack
    publishes none: on the local AWS)."""

    vpc: ec2.IVpc
    subnets: Sequence[ec2.ISubnet]
    job_security_group: ec2.ISecurityGroup
    endpoint_security_group: ec2.ISecurityGroup
    s3_prefix_list_id: str | None

    @classmethod
    def import_into(
        cls, scope: Stack, *, names: StageNames, network: NetworkConfig, s3_prefix_list: bool
    ) -> PlatformNetworkAccess:
        """Import into `scope` (a stack deployed after the network stack) as constructs `Vpc`,
        `JobSecurityGroup` and `EndpointSecurityGroup`. The number of subnets comes from the stage
        file; the CIDR too. `s3_prefix_list`: whether the network stack publishes S3's prefix list
        id (`NetworkStack.publishes_s3_prefix_list`); an import of a missing export fails the deploy."""
        count = _zone_count(network)

        def imported_list(output_id: str) -> list[str]:
            return Fn.split(",", Fn.import_value(names.export(output_id)), assumed_length=count)

        vpc = ec2.Vpc.from_vpc_attributes(
            scope,
            "Vpc",
            vpc_id=Fn.import_value(names.export(VPC_ID)),
            vpc_cidr_block=network.cidr,
            availability_zones=imported_list(AVAILABILITY_ZONES),
            isolated_subnet_ids=imported_list(PRIVATE_SUBNET_IDS),
        )
        Annotations.of(vpc).acknowledge_warning(
            "@aws-cdk/aws-ec2:noSubnetRouteTableId",
            "workloads place resources in the subnets by id; their route tables stay the network stack's",
        )

        def imported_group(id: str, output_id: str) -> ec2.ISecurityGroup:
            return ec2.SecurityGroup.from_security_group_id(
                scope, id, Fn.import_value(names.export(output_id)), mutable=False
            )

        return cls(
            vpc=vpc,
            subnets=vpc.isolated_subnets,
            job_security_group=imported_group("JobSecurityGroup", JOB_SECURITY_GROUP_ID),
            endpoint_security_group=imported_group("EndpointSecurityGroup", ENDPOINT_SECURITY_GROUP_ID),
            s3_prefix_list_id=Fn.import_value(names.export(S3_PREFIX_LIST_ID)) if s3_prefix_list else None,
        )


def _zone_count(network: NetworkConfig) -> int:
    if isinstance(network, NewVpc):
        return len(network.availability_zones) if network.availability_zones else network.az_count
    return len(network.availability_zones)
