"""The SageMaker model registry: a model package group that training pipelines register into."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct


class ModelRegistry(Construct):
    """The SageMaker model registry: a model package group (L1, no L2 exists) that training
    pipelines register into. SageMaker requires its name.

    Props:
        group_name: the group's name, `<project>-<stage>` (1-63 characters).
        description: shown in SageMaker.
        removal_policy: DESTROY in sandbox stages, RETAIN elsewhere.
    """

    def __init__(
        self, scope: Construct, id: str, *, group_name: str, description: str, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, id)
        self.group = sagemaker.CfnModelPackageGroup(
            self,
            "Group",
            model_package_group_name=group_name,
            model_package_group_description=description,
        )
        self.group.apply_removal_policy(removal_policy)
        self.group_name = group_name
        # Built from the name rather than read with GetAtt: same value, and it also resolves
        # where the resource type is not modelled (the local AWS used by `make demo`).
        self.group_arn = Stack.of(self).format_arn(
            service="sagemaker", resource="model-package-group", resource_name=group_name
        )
