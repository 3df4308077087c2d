"""The base of stacks whose workloads run in the platform network on the data stack's resources."""

from __future__ import annotations

from typing import ClassVar

import jsii
from aws_cdk import Aspects, IAspect, Stack
from aws_cdk import aws_iam as iam

from config import StageConfig
from constructs import Construct, IConstruct
from constructs.published_outputs import PublishedOutputs
from naming import StageNames
from stacks.data_stack import DataStack, PlatformData
from stacks.network_stack import NetworkStack, PlatformNetworkAccess


class WorkloadStack(Stack):
    """`<project>-<stage>-<id in lowercase>`, deployed after the data and network stacks and safe to
    destroy and redeploy. It receives them as `self.platform` and `self.network`, imported from their
    exports, and publishes its own values through `self.outputs`. Its IAM roles live under the
    path `/<prefix>-<id in lowercase>/`, by which the data stack's bucket policies name them."""

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
        self.network = PlatformNetworkAccess.import_into(
            self, names=names, network=config.network, s3_prefix_list=network.publishes_s3_prefix_list
        )
        self.outputs = PublishedOutputs(self, "Published", names=names)
        Aspects.of(self).add(_RolePath(names.role_path(id)))


@jsii.implements(IAspect)
class _RolePath:
    """Puts every IAM role of a stack under one path (roles created later in the stack included)."""

    def __init__(self, path: str) -> None:
        self.path = path

    def visit(self, node: IConstruct) -> None:
        if isinstance(node, iam.CfnRole):
            node.path = self.path
