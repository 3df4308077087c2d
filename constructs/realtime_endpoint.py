"""A real-time SageMaker endpoint: model(s), endpoint configuration, the endpoint with
deployment guardrails, autoscaling per variant, alarms and a dashboard, and the managed
policy consumer teams attach to invoke it.

The endpoint's name is derived (`<project>-<stage>-<name>`) so that the alarms, the scaling
targets and the invoke policy can name it before it exists: the rollback alarms must exist
before the endpoint and also watch it, which a CloudFormation-generated name would make a
cycle. Models and endpoint configurations are immutable and get generated names, so every
change replaces them and updates the endpoint in place, blue/green."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from config.deployment import DeploymentConfig
from config.endpoints import EndpointConfig
from constructs import Construct
from constructs.acknowledge import COMPLIANCE_PACKS, acknowledge
from constructs.data_channels import DATA_CAPTURE_PREFIX
from constructs.endpoint_autoscaling import EndpointAutoscaling
from constructs.endpoint_model import EndpointModel, VpcPlacement, model_needs
from constructs.endpoint_monitoring import EndpointMonitoring
from constructs.inference_role import InferenceRole
from constructs.sagemaker_logs import endpoint_log_group_name, sagemaker_log_group
from model_code.contract import CSV, JSON
from naming import pascal
from sagemaker_facts import has_local_nvme


class RealtimeEndpoint(Construct):
    """A real-time endpoint: its model(s) and role, an endpoint configuration (KMS, data capture,
    shadow variant), the endpoint with blue/green deployment guardrails that roll back on its
    alarms, autoscaling per variant, alarms and a dashboard, and a managed policy consumers attach
    to invoke it.

    Props:
        config: the stage file's `endpoints[]` entry (validated by config).
        endpoint_name: the physical name, `<project>-<stage>-<name>`, at most 63 characters.
        key: encrypts volumes, data capture and the alarm topic.
        artifacts_bucket: where models load from and data capture writes (`data-capture/<endpoint>/`).
        repositories: the platform's ECR repositories by stage-file name.
        latest_approved_parameter: SSM parameter holding the latest approved package ARN.
        vpc: the private subnets (at least 2 AZs) and the workload security group.
        log_retention_days: retention of the endpoint's log group (one of CloudWatch's periods).
        drift_namespace: the CloudWatch namespace of the drift checks' metrics (alarms and dashboard).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: EndpointConfig,
        endpoint_name: str,
        key: kms.IKey,
        artifacts_bucket: s3.IBucket,
        repositories: Mapping[str, ecr.IRepository],
        latest_approved_parameter: str,
        vpc: VpcPlacement,
        log_retention_days: int,
        drift_namespace: str = "",
    ) -> None:
        super().__init__(scope, id)
        self.endpoint_name = endpoint_name
        self.endpoint_arn = Stack.of(self).format_arn(
            service="sagemaker", resource="endpoint", resource_name=endpoint_name
        )
        serverless = any(v.serverless for v in config.variants)
        capture_prefix = f"{DATA_CAPTURE_PREFIX}{endpoint_name}/" if config.data_capture else None
        self.data_capture_uri = artifacts_bucket.s3_url_for_object(capture_prefix) if capture_prefix else None

        # Declared so that it is encrypted and expires; SageMaker may no longer create it. Destroyed with
        # the stack: a retained group of this fixed name would make the next deployment of the stack fail.
        self.log_group = sagemaker_log_group(
            self,
            "LogGroup",
            name=endpoint_log_group_name(endpoint_name),
            key=key,
            retention_days=log_retention_days,
            removal_policy=RemovalPolicy.DESTROY,
        )
        needs = [model_needs(self, "ImageRepository", config.model, repositories)]
        if config.shadow:
            needs.append(model_needs(self, "ShadowImageRepository", config.shadow.model, repositories))
        self.role = InferenceRole(
            self,
            "InferenceRole",
            endpoint_name=endpoint_name,
            key=key,
            artifacts_bucket=artifacts_bucket,
            model_objects=sorted({o for n in needs for o in n.objects}),
            capture_prefix=capture_prefix,
            image_repositories=list({r.node.path: r for n in needs for r in n.repositories}.values()),
            log_group_name=endpoint_log_group_name(endpoint_name),
            vpc=None if serverless else vpc,
        )
        sources = {"Model": config.model, **({"ShadowModel": config.shadow.model} if config.shadow else {})}
        model_names = {}
        for model_id, model_config in sources.items():
            model = EndpointModel(
                self,
                model_id,
                config=model_config,
                role=self.role.role,
                artifacts_bucket=artifacts_bucket,
                repositories=repositories,
                latest_approved_parameter=latest_approved_parameter,
                vpc=None if serverless else vpc,  # Serverless Inference cannot run in a VPC
                network_isolation=config.network_isolation,
            )
            model.node.add_dependency(self.role)  # SageMaker checks the role's policy on creation
            model_names[model_id] = model.model_name

        self.monitoring = EndpointMonitoring(
            self,
            "Monitoring",
            endpoint_name=endpoint_name,
            variants=config.variants,
            thresholds=config.alarms,
            key=key,
            drift=config.monitoring,
            drift_namespace=drift_namespace,
        )
        self.endpoint_config = self._endpoint_config(config, model_names, key, self.data_capture_uri)
        self.endpoint = sagemaker.CfnEndpoint(
            self,
            "Endpoint",
            endpoint_name=endpoint_name,
            endpoint_config_name=self.endpoint_config.attr_endpoint_config_name,
            # Keep the instance counts that autoscaling set; the stage file's weights still apply.
            retain_all_variant_properties=True,
            exclude_retained_variant_properties=[
                sagemaker.CfnEndpoint.VariantPropertyProperty(variant_property_type=kind)
                for kind in _not_retained(config)
            ],
            deployment_config=_guardrails(config.deployment, self.monitoring.rollback_alarm_names),
        )
        self.endpoint.node.add_dependency(self.log_group)  # the containers log from their first start
        # SageMaker checks that the rollback alarms exist when the endpoint is created or updated.
        for alarm in self.monitoring.rollback_alarms:
            self.endpoint.node.add_dependency(alarm)
        for variant in config.variants:
            if variant.autoscaling and variant.instance_type:
                EndpointAutoscaling(
                    self,
                    f"{pascal(variant.name)}Autoscaling",
                    endpoint=self.endpoint,
                    endpoint_name=endpoint_name,
                    variant_name=variant.name,
                    instance_type=variant.instance_type,
                    config=variant.autoscaling,
                )
        self.invoke_policy = iam.ManagedPolicy(
            self,
            "InvokePolicy",
            description=f"Invoke endpoint {endpoint_name} (attach to a consumer's role)",
            statements=[
                iam.PolicyStatement(
                    sid="InvokeThisEndpoint",
                    actions=[
                        "sagemaker:InvokeEndpoint",
                        "sagemaker:InvokeEndpointAsync",
                        "sagemaker:InvokeEndpointWithResponseStream",
                    ],
                    resources=[self.endpoint_arn],
                )
            ],
        )

    def _endpoint_config(
        self, config: EndpointConfig, models: Mapping[str, str], key: kms.IKey, capture_uri: str | None
    ) -> sagemaker.CfnEndpointConfig:
        variants = [
            sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                variant_name=v.name,
                model_name=models["Model"],
                initial_variant_weight=v.weight,
                instance_type=v.instance_type,
                initial_instance_count=v.initial_instance_count if v.instance_type else None,
                serverless_config=sagemaker.CfnEndpointConfig.ServerlessConfigProperty(
                    memory_size_in_mb=v.serverless.memory_size_mb,
                    max_concurrency=v.serverless.max_concurrency,
                    provisioned_concurrency=v.serverless.provisioned_concurrency,
                )
                if v.serverless
                else None,
            )
            for v in config.variants
        ]
        shadow = config.shadow
        instance_types = [v.instance_type for v in config.variants if v.instance_type]
        instance_types += [shadow.instance_type] if shadow else []
        nvme = sorted({t for t in instance_types if has_local_nvme(t)})
        capture = config.data_capture
        endpoint_config = sagemaker.CfnEndpointConfig(
            self,
            "Config",
            production_variants=variants,
            shadow_production_variants=[
                sagemaker.CfnEndpointConfig.ProductionVariantProperty(
                    variant_name="shadow",
                    model_name=models["ShadowModel"],
                    initial_variant_weight=shadow.weight,
                    instance_type=shadow.instance_type,
                    initial_instance_count=shadow.initial_instance_count,
                )
            ]
            if shadow
            else None,
            # SageMaker refuses a key for instances with local NVMe storage (their instance
            # store is encrypted by the hardware): such endpoint configurations go without.
            kms_key_id=None if nvme else key.key_arn,
            data_capture_config=sagemaker.CfnEndpointConfig.DataCaptureConfigProperty(
                enable_capture=True,
                initial_sampling_percentage=capture.sampling_percentage,
                destination_s3_uri=capture_uri,
                kms_key_id=key.key_arn,
                capture_options=[
                    sagemaker.CfnEndpointConfig.CaptureOptionProperty(capture_mode=mode.capitalize())
                    for mode in capture.capture
                ],
                capture_content_type_header=sagemaker.CfnEndpointConfig.CaptureContentTypeHeaderProperty(
                    csv_content_types=[CSV], json_content_types=[JSON]
                ),
            )
            if capture and capture_uri
            else None,
        )
        if nvme:
            acknowledge(
                endpoint_config,
                {
                    f"{pack}-SageMakerEndpointConfigurationKMSKeyConfigured": (
                        f"{', '.join(nvme)} bring local NVMe instance storage, encrypted by the hardware; "
                        "SageMaker refuses a KMS key for the volumes of such instances"
                    )
                    for pack in COMPLIANCE_PACKS
                },
            )
        return endpoint_config


def _not_retained(config: EndpointConfig) -> list[str]:
    """Variant properties the stage file keeps control of across deployments."""
    kinds = ["DesiredWeight"]
    if not any(v.autoscaling for v in config.variants):
        kinds.append("DesiredInstanceCount")  # nothing scales it: the stage file's count applies
    return kinds


def _guardrails(
    deployment: DeploymentConfig, rollback_alarms: list[str]
) -> sagemaker.CfnEndpoint.DeploymentConfigProperty:
    """Blue/green: a new fleet, traffic shifted all at once, by a canary or linearly, the alarms
    watched between steps and while baking; any alarm rolls every step back."""
    shifting = deployment.traffic_shifting
    size = {"canary": deployment.canary_percent, "linear": deployment.linear_step_percent}.get(shifting)
    capacity = sagemaker.CfnEndpoint.CapacitySizeProperty(type="CAPACITY_PERCENT", value=size) if size else None
    return sagemaker.CfnEndpoint.DeploymentConfigProperty(
        blue_green_update_policy=sagemaker.CfnEndpoint.BlueGreenUpdatePolicyProperty(
            traffic_routing_configuration=sagemaker.CfnEndpoint.TrafficRoutingConfigProperty(
                type=shifting.upper(),
                canary_size=capacity if shifting == "canary" else None,
                linear_step_size=capacity if shifting == "linear" else None,
                wait_interval_in_seconds=deployment.wait_minutes * 60,
            ),
            termination_wait_in_seconds=deployment.bake_minutes * 60,
            maximum_execution_timeout_in_seconds=deployment.max_minutes * 60,
        ),
        auto_rollback_configuration=sagemaker.CfnEndpoint.AutoRollbackConfigProperty(
            alarms=[sagemaker.CfnEndpoint.AlarmProperty(alarm_name=name) for name in rollback_alarms]
        ),
    )
