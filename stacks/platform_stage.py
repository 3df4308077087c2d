"""One deployment stage of the platform (dev, prod, ...): its stacks, wired to each other."""

from __future__ import annotations

import aws_cdk as cdk

from config import StageConfig
from constructs import Construct
from naming import StageNames
from stacks.data_stack import DataStack
from stacks.endpoint_stack import EndpointStack
from stacks.labeling_stack import LabelingStack
from stacks.monitoring_stack import MonitoringStack
from stacks.network_stack import NetworkStack
from stacks.notebook_stack import NotebookStack
from stacks.pipeline_stack import PipelineStack
from stacks.workload_stack import WorkloadStack

# The local AWS (moto) misreads the CloudFormation tags of these types; `make demo` skips them.
LOCAL_AWS_UNTAGGABLE = ("AWS::KMS::Key", "AWS::SSM::Parameter")


class PlatformStage(cdk.Stage):
    """Stacks are `<stage>/Data`, `<stage>/Network`, ... and deploy as `<project>-<stage>-<id>`.
    The workload stacks exist only when the stage file lists entries for them."""

    def __init__(self, scope: Construct, stage: str, *, config: StageConfig, local_aws: bool = False) -> None:
        env = cdk.Environment(account=config.account, region=config.region) if config.account else None
        super().__init__(scope, stage, env=env)
        names = StageNames(config.project, stage)
        self.data = DataStack(
            self,
            "Data",
            stack_name=names.stack("Data"),
            description=f"{names.prefix}: KMS key, data channels, artifacts, container repositories, model registry",
            names=names,
            config=config,
        )
        self.network = NetworkStack(
            self,
            "Network",
            stack_name=names.stack("Network"),
            description=f"{names.prefix}: VPC with private subnets, VPC endpoints, job and endpoint security groups",
            names=names,
            config=config,
            data=self.data,
            # The local AWS cannot run the Lambda functions behind CloudFormation custom resources.
            custom_resources=not local_aws,
        )
        workloads: dict[str, tuple[type[WorkloadStack], bool]] = {
            "Notebooks": (NotebookStack, bool(config.notebooks)),
            "Endpoints": (EndpointStack, bool(config.endpoints)),
            "Pipelines": (PipelineStack, bool(config.pipelines or config.scoring)),
            "Labeling": (LabelingStack, config.labeling is not None),
            "Monitoring": (MonitoringStack, any(entry.monitoring for entry in config.endpoints)),
        }
        self.workloads = {
            id: stack_class(self, id, names=names, config=config, data=self.data, network=self.network)
            for id, (stack_class, wanted) in workloads.items()
            if wanted
        }
        if "Monitoring" in self.workloads:  # Model Monitor's schedules name the endpoints
            self.workloads["Monitoring"].add_stack_dependency(self.workloads["Endpoints"])
        for key, value in {**config.tags, "Stage": stage}.items():
            skip = list(LOCAL_AWS_UNTAGGABLE) if local_aws else []
            cdk.Tags.of(self).add(key, value, exclude_resource_types=skip)
