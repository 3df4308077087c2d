"""`make demo`: deploy the dev stage to a local AWS (moto on loopback) with the same ordered steps as
`make deploy` (ops/deploy.py: platform stacks, the endpoint's image, its model trained through the
SageMaker training toolkit and uploaded, then the endpoints stack), then run the model lifecycle
against it: split into channels (uploaded to the channel URIs the stack publishes), a short tune,
the endpoint's model served and invoked through boto3, its drift check (normal traffic, then drifted
traffic, captured by the serving container as SageMaker captures it and checked against the baseline the
deploy uploaded), and the sample training pipeline, as deployed, run step by step on this machine
(local_aws/pipeline.py) until it registers a model package."""

from __future__ import annotations

import contextlib
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from config import StageConfig, load_stage
from config.model_sources import ArtifactModel
from local_aws.deploy import ManifestPublisher, bootstrap, client, ordered_deploy, ssm_parameters, stack_outputs
from local_aws.moto_server import LocalAws, moto_server
from local_aws.pipeline import registered_package
from local_aws.pipeline import run as run_pipeline
from model_code.contract import CHANNELS, OBJECTIVE
from model_code.data import write_sample_dataset
from model_code.lifecycle import labelled_rows, runtime_client
from model_code.monitor_check import check
from model_code.serve import extract_model, running_server
from model_code.split import SplitSpec, split_file
from model_code.tuning import plot, table, tune
from naming import StageNames, entry_id, pascal
from ops.deploy import DeployStopped

STAGE = "dev"
SCORED_ROWS = 20  # feature rows the sample pipeline's Transform step scores


def main() -> int:
    config = load_stage(STAGE)
    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="smplat-demo-"))
    with moto_server(log_file=work / "moto.log") as aws:
        print(f"== Local AWS (moto) on {aws.endpoint}; work folder {work}")
        bootstrap(aws)
        # make deploy's steps; a Docker engine cannot push to the local AWS: it gets a manifest.
        try:
            ordered_deploy(aws, STAGE, work / "deploy", publisher=ManifestPublisher())
        except DeployStopped as err:
            print(f"\nStopped: {err}", file=sys.stderr)
            return 1
        outputs: dict[str, str] = {}
        names = StageNames(config.project, STAGE)
        for stack_id in ("Data", "Network", "Notebooks", "Pipelines", "Labeling", "Endpoints"):
            name = names.stack(stack_id)
            print(f"\n== Outputs of {name}:")
            for key, value in sorted(stack_outputs(aws, name).items()):
                outputs[key] = value
                print(f"  {key:<34} {value}")
        prefix = names.parameter_prefix
        print(f"\n== SSM parameters under {prefix}/ (read back with boto3):")
        for name, value in sorted(ssm_parameters(aws, prefix).items()):
            print(f"  {name:<52} {value}")
        describe_endpoint(aws)
        lifecycle(aws, outputs, work, config)
        monitor_the_endpoint(aws, outputs, work, config)
        if not train_with_the_pipeline(aws, outputs, work, config):
            return 1
    print(f"\nDone in {time.monotonic() - started:.0f} s; the local AWS and the server are stopped.")
    return 0


def describe_endpoint(aws: LocalAws) -> None:
    """The endpoint as SageMaker (the local AWS) reports it: configuration, variants, model."""
    sagemaker = client(aws, "sagemaker")
    print("\n== The deployed endpoint, read back with boto3")
    for summary in sagemaker.list_endpoints()["Endpoints"]:
        endpoint = sagemaker.describe_endpoint(EndpointName=summary["EndpointName"])
        config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
        print(f"  status {endpoint['EndpointStatus']}, configuration {config['EndpointConfigName']}")
        for variant in config["ProductionVariants"]:
            model = sagemaker.describe_model(ModelName=variant["ModelName"])
            print(
                f"  variant {variant['VariantName']}: {variant['InitialInstanceCount']} x {variant['InstanceType']}, "
                f"image {model['PrimaryContainer']['Image']}"
            )
            print(f"    model {model['PrimaryContainer']['ModelDataUrl']}, subnets {model['VpcConfig']['Subnets']}")
        print(f"  data capture -> {config['DataCaptureConfig']['DestinationS3Uri']}")


def lifecycle(aws: LocalAws, outputs: dict[str, str], work: Path, config: StageConfig) -> None:
    print("\n== Split the sample data into channels (stratified)")
    write_sample_dataset(work / "raw.csv")
    report = split_file(work / "raw.csv", work / "channels", SplitSpec(stratify=True))
    s3 = client(aws, "s3")
    for channel in CHANNELS:
        uri = outputs[f"{pascal(channel)}ChannelUri"]
        bucket, key_prefix = uri.removeprefix("s3://").split("/", 1)
        s3.upload_file(str(work / "channels" / channel / "part-00000.csv"), bucket, f"{key_prefix}part-00000.csv")
        print(f"  {channel:<11} {report.rows[channel]:>4} rows  labels {report.labels[channel]}  -> {uri}")

    print("\n== Tune: 6 trials, 2 at a time, median early stopping")
    trials = tune(work / "channels", work / "tune", trials=6, parallel=2, seed=1, static={"num_round": 80})
    print("  " + table(trials).replace("\n", "\n  "))
    plot(trials, work / "tune" / "trials.png")
    print(f"  best {OBJECTIVE.name}={trials[0].objective}; plot: {work / 'tune' / 'trials.png'}")

    # The model the ordered deploy trained and uploaded, fetched from where the endpoint loads it.
    endpoint = config.endpoints[0]
    assert isinstance(endpoint.model, ArtifactModel), "the dev stage's first endpoint serves a model.tar.gz"
    artifact, uri = (
        work / "endpoint-model.tar.gz",
        f"s3://{outputs['ArtifactsBucketName']}/{endpoint.model.artifact_key}",
    )
    s3.download_file(outputs["ArtifactsBucketName"], endpoint.model.artifact_key, str(artifact))
    print(f"\n== Serve endpoint {endpoint.name}'s model ({uri}) on SageMaker's container contract")
    print("   and invoke it with boto3")
    serve_and_invoke(artifact, work, outputs[f"{entry_id('Endpoint', endpoint.name)}Name"])


def monitor_the_endpoint(aws: LocalAws, outputs: dict[str, str], work: Path, config: StageConfig) -> None:
    """Traffic captured by the serving container (SageMaker's capture format), checked against the baseline
    the ordered deploy uploaded, with the drift check's own code: normal traffic, then drifted traffic."""
    endpoint = config.endpoints[0]
    monitoring, capture = endpoint.monitoring, endpoint.data_capture
    assert monitoring is not None and monitoring.baseline is not None and capture is not None
    name = outputs[f"{entry_id('Endpoint', endpoint.name)}Name"]
    s3, bucket = client(aws, "s3"), outputs["ArtifactsBucketName"]
    baseline = work / "baseline"
    baseline.mkdir(exist_ok=True)
    for key in (monitoring.baseline.statistics, monitoring.baseline.constraints):
        s3.download_file(bucket, key, str(baseline / key.rsplit("/", 1)[1]))
    rows, _ = labelled_rows(work / "channels" / "test", limit=1000)
    # Drifted: the first two features (mean radius and texture) three standard deviations higher.
    table = np.array([[float(v) for v in row.split(",")] for row in rows])
    shifted = table.copy()
    shifted[:, :2] += 3 * table[:, :2].std(axis=0)
    model = work / "model"
    print(f"\n== Drift check of endpoint {endpoint.name} ({monitoring.schedule} on the platform: {name}-monitor)")
    for period, values in (("normal", table), ("drifted", shifted)):
        folder = work / "capture" / period
        with running_server(
            model, endpoint_name=name, capture_dir=folder, sampling_percentage=capture.sampling_percentage
        ) as url:
            runtime = runtime_client(url)
            for row in values:
                runtime.invoke_endpoint(
                    EndpointName=name, ContentType="text/csv", Body=",".join(f"{v:.6g}" for v in row).encode()
                )
        lines = io.StringIO()  # the lines CloudWatch's metric filters read on the platform
        with contextlib.redirect_stdout(lines):
            violations = check(
                folder,
                baseline / "statistics.json",
                baseline / "constraints.json",
                work / "reports" / period,
                endpoint=name,
            )
        captured = sum(1 for file in folder.rglob("*.jsonl") for _ in file.open())
        print(f"  {period:<8} {len(values)} requests, {captured} captured -> {len(violations)} violation(s)")
        print(f"    metric line: {lines.getvalue().splitlines()[-1]}")
        for violation in violations:
            print(f"    {violation['feature_name']}: {violation['constraint_check_type']}: {violation['description']}")
    print(f"  reports: {work / 'reports'} (constraint_violations.json, statistics.json, as Model Monitor writes them)")


def train_with_the_pipeline(aws: LocalAws, outputs: dict[str, str], work: Path, config: StageConfig) -> bool:
    """The dev stage's sample pipeline, as deployed, run on this machine against the local AWS: the raw
    sample under its input prefix (and feature rows under its transform prefix), then split -> train /
    baseline -> tune -> evaluate -> condition -> register -> transform."""
    entry = config.pipelines[0]
    print(f"\n== Run pipeline {entry.name} as deployed (python -m local_aws.pipeline run --pipeline {entry.name})")
    client(aws, "s3").upload_file(str(work / "raw.csv"), outputs["DataBucketName"], f"{entry.raw_prefix}raw.csv")
    print(f"  uploaded the sample to s3://{outputs['DataBucketName']}/{entry.raw_prefix}raw.csv")
    if entry.transform is not None:  # what the Transform step scores: headerless feature rows
        rows, _ = labelled_rows(work / "raw.csv", limit=SCORED_ROWS)
        key = f"{entry.transform.input_prefix}rows.csv"
        client(aws, "s3").put_object(Bucket=outputs["DataBucketName"], Key=key, Body=("\n".join(rows) + "\n").encode())
        print(f"  uploaded {len(rows)} feature rows to score to s3://{outputs['DataBucketName']}/{key}")
    execution = run_pipeline(
        aws,
        stage=STAGE,
        pipeline=entry.name,
        assembly=work / "deploy" / "cdk.out",
        overrides={},
        workdir=work / "pipeline",
        say=lambda line: print(f"  {line}"),
    )
    print("  " + execution.table().replace("\n", "\n  "))
    package = registered_package(execution)
    print(f"  execution {execution.status}" + (f": {execution.failure_message}" if execution.failure_message else ""))
    if package:
        print(f"  registered model package: {package}")
    if entry.transform is not None and execution.status == "Succeeded":
        scored = f"pipelines/{entry.name}/transform/{execution.execution_id}/rows.csv.out"
        print(f"  scored rows: s3://{outputs['ArtifactsBucketName']}/{scored}")
    return execution.status == "Succeeded"


def serve_and_invoke(artifact: Path, work: Path, endpoint_name: str) -> None:
    """What a consumer does with the published endpoint name, against the local serving container."""
    # The local server stands in for this endpoint: it refuses any other name, as SageMaker would.
    with running_server(extract_model(artifact, work / "model"), endpoint_name=endpoint_name) as url:
        rows, labels = labelled_rows(work / "channels" / "test", limit=3)
        response = runtime_client(url).invoke_endpoint(
            EndpointName=endpoint_name, ContentType="text/csv", Accept="application/json", Body="\n".join(rows).encode()
        )
        predictions = json.loads(response["Body"].read())["predictions"]
        print(f"  POST {url}/endpoints/{endpoint_name}/invocations (3 CSV rows)")
        for prediction, label in zip(predictions, labels, strict=True):
            print(f"  score {prediction['score']:.4f}  predicted {prediction['predicted_label']}  actual {label}")


if __name__ == "__main__":
    sys.exit(main())
