"""The step runners of the local pipeline executor, on the dev definition's steps, against a local AWS."""

from __future__ import annotations

import io
import json
import tarfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from config import load_stage
from constructs.pipeline_definition import build
from constructs.pipeline_sdk import JobNames
from constructs.source_bundle import REPOSITORY_ROOT, sourcedir_tarball
from local_aws.deploy import client
from local_aws.moto_server import ACCOUNT, LocalAws
from local_aws.pipeline_steps import runners
from local_aws.pipeline_types import NotRunLocally, StepContext, StepRunner
from model_code.contract import CHANNELS, EVALUATION_FILE, METRICS, evaluation_value
from model_code.data import write_sample_dataset
from model_code.lifecycle import labelled_rows
from model_code.local_training import TrainingResult
from tests.pipeline_definitions import steps

pytestmark = pytest.mark.integration

EXECUTION = "local-0123abcd"
DATA, ARTIFACTS, CODE = "data-bucket", "artifacts-bucket", "code-bucket"
XGBOOST = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:3.0-5"
SKLEARN = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
LINEAR_LEARNER = "382416733822.dkr.ecr.us-east-1.amazonaws.com/linear-learner:1"
MARKETPLACE = "arn:aws:sagemaker:us-east-1:865070037744:algorithm/some-seller-algorithm"
# What CloudFormation fills in for the definition's placeholders (constructs/pipeline_sdk.py).
DEPLOYED = {
    "xx-placeholder-1": "us-east-1",
    "placeholder-data-bucket": DATA,
    "placeholder-artifacts-bucket": ARTIFACTS,
    "placeholder-code-bucket": CODE,
    "000000000000.dkr.ecr.xx.amazonaws.com/placeholder-split:1": SKLEARN,
    "000000000000.dkr.ecr.xx.amazonaws.com/placeholder-baseline:1": SKLEARN,
    "000000000000.dkr.ecr.xx.amazonaws.com/placeholder-train:1": XGBOOST,
    "000000000000.dkr.ecr.xx.amazonaws.com/placeholder-evaluate:1": XGBOOST,
    "000000000000.dkr.ecr.xx.amazonaws.com/placeholder-serve:1": f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/serve:1",
}
TRAINED_JOB = "smplat-dev-trained"
BASELINE = f"s3://{ARTIFACTS}/pipelines/sample/baseline/{EXECUTION}"
# model_code/monitor.py comes from the "monitor" work of issue 15 (merged separately).
needs_monitor = pytest.mark.skipif(
    not (REPOSITORY_ROOT / "model_code" / "monitor.py").is_file(),
    reason="model_code/monitor.py (the baselining step's program) is not in this tree yet",
)
# `python -m model_code.lifecycle transform` comes from the "serving" work of issue 15 (merged separately).
needs_transform = pytest.mark.skipif(
    not (REPOSITORY_ROOT / "model_code" / "transform.py").is_file(),
    reason="model_code/transform.py (the local batch transform the Transform step runs) is not in this tree yet",
)
PUBLISHED = f"s3://{ARTIFACTS}/models/sample/{EXECUTION}/model.tar.gz"
SCORED_ROWS = 20


@pytest.fixture(scope="module")
def definition() -> dict[str, Any]:
    built = build(
        load_stage("dev").pipelines[0], pipeline_name="smplat-dev-sample", jobs=JobNames("smplat-dev"), subnet_count=2
    )
    text = json.dumps(built)
    for placeholder, value in DEPLOYED.items():
        text = text.replace(placeholder, value)
    return dict(json.loads(text))


@pytest.fixture(scope="module")
def uploaded(aws: LocalAws, channels: Path, trained: TrainingResult, tmp_path_factory: pytest.TempPathFactory) -> None:
    """The buckets, the split channels of this execution, the raw data, the code bundles and a trained model."""
    s3 = client(aws, "s3")
    for bucket in (DATA, ARTIFACTS, CODE):
        s3.create_bucket(Bucket=bucket)
    for channel in CHANNELS:
        for path in (channels / channel).iterdir():
            s3.upload_file(str(path), DATA, f"{channel}/sample/{EXECUTION}/{path.name}")
    raw = tmp_path_factory.mktemp("raw") / "raw.csv"
    write_sample_dataset(raw)
    s3.upload_file(str(raw), DATA, "raw/sample/raw.csv")
    bundle = sourcedir_tarball("model_code")
    for n in range(4):
        s3.put_object(Bucket=CODE, Key=f"placeholder-code-key{n}.tar.gz", Body=bundle)
    assert trained.model_artifact is not None
    s3.upload_file(str(trained.model_artifact), ARTIFACTS, f"pipelines/sample/models/{TRAINED_JOB}/output/model.tar.gz")
    # What the Publish step copies, and the headerless feature rows the dev sample's Transform scores.
    s3.upload_file(str(trained.model_artifact), ARTIFACTS, PUBLISHED.removeprefix(f"s3://{ARTIFACTS}/"))
    rows, _ = labelled_rows(raw, limit=SCORED_ROWS)
    s3.put_object(Bucket=DATA, Key="raw/score/rows.csv", Body=("\n".join(rows) + "\n").encode())


@pytest.fixture(scope="module")
def run(aws: LocalAws, uploaded: None, tmp_path_factory: pytest.TempPathFactory) -> Callable[..., Any]:
    registry: dict[str, StepRunner] = runners(aws)

    def run_step(step: dict[str, Any], log: list[str] | None = None) -> Any:
        context = StepContext(
            execution_id=EXECUTION,
            pipeline_name="smplat-dev-sample",
            workdir=tmp_path_factory.mktemp(step["Name"]),
            log=(log if log is not None else []).append,
        )
        return registry[step["Type"]](step, context)

    return run_step


def resolved(step: dict[str, Any], execution: str = EXECUTION) -> dict[str, Any]:
    """The step with its Arguments' expressions evaluated, as the executor hands it to a runner."""
    gets = {
        "Execution.PipelineExecutionId": execution,
        "Steps.Tune.TrainingJobSummaries[0].TrainingJobName": TRAINED_JOB,
        **{
            f"Steps.Split.ProcessingOutputConfig.Outputs['{c}'].S3Output.S3Uri": f"s3://{DATA}/{c}/sample/{EXECUTION}"
            for c in CHANNELS
        },
        "Steps.Baseline.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri": BASELINE,
        "Steps.Model-CreateModel.ModelName": "replaced-by-the-test",
    }
    parameters = {"InputPrefix": "raw/sample/", "Threshold": 0.9, "SplitInstanceCount": 1}

    def value(node: Any) -> Any:
        if isinstance(node, dict) and set(node) == {"Get"}:
            path = node["Get"]
            return (
                parameters.get(path.removeprefix("Parameters."), "ml.m5.large")
                if path.startswith("Parameters.")
                else gets[path]
            )
        if isinstance(node, dict) and set(node) == {"Std:Join"}:
            return node["Std:Join"]["On"].join(str(value(v)) for v in node["Std:Join"]["Values"])
        if isinstance(node, dict):
            return {k: value(v) for k, v in node.items()}
        if isinstance(node, list):
            return [value(v) for v in node]
        return node

    return {**step, "Arguments": value(step["Arguments"])}


def s3_json(aws: LocalAws, uri: str) -> Any:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return json.loads(client(aws, "s3").get_object(Bucket=bucket, Key=key)["Body"].read())


def model_files(aws: LocalAws, uri: str) -> list[str]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    body = client(aws, "s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    with tarfile.open(fileobj=io.BytesIO(body)) as tar:
        return sorted(tar.getnames())


def test_split_writes_the_channels_of_the_execution(aws: LocalAws, definition: dict[str, Any], run: Any) -> None:
    # Outputs of another execution than the channels uploaded for the other steps.
    step = resolved(steps(definition)["Split"], execution="local-split")
    result = run(step)
    outputs = result.properties["ProcessingOutputConfig"]["Outputs"]
    assert list(outputs) == ["train", "validation", "test"]
    assert result.properties["ProcessingJobName"].startswith(f"smplat-dev-{EXECUTION}-")
    for channel in CHANNELS:
        bucket, _, prefix = outputs[channel]["S3Output"]["S3Uri"].removeprefix("s3://").partition("/")
        assert prefix == f"{channel}/sample/local-split"
        assert client(aws, "s3").list_objects_v2(Bucket=bucket, Prefix=prefix)["KeyCount"] >= 1


@needs_monitor
def test_baseline_writes_model_monitors_files_of_the_train_channel(
    aws: LocalAws, definition: dict[str, Any], run: Any
) -> None:
    result = run(resolved(steps(definition)["Baseline"]))
    uri = result.properties["ProcessingOutputConfig"]["Outputs"]["baseline"]["S3Output"]["S3Uri"]
    assert uri == BASELINE
    statistics, constraints = s3_json(aws, f"{uri}/statistics.json"), s3_json(aws, f"{uri}/constraints.json")
    features = [f["name"] for f in constraints["features"]]
    assert features == [f["name"] for f in statistics["features"]]
    assert "label" not in features and len(features) >= 1
    assert statistics["dataset"]["item_count"] > 0


def test_evaluate_reports_the_trained_model_in_s3_and_as_property_file(
    aws: LocalAws, definition: dict[str, Any], run: Any
) -> None:
    step = resolved(steps(definition)["Evaluate"])
    # evaluate.py reads /opt/ml/processing by a constant, not SM_PROCESSING_BASE_DIR: the paths go in as
    # arguments, which the runner maps to the step's folder (the dev definition passes none).
    step["Arguments"]["AppSpecification"]["ContainerEntrypoint"] += [
        "--model=/opt/ml/processing/model/model.tar.gz",
        "--test=/opt/ml/processing/test",
        "--output=/opt/ml/processing/evaluation",
    ]
    result = run(step)
    report = result.property_files["Evaluation"]
    assert evaluation_value(report, "auc") > 0.95
    uri = result.properties["ProcessingOutputConfig"]["Outputs"]["evaluation"]["S3Output"]["S3Uri"]
    assert uri == f"s3://{ARTIFACTS}/pipelines/sample/evaluation/{EXECUTION}"
    assert s3_json(aws, f"{uri}/{EVALUATION_FILE}") == report


def test_training_uploads_the_model_where_model_artifacts_says_with_metrics(
    aws: LocalAws, definition: dict[str, Any], run: Any
) -> None:
    step = resolved(steps(definition)["Train"])
    result = run(step)
    name = result.properties["TrainingJobName"]
    assert name.startswith(f"smplat-dev-{EXECUTION}-")
    uri = result.properties["ModelArtifacts"]["S3ModelArtifacts"]
    assert uri == f"s3://{ARTIFACTS}/pipelines/sample/models/{name}/output/model.tar.gz"
    assert "xgboost-model.json" in model_files(aws, uri)
    metrics = {m["MetricName"]: m["Value"] for m in result.properties["FinalMetricDataList"]}
    assert set(metrics) == {m.name for m in METRICS} - {"test:auc", "test:accuracy"}  # no test channel
    assert metrics["validation:auc"] > 0.9


def test_tuning_ranks_trials_best_first_with_their_models(aws: LocalAws, definition: dict[str, Any], run: Any) -> None:
    step = resolved(steps(definition)["Tune"])
    config = step["Arguments"]["HyperParameterTuningJobConfig"]
    config["Strategy"] = "Random"
    config["ResourceLimits"] = {"MaxNumberOfTrainingJobs": 3, "MaxParallelTrainingJobs": 2}
    config["ParameterRanges"]["IntegerParameterRanges"] = [
        {"Name": "max_depth", "MinValue": "2", "MaxValue": "3", "ScalingType": "Auto"}
    ]
    step["Arguments"]["TrainingJobDefinition"]["StaticHyperParameters"]["num_round"] = "30"
    result = run(step)
    summaries = result.properties["TrainingJobSummaries"]
    assert len(summaries) == 3
    values = [s["FinalHyperParameterTuningJobObjectiveMetric"]["Value"] for s in summaries]
    assert values == sorted(values, reverse=True)  # Maximize: the best first
    best = result.properties["BestTrainingJob"]
    assert best["TrainingJobName"] == summaries[0]["TrainingJobName"]
    assert best["TrainingJobName"].startswith(f"smplat-dev-{EXECUTION}-")
    assert {s["TunedHyperParameters"]["max_depth"] for s in summaries} <= {"2", "3"}
    for summary in summaries:
        assert summary["TrainingJobStatus"] == "Completed"
        uri = f"s3://{ARTIFACTS}/pipelines/sample/models/{summary['TrainingJobName']}/output/model.tar.gz"
        assert "xgboost-model.json" in model_files(aws, uri)


def test_register_creates_a_pending_package_with_the_evaluation(
    aws: LocalAws, definition: dict[str, Any], run: Any
) -> None:
    step = resolved(steps(definition)["Register-RegisterModel"])
    log: list[str] = []
    result = run(step, log)
    package = client(aws, "sagemaker").describe_model_package(ModelPackageName=result.properties["ModelPackageArn"])
    assert package["ModelPackageGroupName"] == "smplat-dev"
    assert package["ModelApprovalStatus"] == "PendingManualApproval"
    statistics = package["ModelMetrics"]["ModelQuality"]["Statistics"]
    assert statistics["S3Uri"] == f"s3://{ARTIFACTS}/pipelines/sample/evaluation/{EXECUTION}/evaluation.json"
    quality = package["ModelMetrics"]["ModelDataQuality"]
    assert quality["Statistics"]["S3Uri"] == f"{BASELINE}/statistics.json"
    assert quality["Constraints"]["S3Uri"] == f"{BASELINE}/constraints.json"
    assert any("does not exist in the local AWS: creating it" in line for line in log)


def test_model_creates_the_published_model_in_the_local_aws(
    aws: LocalAws, definition: dict[str, Any], run: Any
) -> None:
    step = resolved(steps(definition)["Model-CreateModel"])
    step_arguments = step["Arguments"]
    result = run(step)
    name = result.properties["ModelName"]
    assert name.startswith(f"smplat-dev-{EXECUTION}-")
    described = client(aws, "sagemaker").describe_model(ModelName=name)
    assert described["ModelArn"] == result.properties["ModelArn"]
    assert described["PrimaryContainer"]["ModelDataUrl"] == PUBLISHED
    assert described["ExecutionRoleArn"] == step_arguments["ExecutionRoleArn"]  # moto keeps no isolation flag


def test_a_scoring_pipelines_model_is_created_from_its_package(
    aws: LocalAws, definition: dict[str, Any], run: Any
) -> None:
    register = resolved(steps(definition)["Register-RegisterModel"])
    package = run(register).properties["ModelPackageArn"]
    step = resolved(steps(definition)["Model-CreateModel"])
    step["Arguments"]["PrimaryContainer"] = {"ModelPackageName": package}  # as the scoring definition has it
    name = run(step).properties["ModelName"]
    described = client(aws, "sagemaker").describe_model(ModelName=name)
    registered = register["Arguments"]["InferenceSpecification"]["Containers"][0]
    assert described["PrimaryContainer"]["ModelDataUrl"] == registered["ModelDataUrl"] == PUBLISHED
    assert described["PrimaryContainer"]["Image"] == registered["Image"]


def test_a_model_without_its_data_is_refused_as_sagemaker_does(definition: dict[str, Any], run: Any) -> None:
    step = resolved(steps(definition)["Model-CreateModel"], execution="local-unpublished")
    missing = f"s3://{ARTIFACTS}/models/sample/local-unpublished/model.tar.gz"
    with pytest.raises(RuntimeError, match=f"^Could not find model data at {missing}$"):
        run(step)


@needs_transform
def test_transform_scores_each_object_of_the_prefix_into_its_out_object(
    aws: LocalAws, definition: dict[str, Any], run: Any
) -> None:
    model = run(resolved(steps(definition)["Model-CreateModel"])).properties["ModelName"]
    step = resolved(steps(definition)["Transform"])
    step["Arguments"]["ModelName"] = model
    result = run(step)
    output = f"s3://{ARTIFACTS}/pipelines/sample/transform/{EXECUTION}"
    assert result.properties["TransformOutput"]["S3OutputPath"] == output
    body = client(aws, "s3").get_object(Bucket=ARTIFACTS, Key=f"pipelines/sample/transform/{EXECUTION}/rows.csv.out")
    predictions = body["Body"].read().decode().splitlines()
    assert len(predictions) == SCORED_ROWS  # AssembleWith Line: one line per record
    assert all(0.0 <= float(p.split(",")[0]) <= 1.0 for p in predictions)


def test_a_model_the_serving_container_cannot_load_does_not_transform_locally(
    aws: LocalAws, definition: dict[str, Any], run: Any, tmp_path: Path
) -> None:
    archive = tmp_path / "model.tar.gz"
    (tmp_path / "model.pth").write_bytes(b"weights")
    with tarfile.open(archive, "w:gz") as tar:
        tar.add(tmp_path / "model.pth", arcname="model.pth")
    client(aws, "s3").upload_file(str(archive), ARTIFACTS, "models/other/local-x/model.tar.gz")
    image = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-inference:2.6.0-cpu-py312"
    client(aws, "sagemaker").create_model(
        ModelName="smplat-dev-pytorch",
        ExecutionRoleArn=f"arn:aws:iam::{ACCOUNT}:role/job",
        PrimaryContainer={"Image": image, "ModelDataUrl": f"s3://{ARTIFACTS}/models/other/local-x/model.tar.gz"},
    )
    step = resolved(steps(definition)["Transform"])
    step["Arguments"]["ModelName"] = "smplat-dev-pytorch"
    with pytest.raises(NotRunLocally) as raised:
        run(step)
    assert str(raised.value) == (
        f"needs image {image} (no xgboost-model.json in s3://{ARTIFACTS}/models/other/local-x/model.tar.gz)"
    )


@pytest.mark.parametrize(
    ("algorithm", "reason"),
    [
        ({"TrainingImage": LINEAR_LEARNER, "TrainingInputMode": "File"}, f"needs image {LINEAR_LEARNER}"),
        # The built-in XGBoost algorithm: the framework's image without a script (no sagemaker_program).
        ({"TrainingImage": XGBOOST, "TrainingInputMode": "File"}, f"needs image {XGBOOST}"),
        ({"AlgorithmName": MARKETPLACE, "TrainingInputMode": "File"}, f"needs algorithm {MARKETPLACE}"),
    ],
    ids=["builtin", "builtin-xgboost", "marketplace"],
)
def test_builtin_and_marketplace_algorithms_do_not_run_locally(
    definition: dict[str, Any], run: Any, algorithm: dict[str, str], reason: str
) -> None:
    step = resolved(steps(definition)["Train"])
    step["Arguments"]["AlgorithmSpecification"] = algorithm
    step["Arguments"]["HyperParameters"] = {"num_round": "10"}
    with pytest.raises(NotRunLocally) as raised:
        run(step)
    assert str(raised.value) == reason


def test_a_platform_image_does_not_run_locally(definition: dict[str, Any], run: Any) -> None:
    step = resolved(steps(definition)["Train"])
    image = f"{ACCOUNT}.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1"
    step["Arguments"]["AlgorithmSpecification"]["TrainingImage"] = image
    with pytest.raises(NotRunLocally, match=f"^needs image {image}$"):
        run(step)
