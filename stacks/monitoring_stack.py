"""Drift monitoring of the endpoints whose stage-file entry has `monitoring`: the platform's own scheduled
check, which publishes the metrics behind their alarms (or, opted in, SageMaker Model Monitor's schedule)."""

from __future__ import annotations

from config import StageConfig
from config.model_sources import LATEST_APPROVED, RegistryModel
from constructs import Construct
from constructs.data_channels import DATA_CAPTURE_PREFIX
from constructs.drift_monitor import DriftMonitor, namespace
from constructs.model_monitor_schedule import ModelMonitorSchedule
from constructs.pipeline_sdk import JobNames
from constructs.source_bundle import SourceBundle
from constructs.training_pipeline import SPLIT_IMAGES, PipelineImages
from naming import StageNames, entry_id
from stacks.data_stack import DataStack
from stacks.network_stack import NetworkStack
from stacks.workload_stack import WorkloadStack


class MonitoringStack(WorkloadStack):
    DESCRIPTION = "drift monitoring of the endpoints' captured traffic: scheduled checks and their metrics"

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
        platform, subnets, group = self.platform, self.network.subnets, self.network.job_security_group
        images = PipelineImages(self, "Images", region=config.region)
        publish = self.outputs.publish
        monitored = [entry for entry in config.endpoints if entry.monitoring is not None]
        if any(entry.monitoring and not entry.monitoring.model_monitor for entry in monitored):
            publish(
                "MonitoringNamespace",
                value=namespace(config.project),
                description="CloudWatch namespace of the drift checks' metrics",
            )
        for entry in monitored:
            monitoring = entry.monitoring
            assert monitoring is not None
            id = entry_id("Monitor", entry.name)
            endpoint_name = names.physical(entry.name)
            capture_prefix = f"{DATA_CAPTURE_PREFIX}{endpoint_name}/"
            if monitoring.model_monitor:
                schedule = ModelMonitorSchedule(
                    self,
                    id,
                    endpoint_name=endpoint_name,
                    config=monitoring,
                    capture_prefix=capture_prefix,
                    image_uri=images.uri("model-monitor", "", None, monitoring.instance_type, scope="monitoring"),  # type: ignore[arg-type]
                    key=platform.key,
                    artifacts_bucket=platform.artifacts_bucket,
                    subnets=subnets,
                    security_group=group,
                )
                publish(
                    f"{id}ScheduleName",
                    value=schedule.schedule_name,
                    description=f"Model Monitor schedule of endpoint {entry.name}",
                )
                publish(
                    f"{id}ReportsUri", value=schedule.reports_uri, description=f"Model Monitor reports of {entry.name}"
                )
                continue
            model = entry.model
            package = None
            if monitoring.baseline is None and isinstance(model, RegistryModel):
                latest = model.model_package == LATEST_APPROVED
                package = names.latest_approved_parameter if latest else model.model_package
            monitor = DriftMonitor(
                self,
                id,
                endpoint_name=endpoint_name,
                config=monitoring,
                capture_prefix=capture_prefix,
                package=package,
                # A prefix of their own: notebooks may neither start nor stop the checks.
                job_names=JobNames(f"{names.prefix}-monitor"),
                key=platform.key,
                artifacts_bucket=platform.artifacts_bucket,
                code=SourceBundle.of(self, "model_code").asset,
                image_uri=images.uri(*SPLIT_IMAGES["python"], monitoring.instance_type, scope="processing"),
                subnets=subnets,
                security_group=group,
                metrics_namespace=namespace(config.project),
            )
            publish(
                f"{id}PipelineName",
                value=monitor.pipeline_name,
                description=f"Drift-check pipeline of endpoint {entry.name}",
            )
            publish(
                f"{id}ScheduleRuleName",
                value=monitor.rule_name,
                description=f"EventBridge rule that starts the drift checks of endpoint {entry.name}",
            )
            publish(
                f"{id}RunbookName",
                value=monitor.runbook.ref,
                description=f"SSM Automation runbook that starts one drift check of endpoint {entry.name}",
            )
            publish(
                f"{id}ReportsUri",
                value=monitor.reports_uri,
                description=f"Where the drift checks of endpoint {entry.name} write their reports (one folder a run)",
            )
            if monitoring.model_quality is not None:
                publish(
                    f"{id}GroundTruthUri",
                    value=f"s3://{platform.artifacts_bucket.bucket_name}/{monitoring.model_quality.ground_truth_prefix}",
                    description=f"Where the team delivers ground truth of endpoint {entry.name} (yyyy/mm/dd/hh/)",
                )
