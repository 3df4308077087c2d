"""The monitoring runbook's script (ops/monitoring_window.py) against the local AWS: which capture files
make a window, the manifest it writes, the baseline it finds and the pipeline execution it starts."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from local_aws.deploy import client
from local_aws.moto_server import LocalAws
from ops.monitoring_window import run

pytestmark = pytest.mark.integration

BUCKET = "smplat-dev-data-artifacts"
NOW = datetime(2026, 12, 2, 10, 20, tzinfo=UTC)  # the window of two hours is 08:00 to 10:00
CAPTURE = "data-capture/smplat-dev-sample/"


@pytest.fixture(scope="module")
def world(aws: LocalAws) -> dict[str, Any]:
    s3, sagemaker = client(aws, "s3"), client(aws, "sagemaker")
    s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    for key in (
        f"{CAPTURE}primary/2026/12/02/07/too-early.jsonl",
        f"{CAPTURE}primary/2026/12/02/08/a.jsonl",
        f"{CAPTURE}primary/2026/12/02/09/b.jsonl",
        f"{CAPTURE}primary/2026/12/02/10/this-hour.jsonl",
        f"{CAPTURE}canary/2026/12/02/09/c.jsonl",
        "data-capture/smplat-dev-other/primary/2026/12/02/09/another-endpoint.jsonl",
        "ground-truth/sample/2026/12/02/09/labels.jsonl",
        "ground-truth/sample/2026/12/02/06/old-labels.jsonl",
        # Not plain JSON-lines files: left out (the job would get `..` as a folder).
        "ground-truth/sample/2026/12/02/09/../../../../../../data-capture/x.jsonl",
        f"{CAPTURE}primary/2026/12/02/09/notes.txt",
    ):
        s3.put_object(Bucket=BUCKET, Key=key, Body=b"{}\n")
    definition = {"Version": "2020-12-01", "Parameters": [], "Steps": []}
    sagemaker.create_pipeline(
        PipelineName="smplat-dev-sample-monitor",
        RoleArn="arn:aws:iam::123456789012:role/monitor",
        PipelineDefinition=json.dumps(definition),
    )
    sagemaker.create_model_package_group(ModelPackageGroupName="smplat-dev")
    quality = {
        kind: {"ContentType": "application/json", "S3Uri": f"s3://{BUCKET}/pipelines/sample/baseline/1/{kind}.json"}
        for kind in ("Statistics", "Constraints")
    }
    package = sagemaker.create_model_package(
        ModelPackageGroupName="smplat-dev",
        ModelMetrics={"ModelDataQuality": quality},
        InferenceSpecification={
            "Containers": [{"Image": "serve"}],
            "SupportedContentTypes": ["text/csv"],
            "SupportedResponseMIMETypes": ["text/csv"],
        },
    )["ModelPackageArn"]
    client(aws, "ssm").put_parameter(Name="/smplat/dev/latest-approved", Value=package, Type="String")
    key = client(aws, "kms").create_key()["KeyMetadata"]["Arn"]
    return {"s3": s3, "sagemaker": sagemaker, "ssm": client(aws, "ssm"), "key": key, "package": package}


def events(world: dict[str, Any], **changes: str) -> dict[str, str]:
    return {
        "ArtifactsBucket": BUCKET,
        "CapturePrefix": CAPTURE,
        "GroundTruthPrefix": "ground-truth/sample/",
        "ManifestPrefix": "monitoring/smplat-dev-sample/manifests/",
        "WindowHours": "2",
        "KeyArn": world["key"],
        "PipelineName": "smplat-dev-sample-monitor",
        "BaselineStatistics": "s3://bucket/baseline/statistics.json",
        "BaselineConstraints": "s3://bucket/baseline/constraints.json",
        "ModelPackageArn": "",
        "PackageParameter": "",
    } | changes


def start(world: dict[str, Any], **changes: str) -> dict[str, Any]:
    clients = {name: world[name] for name in ("s3", "sagemaker", "ssm")}
    return run(events(world, **changes), **clients, now=NOW)


def parameters(world: dict[str, Any], execution: str) -> dict[str, str]:
    found = world["sagemaker"].list_pipeline_parameters_for_execution(PipelineExecutionArn=execution)
    return {p["Name"]: p["Value"] for p in found["PipelineParameters"]}


def test_the_window_is_the_last_whole_hours_of_every_variant_with_their_ground_truth(world: dict[str, Any]) -> None:
    result = start(world)
    assert result["Started"] is True
    assert (result["CaptureFiles"], result["GroundTruthFiles"]) == (3, 1)
    assert result["Window"] == "2026-12-02T08:00Z to 2026-12-02T10:00Z"
    manifest = "monitoring/smplat-dev-sample/manifests/2026/12/02/10.json"
    written = world["s3"].get_object(Bucket=BUCKET, Key=manifest)
    assert written["ServerSideEncryption"] == "aws:kms" and written["SSEKMSKeyId"] == world["key"]
    assert json.loads(written["Body"].read()) == [
        {"prefix": f"s3://{BUCKET}/"},
        f"{CAPTURE}canary/2026/12/02/09/c.jsonl",
        f"{CAPTURE}primary/2026/12/02/08/a.jsonl",
        f"{CAPTURE}primary/2026/12/02/09/b.jsonl",
        "ground-truth/sample/2026/12/02/09/labels.jsonl",
    ]
    assert parameters(world, result["PipelineExecutionArn"]) == {
        "CaptureManifest": f"s3://{BUCKET}/{manifest}",
        "BaselineStatistics": "s3://bucket/baseline/statistics.json",
        "BaselineConstraints": "s3://bucket/baseline/constraints.json",
    }


def test_without_a_given_baseline_the_served_packages_baseline_is_used(world: dict[str, Any]) -> None:
    for source in ({"PackageParameter": "/smplat/dev/latest-approved"}, {"ModelPackageArn": world["package"]}):
        result = start(world, BaselineStatistics="", BaselineConstraints="", **source)
        assert parameters(world, result["PipelineExecutionArn"])["BaselineStatistics"] == (
            f"s3://{BUCKET}/pipelines/sample/baseline/1/Statistics.json"
        ), source


def test_a_window_without_traffic_starts_nothing(world: dict[str, Any]) -> None:
    before = world["sagemaker"].list_pipeline_executions(PipelineName="smplat-dev-sample-monitor")
    result = start(world, WindowHours="1", CapturePrefix="data-capture/smplat-dev-idle/")
    assert result == {
        "Started": False,
        "Reason": "no traffic captured from 2026-12-02T09:00Z to 2026-12-02T10:00Z",
        "CaptureFiles": 0,
    }
    after = world["sagemaker"].list_pipeline_executions(PipelineName="smplat-dev-sample-monitor")
    assert len(after["PipelineExecutionSummaries"]) == len(before["PipelineExecutionSummaries"])
