"""One deployment stage of the platform (dev, prod, ...): its stacks, wired to each other."""

from __future__ import annotations

from typing import TypeVar

import aws_cdk as cdk

from config import StageConfig
from constructs import Construct
from stacks.data_stack import DataStack
from stacks.endpoint_stack import EndpointStack
from stacks.network_stack import NetworkStack
from stacks.notebook_stack import NotebookStack

# The stacks that run workloads in the platform's network, on the data stack's resources.
W = TypeVar("W", NotebookStack, EndpointStack)

# The local AWS (moto) misreads the CloudFormation tags of these types; `make demo` skips them.
LOCAL_AWS_UNTAGGABLE = ("AWS::KMS::Key", "AWS::SSM::Parameter")


class PlatformStage(cdk.Stage):
    """Stacks are `<stage>/Data`, `<stage>/Network`, ... and deploy as `<project>-<stage>-<role>`."""

    def __init__(self, scope: Construct, stage: str, *, config: StageConfig, local_aws: bool = False) -> None:
        env = cdk.Environment(account=config.account, region=config.region) if config.account else None
        super().__init__(scope, stage, env=env)
        prefix = f"{config.project}-{stage}"
        self.data = DataStack(
            self,
            "Data",
            stack_name=f"{prefix}-data",
            description=f"{prefix}: KMS key, data channels, artifacts, container repositories, model registry",
            stage=stage,
            config=config,
        )
        self.network = NetworkStack(
            self,
            "Network",
            stack_name=f"{prefix}-network",
            description=f"{prefix}: VPC with private subnets, VPC endpoints, workload security group",
            stage=stage,
            config=config,
            key=self.data.key,
        )
        self.notebooks = self._workload_stack(
            NotebookStack,
            "Notebooks",
            stage=stage,
            config=config,
            description="notebook instances with lifecycle configurations and idle auto-stop",
            wanted=bool(config.notebooks),
        )
        self.endpoints = self._workload_stack(
            EndpointStack,
            "Endpoints",
            stage=stage,
            config=config,
            description="real-time endpoints with blue/green deployments, autoscaling and alarms",
            wanted=bool(config.endpoints),
        )
        for key, value in {**config.tags, "Stage": stage}.items():
            skip = list(LOCAL_AWS_UNTAGGABLE) if local_aws else []
            cdk.Tags.of(self).add(key, value, exclude_resource_types=skip)

    def _workload_stack(
        self, stack_class: type[W], id: str, *, stage: str, config: StageConfig, description: str, wanted: bool
    ) -> W | None:
        """A stack of workloads on the data and network stacks, `<project>-<stage>-<id in lowercase>`,
        only when the stage file asks for any."""
        if not wanted:
            return None
        prefix = f"{config.project}-{stage}"
        return stack_class(
            self,
            id,
            stack_name=f"{prefix}-{id.lower()}",
            description=f"{prefix}: {description}",
            stage=stage,
            config=config,
            data=self.data,
            network=self.network,
        )
