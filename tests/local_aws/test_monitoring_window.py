"""The monitoring runbook's script (ops/monitoring_window.py) against the local AWS: which capture files
make a window, the manifest it writes, the baseline it finds, the pipeline execution it starts, and the
metrics it publishes from the check's report."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from local_aws.deploy import client
from local_aws.moto_server import LocalAws
from model_code.monitor_baseline import baseline
from model_code.monitor_check import check
from ops.monitoring_window import publish, run

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
        "PipelineExecutionArn": "",  # the runbook's output, for the branch that ends it here
    }
    after = world["sagemaker"].list_pipeline_executions(PipelineName="smplat-dev-sample-monitor")
    assert len(after["PipelineExecutionSummaries"]) == len(before["PipelineExecutionSummaries"])


def test_the_checks_report_lines_become_the_stages_metrics(
    aws: LocalAws, world: dict[str, Any], channels: Path, tmp_path: Path
) -> None:
    """A real check's report (model_code/monitor.py) published as the runbook's last step does: every kind
    of line becomes its metric with its dimensions, in the platform's namespace."""
    baseline(channels / "train", tmp_path / "baseline")
    rows = (channels / "test" / "part-00000.csv").read_text().splitlines()[1:6]
    records, labels = [], []
    for number, row in enumerate(rows):
        label, *features = row.split(",")  # the label is the first column of the sample's channels
        records.append(capture_record(",".join(features), f"e{number}"))
        labels.append(
            {"groundTruthData": {"data": label, "encoding": "CSV"}, "eventMetadata": {"eventId": f"e{number}"}}
        )
    for folder, lines in (("capture", records), ("truth", labels)):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "a.jsonl").write_text("".join(json.dumps(line) + "\n" for line in lines))
    report = tmp_path / "report"
    check(
        tmp_path / "capture",
        tmp_path / "baseline" / "statistics.json",
        tmp_path / "baseline" / "constraints.json",
        report,
        endpoint="smplat-dev-sample",
        ground_truth=tmp_path / "truth",
        problem_type="BinaryClassification",
    )
    execution = start(world)["PipelineExecutionArn"]
    reports = "monitoring/smplat-dev-sample/reports/"
    world["s3"].upload_file(
        str(report / "metrics.jsonl"), BUCKET, f"{reports}{execution.rsplit('/', 1)[1]}/metrics.jsonl"
    )
    cloudwatch = client(aws, "cloudwatch")
    published = publish(
        {
            "PipelineExecutionArn": execution,
            "ArtifactsBucket": BUCKET,
            "ReportsPrefix": reports,
            "EndpointName": "smplat-dev-sample",
            "Namespace": "smplat/Monitoring",
        },
        s3=world["s3"],
        sagemaker=world["sagemaker"],
        cloudwatch=cloudwatch,
    )
    quality = ["accuracy", "precision", "recall", "f1", "auc"]
    assert published["Published"] == 30 + 3 + len(quality)  # a line per feature, the summary's three, quality
    found = {
        (m["MetricName"], tuple(sorted((d["Name"], d["Value"]) for d in m["Dimensions"])))
        for m in cloudwatch.list_metrics(Namespace="smplat/Monitoring")["Metrics"]
    }
    endpoint = ("Endpoint", "smplat-dev-sample")
    for name in ("Violations", "MaxDrift", "Records"):
        assert (name, (endpoint,)) in found
    assert ("FeatureDrift", (endpoint, ("Feature", "mean_radius"))) in found
    for metric in quality:
        assert ("ModelQuality", (endpoint, ("Metric", metric))) in found


def test_a_check_that_did_not_succeed_publishes_nothing_and_says_how_it_ended(world: dict[str, Any]) -> None:
    arn = "arn:aws:sagemaker:eu-west-1:123456789012:pipeline/smplat-dev-sample-monitor/execution/x1"
    sagemaker = boto3.client("sagemaker", region_name="eu-west-1", aws_access_key_id="a", aws_secret_access_key="b")
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "describe_pipeline_execution", {"PipelineExecutionStatus": "Failed"}, {"PipelineExecutionArn": arn}
        )
        events = {"PipelineExecutionArn": arn, "ArtifactsBucket": BUCKET, "ReportsPrefix": "r/"}
        with pytest.raises(RuntimeError, match=f"^the drift check {arn} ended Failed: no metrics to publish$"):
            publish(events | {"EndpointName": "e", "Namespace": "n"}, s3=None, sagemaker=sagemaker, cloudwatch=None)


def capture_record(data: str, event: str) -> dict[str, Any]:
    return {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": data, "encoding": "CSV"},
            "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": "0.9", "encoding": "CSV"},
        },
        "eventMetadata": {"eventId": event, "inferenceTime": "2026-12-02T09:00:00Z"},
        "eventVersion": "0",
    }
