"""Real-time endpoints, one per entry of the stage file, in the platform's private subnets."""

from __future__ import annotations

from config import StageConfig
from constructs import Construct
from constructs.drift_monitor import namespace as drift_namespace
from constructs.endpoint_model import VpcPlacement
from constructs.realtime_endpoint import RealtimeEndpoint
from naming import StageNames, entry_id
from stacks.data_stack import DataStack
from stacks.network_stack import NetworkStack
from stacks.workload_stack import WorkloadStack


class EndpointStack(WorkloadStack):
    DESCRIPTION = "real-time endpoints with blue/green deployments, autoscaling and alarms"

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
        super().__init__(scope, id, names=names, config=config, data=data, network=network)
        # SageMaker spreads an endpoint's instances over the AZs of the subnets it is given
        # (the stage schema guarantees at least 2).
        placement = VpcPlacement(subnets=self.network.subnets, security_group=self.network.endpoint_security_group)
        for entry in config.endpoints:
            id = entry_id("Endpoint", entry.name)
            endpoint = RealtimeEndpoint(
                self,
                id,
                config=entry,
                endpoint_name=names.physical(entry.name),
                key=self.platform.key,
                artifacts_bucket=self.platform.artifacts_bucket,
                repositories=self.platform.repositories,
                latest_approved_parameter=self.platform.latest_approved_parameter,
                vpc=placement,
                log_retention_days=config.data.sagemaker_log_retention_days,
                drift_namespace=drift_namespace(config.project),
            )
            publish = self.outputs.publish
            publish(f"{id}Name", value=endpoint.endpoint_name, description=f"Name of endpoint {entry.name}")
            publish(f"{id}Arn", value=endpoint.endpoint_arn, description=f"ARN of endpoint {entry.name}")
            publish(
                f"{id}InvokePolicyArn",
                value=endpoint.invoke_policy.managed_policy_arn,
                description=f"Managed policy that allows invoking endpoint {entry.name}",
            )
            publish(
                f"{id}AlarmTopicArn",
                value=endpoint.monitoring.topic.topic_arn,
                description=f"SNS topic of the alarms of endpoint {entry.name}",
            )
            if endpoint.data_capture_uri:
                publish(
                    f"{id}DataCaptureUri",
                    value=endpoint.data_capture_uri,
                    description=f"S3 URI where endpoint {entry.name} captures requests and responses",
                )
