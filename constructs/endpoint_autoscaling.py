"""Application Auto Scaling of one production variant's instance count: target tracking on
invocations per instance, optionally on CPU, and scheduled capacity changes.

The scalable target depends on the endpoint: it is registered after the endpoint exists and
deregistered before the endpoint is deleted. SageMaker refuses an update that changes the
instance type of a registered variant: see the README (Endpoints) for the two-step change."""

from __future__ import annotations

from aws_cdk import Duration, Stack, TimeZone
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sagemaker as sagemaker

from config.autoscaling import AutoscalingConfig
from constructs import Construct
from naming import pascal
from sagemaker_facts import vcpus

SERVICE_LINKED_ROLE = (
    "aws-service-role/sagemaker.application-autoscaling.amazonaws.com/"
    "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint"
)


def invocations_target(config: AutoscalingConfig) -> int:
    """Invocations per instance per minute to aim for: given, or a share of a measured maximum."""
    if config.target_invocations_per_instance is not None:
        return config.target_invocations_per_instance
    if config.max_rps_per_instance is None:
        raise ValueError("autoscaling needs target_invocations_per_instance or max_rps_per_instance")
    return max(1, round(config.max_rps_per_instance * 60 * config.safety_factor))


class EndpointAutoscaling(Construct):
    """Application Auto Scaling of one production variant: a scalable target registered after the
    endpoint, target tracking on invocations per instance, optionally on CPU, scheduled ranges.

    Props:
        endpoint: the endpoint resource the target depends on (registered after it, removed before it).
        endpoint_name: the endpoint's physical name (the target's resource ID names it).
        variant_name: the production variant to scale.
        instance_type: the variant's instance type (its vCPUs scale the CPU target).
        config: the variant's `autoscaling` entry (validated by config: min <= max, one invocation target).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint: sagemaker.CfnEndpoint,
        endpoint_name: str,
        variant_name: str,
        instance_type: str,
        config: AutoscalingConfig,
    ) -> None:
        super().__init__(scope, id)
        # The service-linked role (created by Application Auto Scaling on first use), not a role
        # of our own: it holds exactly the SageMaker permissions scaling needs.
        role = iam.Role.from_role_arn(
            self,
            "ServiceLinkedRole",
            Stack.of(self).format_arn(service="iam", region="", resource="role", resource_name=SERVICE_LINKED_ROLE),
            mutable=False,
        )
        self.target = appscaling.ScalableTarget(
            self,
            "Target",
            service_namespace=appscaling.ServiceNamespace.SAGEMAKER,
            resource_id=f"endpoint/{endpoint_name}/variant/{variant_name}",
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=config.min_capacity,
            max_capacity=config.max_capacity,
            role=role,
        )
        self.target.node.add_dependency(endpoint)
        scale_in, scale_out = (
            Duration.seconds(config.scale_in_cooldown_seconds),
            Duration.seconds(config.scale_out_cooldown_seconds),
        )
        self.target.scale_to_track_metric(
            "InvocationsPerInstance",
            target_value=invocations_target(config),
            predefined_metric=appscaling.PredefinedMetric.SAGEMAKER_VARIANT_INVOCATIONS_PER_INSTANCE,
            scale_in_cooldown=scale_in,
            scale_out_cooldown=scale_out,
        )
        if config.cpu_target_percent is not None:
            self.target.scale_to_track_metric(
                "CpuUtilization",
                # CPUUtilization is summed over cores: the target scales with the vCPUs.
                target_value=config.cpu_target_percent * vcpus(instance_type),
                custom_metric=cloudwatch.Metric(
                    namespace="/aws/sagemaker/Endpoints",
                    metric_name="CPUUtilization",
                    dimensions_map={"EndpointName": endpoint_name, "VariantName": variant_name},
                    statistic="Average",
                ),
                scale_in_cooldown=scale_in,
                scale_out_cooldown=scale_out,
            )
        for action in config.scheduled:
            self.target.scale_on_schedule(
                pascal(action.name),
                schedule=appscaling.Schedule.expression(action.schedule),
                time_zone=TimeZone.of(action.timezone),
                min_capacity=action.min_capacity,
                max_capacity=action.max_capacity,
            )
