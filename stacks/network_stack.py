"""The network: the VPC, its endpoints and the security group of SageMaker workloads."""

from __future__ import annotations

from typing import Any

from aws_cdk import Fn, RemovalPolicy, Stack
from aws_cdk import aws_kms as kms

from config import StageConfig
from constructs import Construct
from constructs.acknowledge import acknowledge
from constructs.platform_network import PlatformNetwork
from constructs.published_outputs import PublishedOutputs


class NetworkStack(Stack):
    def __init__(
        self, scope: Construct, id: str, *, stage: str, config: StageConfig, key: kms.IKey, **kwargs: Any
    ) -> None:
        super().__init__(scope, id, termination_protection=not config.sandbox, **kwargs)
        self._configured_zones = config.network.availability_zones
        if self._configured_zones:
            acknowledge(
                self, {"CloudFormation-Validate::W3010": "the stage file names the AZs, so synth needs no lookup"}
            )
        self.network = PlatformNetwork(
            self,
            "Network",
            config=config.network,
            key=key,
            removal_policy=RemovalPolicy.DESTROY if config.sandbox else RemovalPolicy.RETAIN,
        )
        subnets = self.network.subnets

        out = PublishedOutputs(self, "Published", project=config.project, stage=stage)
        out.publish("VpcId", value=self.network.vpc.vpc_id, description="Id of the platform VPC")
        out.publish(
            "PrivateSubnetIds",
            value=Fn.join(",", subnets.subnet_ids),
            description="Comma-separated ids of the private subnets, one per AZ",
        )
        out.publish(
            "AvailabilityZones",
            value=Fn.join(",", subnets.availability_zones),
            description="Comma-separated AZs of the private subnets",
        )
        out.publish(
            "WorkloadSecurityGroupId",
            value=self.network.workload_security_group.security_group_id,
            description="Security group for SageMaker notebooks, jobs and endpoints",
        )

    @property
    def availability_zones(self) -> list[str]:
        # A stack with a fixed environment would look its AZs up in the account at synth; the
        # stage file names them instead, so synth needs no credentials.
        if self._configured_zones:
            return list(self._configured_zones)
        return super().availability_zones
