"""SageMaker Model Monitor's own data-quality schedule of one endpoint, for accounts that still have
Model Monitor (closed to new customers): declared instead of the platform's drift check when the
endpoint's `monitoring.model_monitor` is true, with the same baseline files."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

from config.monitoring import MODEL_MONITOR_SCHEDULES, MonitoringConfig
from constructs import Construct
from constructs.acknowledge import acknowledge_wildcard_resources
from constructs.data_channels import MONITORING_PREFIX
from constructs.drift_monitor import PROCESSING_LOG_GROUP, object_arn
from constructs.execution_role import (
    VPC_ATTACHMENT_WILDCARDS,
    key_use_statements,
    log_statements,
    sagemaker_source_arn,
    vpc_attachment_statements,
)
from constructs.service_role import service_role


class ModelMonitorSchedule(Construct):
    """A `DataQualityJobDefinition` and its `MonitoringSchedule` (`<endpoint>-data-quality`): Model
    Monitor's analyzer in the platform's subnets with network isolation, volume and output encrypted
    with the platform key, reports under `monitoring/<endpoint>/model-monitor/`, and a role that reads
    exactly the endpoint's capture and the baseline files.

    Props:
        endpoint_name: the endpoint's physical name (the endpoint must exist before the schedule).
        config: the endpoint's `monitoring` entry (with its explicit `baseline`).
        capture_prefix: where the endpoint captures (`data-capture/<endpoint>/`).
        image_uri: Model Monitor's analyzer image of the region.
        key, artifacts_bucket, subnets, security_group: the platform's.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint_name: str,
        config: MonitoringConfig,
        capture_prefix: str,
        image_uri: str,
        key: kms.IKey,
        artifacts_bucket: s3.IBucket,
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, id)
        assert config.baseline is not None  # the stage schema requires it with model_monitor
        statistics, constraints = config.baseline.uris(artifacts_bucket.bucket_name)
        reports = f"{MONITORING_PREFIX}{endpoint_name}/model-monitor/"
        self.reports_uri = f"s3://{artifacts_bucket.bucket_name}/{reports}"
        self.schedule_name = f"{endpoint_name[:50]}-data-quality"  # at most 63 characters
        role = service_role(
            self,
            "Role",
            service="sagemaker.amazonaws.com",
            description=f"Runs Model Monitor's data-quality jobs of endpoint {endpoint_name}",
            source_arn=sagemaker_source_arn(),
        )
        policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Least privilege for Model Monitor's jobs of endpoint {endpoint_name}",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadCaptureAndBaseline",
                    actions=["s3:GetObject"],
                    resources=[
                        artifacts_bucket.arn_for_objects(f"{capture_prefix}*"),
                        *(object_arn(uri) for uri in (statistics, constraints)),
                    ],
                ),
                iam.PolicyStatement(
                    sid="ListCapture",
                    actions=["s3:ListBucket"],
                    resources=[artifacts_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{capture_prefix}*"]}},
                ),
                iam.PolicyStatement(
                    sid="WriteOwnReports",
                    actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[artifacts_bucket.arn_for_objects(f"{reports}*")],
                ),
                *key_use_statements(key, grants=True),
                # Model Monitor names its jobs (and their streams) after the schedule.
                *log_statements(Stack.of(self), [PROCESSING_LOG_GROUP], stream_prefix=self.schedule_name),
                *vpc_attachment_statements(subnets, [security_group]),
            ],
        )
        acknowledge_wildcard_resources(
            policy,
            f"capture files are named by SageMaker at run time (only under {capture_prefix}); reports are named by "
            f"run (only under {reports}); log streams are named after the jobs; " + VPC_ATTACHMENT_WILDCARDS,
        )
        definition = sagemaker.CfnDataQualityJobDefinition(
            self,
            "JobDefinition",
            job_definition_name=self.schedule_name,
            data_quality_app_specification=sagemaker.CfnDataQualityJobDefinition.DataQualityAppSpecificationProperty(
                image_uri=image_uri
            ),
            data_quality_baseline_config=sagemaker.CfnDataQualityJobDefinition.DataQualityBaselineConfigProperty(
                constraints_resource=sagemaker.CfnDataQualityJobDefinition.ConstraintsResourceProperty(
                    s3_uri=constraints
                ),
                statistics_resource=sagemaker.CfnDataQualityJobDefinition.StatisticsResourceProperty(s3_uri=statistics),
            ),
            data_quality_job_input=sagemaker.CfnDataQualityJobDefinition.DataQualityJobInputProperty(
                endpoint_input=sagemaker.CfnDataQualityJobDefinition.EndpointInputProperty(
                    endpoint_name=endpoint_name, local_path="/opt/ml/processing/input/endpoint"
                )
            ),
            data_quality_job_output_config=sagemaker.CfnDataQualityJobDefinition.MonitoringOutputConfigProperty(
                kms_key_id=key.key_arn,
                monitoring_outputs=[
                    sagemaker.CfnDataQualityJobDefinition.MonitoringOutputProperty(
                        s3_output=sagemaker.CfnDataQualityJobDefinition.S3OutputProperty(
                            local_path="/opt/ml/processing/output", s3_uri=self.reports_uri, s3_upload_mode="EndOfJob"
                        )
                    )
                ],
            ),
            job_resources=sagemaker.CfnDataQualityJobDefinition.MonitoringResourcesProperty(
                cluster_config=sagemaker.CfnDataQualityJobDefinition.ClusterConfigProperty(
                    instance_count=1,
                    instance_type=config.instance_type,
                    volume_size_in_gb=30,
                    volume_kms_key_id=key.key_arn,
                )
            ),
            network_config=sagemaker.CfnDataQualityJobDefinition.NetworkConfigProperty(
                enable_network_isolation=True,
                enable_inter_container_traffic_encryption=True,
                vpc_config=sagemaker.CfnDataQualityJobDefinition.VpcConfigProperty(
                    security_group_ids=[security_group.security_group_id], subnets=[s.subnet_id for s in subnets]
                ),
            ),
            role_arn=role.role_arn,
            stopping_condition=sagemaker.CfnDataQualityJobDefinition.StoppingConditionProperty(
                max_runtime_in_seconds=min(config.max_runtime_minutes * 60, 3600)
            ),
        )
        definition.node.add_dependency(policy)
        self.schedule = sagemaker.CfnMonitoringSchedule(
            self,
            "Schedule",
            monitoring_schedule_name=self.schedule_name,
            endpoint_name=endpoint_name,
            monitoring_schedule_config=sagemaker.CfnMonitoringSchedule.MonitoringScheduleConfigProperty(
                monitoring_job_definition_name=self.schedule_name,
                monitoring_type="DataQuality",
                schedule_config=sagemaker.CfnMonitoringSchedule.ScheduleConfigProperty(
                    schedule_expression=MODEL_MONITOR_SCHEDULES.get(config.schedule, config.schedule)
                ),
            ),
        )
        self.schedule.add_dependency(definition)
