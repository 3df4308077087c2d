"""One deployment stage of the platform (dev, prod, ...): its stacks, wired to each other."""

from __future__ import annotations

import aws_cdk as cdk

from config.schema import StageConfig
from constructs import Construct
from stacks.data_stack import DataStack
from stacks.endpoint_stack import EndpointStack
from stacks.network_stack import NetworkStack
from stacks.notebook_stack import NotebookStack

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
        self.notebooks = (
            NotebookStack(
                self,
                "Notebooks",
                stack_name=f"{prefix}-notebooks",
                description=f"{prefix}: notebook instances with lifecycle configurations and idle auto-stop",
                stage=stage,
                config=config,
                data=self.data,
                network=self.network,
            )
            if config.notebooks
            else None
        )
        self.endpoints = (
            EndpointStack(
                self,
                "Endpoints",
                stack_name=f"{prefix}-endpoints",
                description=f"{prefix}: real-time endpoints with blue/green deployments, autoscaling and alarms",
                stage=stage,
                config=config,
                data=self.data,
                network=self.network,
            )
            if config.endpoints
            else None
        )
        for key, value in {**config.tags, "Stage": stage}.items():
            skip = list(LOCAL_AWS_UNTAGGABLE) if local_aws else []
            cdk.Tags.of(self).add(key, value, exclude_resource_types=skip)
