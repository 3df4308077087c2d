"""The Model Monitor opt-in (`monitoring.model_monitor: true`), synthesized fresh with the compliance packs:
Model Monitor's own data-quality schedule with the same baseline, instead of the platform's check."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from app import add_compliance_checks, compose
from config import parse_stage
from tests.config.test_stage_files import DEV
from tests.conftest import new_app
from tests.constructs.test_realtime_endpoint import of_type, single


def test_model_monitor_gets_its_schedule_with_the_same_baseline_isolated_and_encrypted(tmp_path: Path) -> None:
    raw: dict[str, Any] = copy.deepcopy(DEV)
    monitoring = raw["endpoints"][0]["monitoring"]
    monitoring.pop("model_quality")
    monitoring["model_monitor"] = True
    app = new_app(tmp_path)
    stage = compose(app, stage="dev", config=parse_stage(raw, source="test.yaml", stage="dev"))
    add_compliance_checks(app)
    nested = app.synth().get_nested_assembly(stage.artifact_id)  # fails on any unacknowledged finding
    template = nested.get_stack_by_name(stage.workloads["Monitoring"].stack_name).template
    # Instead of the platform's check: no pipeline, runbook, rule or metric filters.
    for kind in ("AWS::SageMaker::Pipeline", "AWS::SSM::Document", "AWS::Events::Rule", "AWS::Logs::MetricFilter"):
        assert of_type(template, kind) == {}, kind
    definition = single(template, "AWS::SageMaker::DataQualityJobDefinition")["Properties"]
    assert definition["JobDefinitionName"] == "smplat-dev-sample-data-quality"
    baseline = definition["DataQualityBaselineConfig"]
    for kind in ("Statistics", "Constraints"):  # s3://<the artifacts bucket, imported>/<the stage file's key>
        scheme, bucket, key = baseline[f"{kind}Resource"]["S3Uri"]["Fn::Join"][1]
        assert (scheme, key) == ("s3://", f"/models/sample/baseline/{kind.lower()}.json")
        assert "smplat-dev-ArtifactsBucketArn" in str(bucket)
    assert definition["DataQualityJobInput"]["EndpointInput"]["EndpointName"] == "smplat-dev-sample"
    assert definition["NetworkConfig"]["EnableNetworkIsolation"] is True
    assert definition["NetworkConfig"]["VpcConfig"]["SecurityGroupIds"] == [
        {"Fn::ImportValue": "smplat-dev-JobSecurityGroupId"}
    ]
    key = {"Fn::ImportValue": "smplat-dev-KeyArn"}
    assert definition["JobResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    assert definition["DataQualityJobOutputConfig"]["KmsKeyId"] == key
    # Model Monitor's analyzer of the stage's region (dev is environment-agnostic: a mapping).
    assert "Fn::FindInMap" in definition["DataQualityAppSpecification"]["ImageUri"]
    schedule = single(template, "AWS::SageMaker::MonitoringSchedule")["Properties"]
    assert schedule["EndpointName"] == "smplat-dev-sample"
    assert schedule["MonitoringScheduleConfig"]["ScheduleConfig"]["ScheduleExpression"] == "cron(0 * ? * * *)"
    assert schedule["MonitoringScheduleConfig"]["MonitoringJobDefinitionName"] == "smplat-dev-sample-data-quality"
    # The endpoint keeps its own alarms; the platform's drift alarm is not declared for Model Monitor.
    endpoints = nested.get_stack_by_name(stage.workloads["Endpoints"].stack_name).template
    names = [a["Properties"]["AlarmName"] for a in of_type(endpoints, "AWS::CloudWatch::Alarm").values()]
    assert "smplat-dev-sample-data-quality-violations" not in names
