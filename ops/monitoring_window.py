"""Starts one drift check of an endpoint: the script of the monitoring runbook (SSM Automation's
`aws:executeScript`, Python 3.11, boto3 acting as the runbook's role), run on the endpoint's schedule.

A processing job with network isolation reads only the inputs SageMaker hands it, so the window of
captured traffic must be chosen before the job starts: this lists the capture files of the last
`WindowHours` whole UTC hours (SageMaker writes `<capture prefix><variant>/yyyy/mm/dd/hh/*.jsonl`)
and the ground truth of the same hours, writes them as a SageMaker manifest file, finds the baseline
(given, or published with the model package the endpoint serves) and starts the monitoring pipeline
with them. An hour without traffic starts nothing.

The file is the runbook's script as deployed (its text goes into the document) and a module the tests
run against the local AWS; it uses only the standard library and boto3."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

HANDLER = "start_check"


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
        return {"Started": False, "Reason": f"no traffic captured from {window}", "CaptureFiles": 0}
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
