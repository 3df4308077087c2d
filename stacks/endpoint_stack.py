"""Real-time endpoints, one per entry of the stage file, in the platform's private subnets."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack

from config import StageConfig
from constructs import Construct
from constructs.endpoint_model import VpcPlacement
from constructs.published_outputs import PublishedOutputs
from constructs.realtime_endpoint import RealtimeEndpoint, pascal
from stacks.data_stack import DataStack, import_platform, latest_approved_parameter
from stacks.network_stack import NetworkStack


class EndpointStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stage: str,
        config: StageConfig,
        data: DataStack,
        network: NetworkStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        platform = import_platform(self, data=data, stage=stage, config=config)
        subnets = network.network.subnets.subnets
        # SageMaker spreads an endpoint's instances over the AZs of the subnets it is given.
        if len(subnets) < 2:
            raise ValueError(f"endpoints need private subnets in at least 2 AZs; the network has {len(subnets)}")
        placement = VpcPlacement(subnets=subnets, security_group=network.network.workload_security_group)
        out = PublishedOutputs(self, "Published", project=config.project, stage=stage)
        for entry in config.endpoints:
            name = f"Endpoint{pascal(entry.name)}"
            endpoint = RealtimeEndpoint(
                self,
                name,
                config=entry,
                endpoint_name=f"{config.project}-{stage}-{entry.name}",
                key=platform.key,
                artifacts_bucket=platform.artifacts_bucket,
                repositories=platform.repositories,
                latest_approved_parameter=latest_approved_parameter(config.project, stage),
                vpc=placement,
            )
            out.publish(f"{name}Name", value=endpoint.endpoint_name, description=f"Name of endpoint {entry.name}")
            out.publish(f"{name}Arn", value=endpoint.endpoint_arn, description=f"ARN of endpoint {entry.name}")
            out.publish(
                f"{name}InvokePolicyArn",
                value=endpoint.invoke_policy.managed_policy_arn,
                description=f"Managed policy that allows invoking endpoint {entry.name}",
            )
            out.publish(
                f"{name}AlarmTopicArn",
                value=endpoint.monitoring.topic.topic_arn,
                description=f"SNS topic of the alarms of endpoint {entry.name}",
            )
            if endpoint.data_capture_uri:
                out.publish(
                    f"{name}DataCaptureUri",
                    value=endpoint.data_capture_uri,
                    description=f"S3 URI where endpoint {entry.name} captures requests and responses",
                )
