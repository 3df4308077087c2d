"""Starts one drift check of an endpoint and publishes its metrics: the scripts of the monitoring runbook
(SSM Automation's `aws:executeScript`, Python 3.11, boto3 acting as the runbook's role), run on the
endpoint's schedule.

A processing job with network isolation reads only the inputs SageMaker hands it, so the window of
captured traffic must be chosen before the job starts: this lists the capture files of the last
`WindowHours` whole UTC hours (SageMaker writes `<capture prefix><variant>/yyyy/mm/dd/hh/*.jsonl`)
and the ground truth of the same hours, writes them as a SageMaker manifest file, finds the baseline
(given, or published with the model package the endpoint serves) and starts the monitoring pipeline
with them. An hour without traffic starts nothing. Once the check has ended, `publish_metrics` reads the
metric lines of its report (`metrics.jsonl`, which only the check's role can write) and puts them into
CloudWatch: the check itself has no network.

The file is the runbook's script as deployed (its text goes into the document) and a module the tests
run against the local AWS; it uses only the standard library and boto3."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

HANDLER = "start_check"
PUBLISH_HANDLER = "publish_metrics"
METRICS_FILE = "metrics.jsonl"  # model_code/monitor_check.py writes it into the report
# CloudWatch metric <- (line kind, the line's value field, dimension <- the line's field).
METRICS = {
    "Violations": ("summary", "violations", {"Endpoint": "endpoint"}),
    "MaxDrift": ("summary", "max_drift", {"Endpoint": "endpoint"}),
    "Records": ("summary", "records", {"Endpoint": "endpoint"}),
    "FeatureDrift": ("feature", "drift", {"Endpoint": "endpoint", "Feature": "feature"}),
    "ModelQuality": ("model_quality", "value", {"Endpoint": "endpoint", "Metric": "metric"}),
}
BATCH = 20  # data points a PutMetricData call


def start_check(events: dict[str, Any], context: Any) -> dict[str, Any]:
    """SSM's entry point: `events` holds the runbook step's inputs (strings)."""
    import boto3

    return run(
        events,
        s3=boto3.client("s3"),
        sagemaker=boto3.client("sagemaker"),
        ssm=boto3.client("ssm"),
        now=datetime.now(UTC),
    )


def run(events: dict[str, Any], *, s3: Any, sagemaker: Any, ssm: Any, now: datetime) -> dict[str, Any]:
    bucket, capture = events["ArtifactsBucket"], events["CapturePrefix"]
    end = now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    hours = [end - timedelta(hours=back) for back in range(int(events["WindowHours"]), 0, -1)]
    window = f"{hours[0]:%Y-%m-%dT%H:00Z} to {end:%Y-%m-%dT%H:00Z}"
    variants = _folders(s3, bucket, capture)
    captured = [key for variant in variants for hour in hours for key in _keys(s3, bucket, variant + _hour(hour))]
    captured = [key for key in captured if _plain(key)]
    if not captured:
        return {
            "Started": False,
            "Reason": f"no traffic captured from {window}",
            "CaptureFiles": 0,
            "PipelineExecutionArn": "",
        }
    truth_prefix = events.get("GroundTruthPrefix") or ""
    truth = [key for hour in hours for key in _keys(s3, bucket, truth_prefix + _hour(hour))] if truth_prefix else []
    truth = [key for key in truth if _plain(key)]
    # A manifest lists keys under one prefix; the job gets them at <input>/<key>.
    manifest_key = f"{events['ManifestPrefix']}{end:%Y/%m/%d/%H}.json"
    s3.put_object(
        Bucket=bucket,
        Key=manifest_key,
        Body=json.dumps([{"prefix": f"s3://{bucket}/"}, *captured, *truth]).encode(),
        ContentType="application/json",
        ServerSideEncryption="aws:kms",
        SSEKMSKeyId=events["KeyArn"],
    )
    statistics, constraints = _baseline(events, sagemaker, ssm)
    parameters = {
        "CaptureManifest": f"s3://{bucket}/{manifest_key}",
        "BaselineStatistics": statistics,
        "BaselineConstraints": constraints,
    }
    execution = sagemaker.start_pipeline_execution(
        PipelineName=events["PipelineName"],
        PipelineExecutionDisplayName=f"window-{end:%Y%m%dT%H}",
        PipelineExecutionDescription=f"Drift check of the traffic captured from {window}",
        PipelineParameters=[{"Name": name, "Value": value} for name, value in parameters.items()],
    )
    return {
        "Started": True,
        "PipelineExecutionArn": execution["PipelineExecutionArn"],
        "CaptureFiles": len(captured),
        "GroundTruthFiles": len(truth),
        "Window": window,
    }


def publish_metrics(events: dict[str, Any], context: Any) -> dict[str, Any]:
    """SSM's entry point of the runbook's last step, once the check has ended."""
    import boto3

    return publish(
        events, s3=boto3.client("s3"), sagemaker=boto3.client("sagemaker"), cloudwatch=boto3.client("cloudwatch")
    )


def publish(events: dict[str, Any], *, s3: Any, sagemaker: Any, cloudwatch: Any) -> dict[str, Any]:
    """The metric lines of the check's report as data points of `Namespace`, or an error naming how the
    check ended (the runbook's execution then fails, and `<endpoint>-drift-check-missing` alarms)."""
    execution = events["PipelineExecutionArn"]
    status = sagemaker.describe_pipeline_execution(PipelineExecutionArn=execution)["PipelineExecutionStatus"]
    if status != "Succeeded":
        raise RuntimeError(f"the drift check {execution} ended {status}: no metrics to publish")
    key = f"{events['ReportsPrefix']}{execution.rsplit('/', 1)[1]}/{METRICS_FILE}"
    lines = s3.get_object(Bucket=events["ArtifactsBucket"], Key=key)["Body"].read().decode().splitlines()
    data = []
    for text in lines:
        line = json.loads(text)
        for name, (kind, field, dimensions) in METRICS.items():
            if line.get("smplat_monitor") == kind and line.get("endpoint") == events["EndpointName"]:
                data.append(
                    {
                        "MetricName": name,
                        "Dimensions": [{"Name": d, "Value": str(line[f])} for d, f in dimensions.items()],
                        "Value": float(line[field]),
                        "Unit": "Count" if name in ("Violations", "Records") else "None",
                    }
                )
    for start in range(0, len(data), BATCH):
        cloudwatch.put_metric_data(Namespace=events["Namespace"], MetricData=data[start : start + BATCH])
    return {"Published": len(data), "Report": f"s3://{events['ArtifactsBucket']}/{key}"}


def _baseline(events: dict[str, Any], sagemaker: Any, ssm: Any) -> tuple[str, str]:
    """The stage file's baseline, else the data-quality baseline registered with the served package."""
    if events.get("BaselineStatistics"):
        return events["BaselineStatistics"], events["BaselineConstraints"]
    package = events.get("ModelPackageArn") or ssm.get_parameter(Name=events["PackageParameter"])["Parameter"]["Value"]
    described = sagemaker.describe_model_package(ModelPackageName=package)
    quality = described.get("ModelMetrics", {}).get("ModelDataQuality", {})
    try:
        return quality["Statistics"]["S3Uri"], quality["Constraints"]["S3Uri"]
    except KeyError:
        raise ValueError(
            f"model package {package} has no data-quality baseline (ModelMetrics.ModelDataQuality): register it "
            "with a training pipeline of the platform, or give the endpoint's monitoring.baseline"
        ) from None


def _plain(key: str) -> bool:
    """A JSON-lines file named plainly: the job gets it at <input>/<key>, so no key may climb out of its
    folder (`..`) or name an empty one."""
    return key.endswith(".jsonl") and "/../" not in f"/{key}" and "//" not in key


def _hour(hour: datetime) -> str:
    return f"{hour:%Y/%m/%d/%H}/"


def _folders(s3: Any, bucket: str, prefix: str) -> list[str]:
    """The variant folders under the endpoint's capture prefix."""
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
    return [common["Prefix"] for page in pages for common in page.get("CommonPrefixes", [])]


def _keys(s3: Any, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for page in pages for item in page.get("Contents", [])]
