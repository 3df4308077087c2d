"""The base of stacks whose workloads run in the platform network on the data stack's resources."""

from __future__ import annotations

from typing import ClassVar

from aws_cdk import Stack

from config import StageConfig
from constructs import Construct
from constructs.published_outputs import PublishedOutputs
from naming import StageNames
from stacks.data_stack import DataStack, PlatformData
from stacks.network_stack import NetworkStack, PlatformNetworkAccess


class WorkloadStack(Stack):
    """`<project>-<stage>-<id in lowercase>`, deployed after the data and network stacks and safe to
    destroy and redeploy. It receives them as `self.platform` and `self.network`, imported from their
    exports, and publishes its own values through `self.outputs`."""

    DESCRIPTION: ClassVar[str]  # what the stack holds, for its CloudFormation description

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        names: StageNames,
        config: StageConfig,
        data: DataStack,
        network: NetworkStack,
    ) -> None:
        super().__init__(scope, id, stack_name=names.stack(id), description=f"{names.prefix}: {self.DESCRIPTION}")
        self.add_stack_dependency(data)
        self.add_stack_dependency(network)
        self.platform = PlatformData.import_into(self, names=names, repositories=config.data.container_repositories)
        self.network = PlatformNetworkAccess.import_into(self, names=names, network=config.network)
        self.outputs = PublishedOutputs(self, "Published", names=names)
