"""The training pipelines stack of the dev and examples stages: each pipeline's definition as
CloudFormation will hand it to SageMaker (rendered from the synthesized template), its jobs, images,
roles, triggers and outputs."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from model_code.contract import METRICS
from model_code.local_training import TrainingResult
from tests.conftest import SynthesizedStage
from tests.pipeline_definitions import invalid_steps, steps
from tests.policies import ACCOUNT, REGION, Principal, Renderer, Request, bucket_policy, decide, role_principal

SOURCES = {  # the examples stage: entry -> what it shows (other frameworks: test_pipeline_sources.py)
    "builtin-xgboost": "builtin",
    "pytorch": "script",
    "sklearn": "script, with the Spark split",
    "own-container": "container",
    "marketplace": "marketplace",
}


def pipeline_resource(stage: SynthesizedStage, entry: str) -> dict[str, Any]:
    (found,) = (
        r
        for r in stage.resources("pipelines", "AWS::SageMaker::Pipeline").values()
        if r["Properties"]["PipelineName"] == f"smplat-{stage.name}-{entry}"
    )
    return found


def definition(stage: SynthesizedStage, entry: str) -> dict[str, Any]:
    """What SageMaker receives: the template's Fn::Sub rendered with realistic values."""
    body = pipeline_resource(stage, entry)["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    assert set(body) == {"Fn::Sub"}
    rendered = Renderer(stage.templates).render(body, "pipelines")
    assert "${" not in rendered.replace("${!", "")  # every placeholder became a value
    return dict(json.loads(rendered))


@pytest.fixture(scope="module")
def dev(stages: dict[str, SynthesizedStage]) -> dict[str, Any]:
    return definition(stages["dev"], "sample")


@pytest.fixture(scope="module")
def examples(stages: dict[str, SynthesizedStage]) -> dict[str, dict[str, Any]]:
    return {entry: definition(stages["examples"], entry) for entry in SOURCES}


def test_dev_sample_runs_split_train_tune_evaluate_then_registers_or_fails(dev: dict[str, Any]) -> None:
    assert [(s["Name"], s["Type"]) for s in dev["Steps"]] == [
        ("Split", "Processing"),
        ("Train", "Training"),
        ("Baseline", "Processing"),
        ("Tune", "Tuning"),
        ("Evaluate", "Processing"),
        ("CheckQuality", "Condition"),
    ]
    check = steps(dev)["CheckQuality"]["Arguments"]
    assert [s["Name"] for s in check["IfSteps"]] == [
        "Publish",
        "Register-RegisterModel",
        "Model-CreateModel",
        "Transform",
    ]
    assert [s["Name"] for s in check["ElseSteps"]] == ["QualityBarMissed"]
    assert check["Conditions"] == [
        {
            "Type": "GreaterThanOrEqualTo",
            "LeftValue": {
                "Std:JsonGet": {
                    "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Evaluation"},
                    "Path": "binary_classification_metrics.auc.value",
                }
            },
            "RightValue": {"Get": "Parameters.Threshold"},
        }
    ]
    assert steps(dev)["Evaluate"]["PropertyFiles"] == [
        {"PropertyFileName": "Evaluation", "OutputName": "evaluation", "FilePath": "evaluation.json"}
    ]
    assert steps(dev)["Tune"]["DependsOn"] == ["Train"]  # a broken entry point fails once, not max_jobs times


def test_every_pipeline_baselines_its_train_channel_and_publishes_the_baseline_with_the_package(
    dev: dict[str, Any], examples: dict[str, dict[str, Any]]
) -> None:
    baseline = steps(dev)["Baseline"]["Arguments"]
    assert baseline["AppSpecification"]["ImageUri"] == (
        f"141502667606.dkr.ecr.{REGION}.amazonaws.com/sagemaker-scikit-learn:1.4-2-cpu-py3"
    )
    entrypoint = baseline["AppSpecification"]["ContainerEntrypoint"]
    assert "tar -xzf /opt/ml/processing/code/3/* -C /tmp/code" in entrypoint[2]
    assert "exec python3 model_code/monitor.py" in entrypoint[2]
    assert entrypoint[3:] == [
        "sh",
        "baseline",
        "--input",
        "/opt/ml/processing/train",
        "--output",
        "/opt/ml/processing/baseline",
    ]
    inputs = {i["InputName"]: i["S3Input"] for i in baseline["ProcessingInputs"]}
    assert inputs["train"]["S3Uri"] == {"Get": "Steps.Split.ProcessingOutputConfig.Outputs['train'].S3Output.S3Uri"}
    assert inputs["train"]["LocalPath"] == "/opt/ml/processing/train"
    # The same bundle as the python split's: model_code/ (one asset).
    split_code = next(i for i in steps(dev)["Split"]["Arguments"]["ProcessingInputs"] if i["InputName"] == "code1")
    assert inputs["code3"]["S3Uri"] == split_code["S3Input"]["S3Uri"]
    (output,) = baseline["ProcessingOutputConfig"]["Outputs"]
    assert output["S3Output"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3://artifactsbucket88671897/pipelines/sample",
                "baseline",
                {"Get": "Execution.PipelineExecutionId"},
            ],
        }
    }
    assert "DependsOn" not in steps(dev)["Baseline"]  # beside Train: it needs only the Split's train channel

    def published(name: str) -> dict[str, Any]:
        uri = {"Get": "Steps.Baseline.ProcessingOutputConfig.Outputs['baseline'].S3Output.S3Uri"}
        return {"ContentType": "application/json", "S3Uri": {"Std:Join": {"On": "/", "Values": [uri, name]}}}

    quality = {"Statistics": published("statistics.json"), "Constraints": published("constraints.json")}
    for name, found in {"dev": dev, **examples}.items():
        register = steps(found)["Register-RegisterModel"]["Arguments"]
        assert register["ModelMetrics"]["ModelDataQuality"] == quality, name
        assert register["DriftCheckBaselines"] == {"ModelDataQuality": quality}, name
        image = steps(found)["Baseline"]["Arguments"]["AppSpecification"]["ImageUri"]
        assert image.endswith("/sagemaker-scikit-learn:1.4-2-cpu-py3"), name  # the spark example's too
    spark = steps(examples["sklearn"])["Baseline"]["Arguments"]["ProcessingInputs"]
    bundle = next(i["S3Input"]["S3Uri"] for i in spark if i["InputName"] == "code3")
    assert bundle.endswith(".gz")  # model_code/ packed, not the spark split's single script


def test_dev_sample_ends_scoring_raw_score_with_the_registered_model_inside_the_platform(
    dev: dict[str, Any], stages: dict[str, SynthesizedStage]
) -> None:
    renderer = Renderer(stages["dev"].templates)
    job_role = next(i for i in stages["dev"].resources("pipelines", "AWS::IAM::Role") if "RolesJobRole" in i)
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/PlatformKey1C4A1A63"
    model_step = steps(dev)["Model-CreateModel"]
    assert model_step["Type"] == "Model"
    assert model_step["DependsOn"] == ["Register-RegisterModel"]  # after Register, in the quality bar's branch
    register = steps(dev)["Register-RegisterModel"]["Arguments"]["InferenceSpecification"]["Containers"][0]
    model = model_step["Arguments"]
    assert model == {
        "ModelName": "smplat-dev",  # a prefix: SageMaker Pipelines appends a suffix
        "ExecutionRoleArn": renderer.render({"Fn::GetAtt": [job_role, "Arn"]}, "pipelines"),
        # What was registered: the published model, served by the package's image.
        "PrimaryContainer": {"Image": register["Image"], "Environment": {}, "ModelDataUrl": register["ModelDataUrl"]},
        "VpcConfig": {
            "Subnets": [
                "subnet-networkvpcprivatesubnet1subnet6dd86ae6",
                "subnet-networkvpcprivatesubnet2subnet1bdbe877",
            ],
            "SecurityGroupIds": ["sg-networkjobsecuritygroup21d3477a"],
        },
        "EnableNetworkIsolation": True,
    }
    transform = steps(dev)["Transform"]["Arguments"]
    assert transform == {
        "TransformJobName": "smplat-dev",
        "ModelName": {"Get": "Steps.Model-CreateModel.ModelName"},
        "TransformInput": {
            "DataSource": {
                "S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://datachannelsstoragebucketdfa7e37b/raw/score/"}
            },
            "ContentType": "text/csv",
            "SplitType": "Line",
        },
        "TransformOutput": {
            "S3OutputPath": {
                "Std:Join": {
                    "On": "/",
                    "Values": [
                        "s3://artifactsbucket88671897/pipelines/sample/transform",
                        {"Get": "Execution.PipelineExecutionId"},
                    ],
                }
            },
            "KmsKeyId": key,
            "AssembleWith": "Line",
            "Accept": "text/csv",
        },
        "TransformResources": {"InstanceCount": 1, "InstanceType": "ml.m5.large", "VolumeKmsKeyId": key},
        "BatchStrategy": "MultiRecord",
        "MaxPayloadInMB": 6,
        "DataProcessing": {"InputFilter": "$", "OutputFilter": "$", "JoinSource": "None"},
    }


def test_parameters_default_to_the_stage_file(dev: dict[str, Any]) -> None:
    assert {p["Name"]: p.get("DefaultValue") for p in dev["Parameters"]} == {
        "InputPrefix": "raw/sample/",
        "SplitInstanceType": "ml.m5.large",
        "SplitInstanceCount": 1,
        "TrainInstanceType": "ml.m5.large",
        "EvaluationInstanceType": "ml.m5.large",
        "Threshold": 0.9,
    }  # no TrainInstanceCount: the sample's XGBoost script trains on one instance


def test_split_writes_each_channel_to_its_own_location(dev: dict[str, Any]) -> None:
    split = steps(dev)["Split"]["Arguments"]
    (raw,) = [i for i in split["ProcessingInputs"] if i["InputName"] == "raw"]
    assert raw["S3Input"]["S3Uri"] == {
        "Std:Join": {"On": "", "Values": ["s3://datachannelsstoragebucketdfa7e37b/", {"Get": "Parameters.InputPrefix"}]}
    }
    outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"]["Std:Join"]["Values"]
        for o in split["ProcessingOutputConfig"]["Outputs"]
    }
    assert outputs == {
        c: [f"s3://datachannelsstoragebucketdfa7e37b/{c}/sample", {"Get": "Execution.PipelineExecutionId"}]
        for c in ("train", "validation", "test")
    }
    assert split["AppSpecification"]["ContainerEntrypoint"][-4:] == ["--fractions", "0.7,0.15,0.15", "--seed", "42"]
    assert "model_code/split.py" in split["AppSpecification"]["ContainerEntrypoint"][2]


def test_every_job_runs_isolated_in_the_platform_with_the_key(
    dev: dict[str, Any], examples: dict[str, dict[str, Any]]
) -> None:
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/PlatformKey1C4A1A63"
    vpc = {
        "SecurityGroupIds": ["sg-networkjobsecuritygroup21d3477a"],
        "Subnets": ["subnet-networkvpcprivatesubnet1subnet6dd86ae6", "subnet-networkvpcprivatesubnet2subnet1bdbe877"],
    }
    checked = 0
    for name, found in {"dev": dev, **examples}.items():
        for step in steps(found).values():
            arguments = step["Arguments"]
            if step["Type"] == "Processing":
                network, resources = arguments["NetworkConfig"], arguments["ProcessingResources"]["ClusterConfig"]
                assert network["EnableNetworkIsolation"] is True, name
                assert (
                    network["VpcConfig"]
                    == {"SecurityGroupIds": ["sg-smplat"], "Subnets": ["subnet-smplat0", "subnet-smplat1"]}
                    or network["VpcConfig"]["SecurityGroupIds"]
                ), name
                assert resources["VolumeKmsKeyId"] == arguments["ProcessingOutputConfig"]["KmsKeyId"] == key, name
            elif step["Type"] in ("Training", "Tuning"):
                job = arguments.get("TrainingJobDefinition", arguments)
                assert job["EnableNetworkIsolation"] is True and job["EnableInterContainerTrafficEncryption"] is True
                assert job["OutputDataConfig"]["KmsKeyId"] == key, name
                resources = job.get("ResourceConfig", job.get("HyperParameterTuningResourceConfig"))
                assert resources["VolumeKmsKeyId"] == key, name
                assert job["VpcConfig"] == vpc, name
                assert "DebugHookConfig" not in job, name  # Debugger is closed to new customers
                if step["Type"] == "Training":
                    assert job["ProfilerConfig"] == {"DisableProfiler": True}, name
            else:
                continue
            checked += 1
    # Split, Train, Baseline, Tune, Evaluate, Publish of each pipeline (the marketplace one tunes not)
    assert checked == 35


def test_spot_training_waits_at_least_as_long_as_it_runs_and_checkpoints_per_execution(
    dev: dict[str, Any], examples: dict[str, dict[str, Any]]
) -> None:
    train = steps(dev)["Train"]["Arguments"]
    assert train["EnableManagedSpotTraining"] is True
    assert train["StoppingCondition"] == {"MaxRuntimeInSeconds": 1800, "MaxWaitTimeInSeconds": 3600}
    assert train["CheckpointConfig"]["S3Uri"] == {
        "Std:Join": {
            "On": "/",
            "Values": [
                "s3://artifactsbucket88671897/pipelines/sample",
                "checkpoints",
                {"Get": "Execution.PipelineExecutionId"},
            ],
        }
    }
    on_demand = steps(examples["sklearn"])["Train"]["Arguments"]
    assert "EnableManagedSpotTraining" not in on_demand or on_demand["EnableManagedSpotTraining"] is False
    assert on_demand["StoppingCondition"] == {"MaxRuntimeInSeconds": 3600}


def test_several_instances_shard_the_train_channel(examples: dict[str, dict[str, Any]]) -> None:
    train = steps(examples["pytorch"])["Train"]["Arguments"]
    distribution = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3DataDistributionType"] for c in train["InputDataConfig"]
    }
    assert distribution == {"train": "ShardedByS3Key", "validation": "FullyReplicated", "code": "FullyReplicated"}
    assert train["ResourceConfig"]["InstanceCount"] == {"Get": "Parameters.TrainInstanceCount"}
    assert {p["Name"]: p["DefaultValue"] for p in examples["pytorch"]["Parameters"]}["TrainInstanceCount"] == 2


def test_each_algorithm_source(examples: dict[str, dict[str, Any]]) -> None:
    def algorithm(entry: str) -> dict[str, Any]:
        return dict(steps(examples[entry])["Train"]["Arguments"]["AlgorithmSpecification"])

    assert algorithm("builtin-xgboost")["TrainingImage"] == (
        f"141502667606.dkr.ecr.{REGION}.amazonaws.com/sagemaker-xgboost:1.7-1"
    )
    assert algorithm("pytorch")["TrainingImage"] == (
        f"763104351884.dkr.ecr.{REGION}.amazonaws.com/pytorch-training:2.6.0-gpu-py312"  # ml.g5: the GPU image
    )
    assert algorithm("own-container")["TrainingImage"] == (
        f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/smplat-examples-training:sample-1"
    )
    marketplace = algorithm("marketplace")
    assert marketplace == {
        "AlgorithmName": "arn:aws:sagemaker:us-east-1:865070037744:algorithm/sample-algorithm",
        "TrainingInputMode": "File",
    }  # no image and no metric definitions: the algorithm brings both
    register = steps(examples["marketplace"])["Register-RegisterModel"]["Arguments"]
    assert "InferenceSpecification" not in register
    (source,) = register["SourceAlgorithmSpecification"]["SourceAlgorithms"]
    assert source["AlgorithmName"] == marketplace["AlgorithmName"]
    # Script mode: the entry point and its code bundle, delivered as the `code` channel.
    hyperparameters = steps(examples["pytorch"])["Train"]["Arguments"]["HyperParameters"]
    assert hyperparameters["sagemaker_program"] == '"model_code/frameworks/pytorch/train.py"'
    (code,) = [
        c for c in steps(examples["pytorch"])["Train"]["Arguments"]["InputDataConfig"] if c["ChannelName"] == "code"
    ]
    bundle = code["DataSource"]["S3DataSource"]["S3Uri"]
    assert re.fullmatch(rf"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/[0-9a-f]{{64}}\.gz", bundle), bundle
    assert hyperparameters["sagemaker_submit_directory"] == json.dumps(
        f"/opt/ml/input/data/code/{bundle.rsplit('/', 1)[1]}"
    )
    # The default evaluation runs in script mode's own image and loads the model through its entry point.
    evaluate = steps(examples["pytorch"])["Evaluate"]["Arguments"]["AppSpecification"]
    assert evaluate["ImageUri"] == f"763104351884.dkr.ecr.{REGION}.amazonaws.com/pytorch-training:2.6.0-cpu-py312"
    assert evaluate["ContainerEntrypoint"][-2:] == ["--entry-point", "model_code/frameworks/pytorch/train.py"]
    # The spark split: spark-submit runs the script on AWS's Spark image.
    split = steps(examples["sklearn"])["Split"]["Arguments"]["AppSpecification"]
    assert split["ImageUri"].endswith("/sagemaker-spark-processing:3.5-cpu-py312")
    assert split["ContainerEntrypoint"][0] == "smspark-submit"


def test_every_tuning_strategy_is_shown(examples: dict[str, dict[str, Any]]) -> None:
    strategies = {}
    for entry, found in examples.items():
        if "Tune" in steps(found):
            config = steps(found)["Tune"]["Arguments"]["HyperParameterTuningJobConfig"]
            strategies[entry] = (config["Strategy"], config["TrainingJobEarlyStoppingType"])
    assert set(s for s, _ in strategies.values()) == {"Bayesian", "Random", "Hyperband", "Grid"}
    assert strategies["own-container"] == ("Hyperband", "Off") and strategies["sklearn"] == ("Grid", "Off")
    ranges = steps(examples["pytorch"])["Tune"]["Arguments"]["HyperParameterTuningJobConfig"]["ParameterRanges"]
    assert ranges["ContinuousParameterRanges"] == [
        {"Name": "learning_rate", "MinValue": "0.0001", "MaxValue": "0.1", "ScalingType": "Logarithmic"}
    ]
    warm = steps(examples["pytorch"])["Tune"]["Arguments"]["WarmStartConfig"]
    assert warm == {
        "WarmStartType": "TransferLearning",
        "ParentHyperParameterTuningJobs": [{"HyperParameterTuningJobName": "smplat-examples-pytorch-v1"}],
    }


def test_step_arguments_are_valid_requests_of_their_sagemaker_operations(
    dev: dict[str, Any], examples: dict[str, dict[str, Any]]
) -> None:
    """Each job step's Arguments are the request of its Create* call: botocore's SageMaker model
    checks them (pipeline expressions replaced by a value of the right type first)."""
    assert {name: invalid_steps(found) for name, found in {"dev": dev, **examples}.items()} == {
        name: {} for name in ("dev", *examples)
    }
    assert (
        sum(1 for found in (dev, *examples.values()) for s in steps(found).values() if s["Type"] != "Condition") >= 30
    )


def test_the_enum_check_catches_what_botocore_lets_through(dev: dict[str, Any]) -> None:
    broken = copy.deepcopy(dev)
    transform = steps(broken)["Transform"]["Arguments"]
    transform["TransformInput"]["SplitType"] = "Lines"
    transform["BatchStrategy"] = "Batched"
    assert invalid_steps(broken) == {
        "Transform": ".BatchStrategy: 'Batched' is not one of ['MultiRecord', 'SingleRecord']\n"
        ".TransformInput.SplitType: 'Lines' is not one of ['None', 'Line', 'RecordIO', 'TFRecord']"
    }


def test_a_transform_filters_records_and_joins_predictions_to_them(examples: dict[str, dict[str, Any]]) -> None:
    transform = steps(examples["builtin-xgboost"])["Transform"]["Arguments"]
    assert transform["DataProcessing"] == {"InputFilter": "$[1:]", "OutputFilter": "$[0,-1]", "JoinSource": "Input"}
    assert (transform["MaxPayloadInMB"], transform["MaxConcurrentTransforms"]) == (10, 4)
    assert transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"] == (
        "s3://datachannelsstoragebucketdfa7e37b/raw/builtin-xgboost-holdout/"
    )
    # Built-in XGBoost serves with its own inference image, as registered.
    model = steps(examples["builtin-xgboost"])["Model-CreateModel"]["Arguments"]["PrimaryContainer"]
    register = steps(examples["builtin-xgboost"])["Register-RegisterModel"]["Arguments"]
    assert model["Image"] == register["InferenceSpecification"]["Containers"][0]["Image"]
    assert [name for name, found in examples.items() if "Transform" in steps(found)] == ["builtin-xgboost"]


def test_metric_definitions_parse_the_real_training_output(dev: dict[str, Any], trained: TrainingResult) -> None:
    definitions = steps(dev)["Train"]["Arguments"]["AlgorithmSpecification"]["MetricDefinitions"]
    assert [d["Name"] for d in definitions] == [m.name for m in METRICS]
    for definition in definitions:
        assert re.findall(definition["Regex"], trained.log), definition
    tuning = steps(dev)["Tune"]["Arguments"]
    objective = tuning["HyperParameterTuningJobConfig"]["HyperParameterTuningJobObjective"]
    assert objective == {"Type": "Maximize", "MetricName": "validation:auc"}
    assert tuning["TrainingJobDefinition"]["AlgorithmSpecification"]["MetricDefinitions"] == definitions


def test_no_timestamps_or_experiments_in_the_definition(
    dev: dict[str, Any], examples: dict[str, dict[str, Any]]
) -> None:
    for found in (dev, *examples.values()):
        text = json.dumps(found)
        assert "sagemaker_job_name" not in text and "PipelineExperimentConfig" not in found
        assert not re.search(r"20\d\d-\d\d-\d\d-\d\d-\d\d", text)


def test_pipeline_role_creates_only_platform_jobs_and_passes_only_its_roles(
    stages: dict[str, SynthesizedStage],
) -> None:
    stage = stages["dev"]
    renderer = Renderer(stage.templates)
    roles = stage.resources("pipelines", "AWS::IAM::Role")
    pipeline_role = next(i for i in roles if i.startswith("PipelineSampleRolesPipelineRole"))
    job_role = next(i for i in roles if i.startswith("PipelineSampleRolesJobRole"))
    who = role_principal(renderer, "pipelines", pipeline_role)
    inside = {
        "sagemaker:VpcSubnets": ["subnet-networkvpcprivatesubnet1subnet6dd86ae6"],
        "sagemaker:VpcSecurityGroupIds": ["sg-networkjobsecuritygroup21d3477a"],
        "sagemaker:VolumeKmsKey": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/PlatformKey1C4A1A63",
        "sagemaker:OutputKmsKey": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/PlatformKey1C4A1A63",
        "sagemaker:NetworkIsolation": "true",
        "sagemaker:InterContainerTrafficEncryption": "true",
    }
    job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/smplat-dev-abc123"
    assert decide(Request(who, "sagemaker:CreateTrainingJob", job, inside)) == "Allow"
    processing = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/smplat-dev-abc123"
    assert decide(Request(who, "sagemaker:CreateProcessingJob", processing, inside)) == "Allow"
    plain = {**inside, "sagemaker:InterContainerTrafficEncryption": "false"}
    assert decide(Request(who, "sagemaker:CreateProcessingJob", processing, plain)) != "Allow"
    assert (
        decide(Request(who, "sagemaker:CreateTrainingJob", job, {**inside, "sagemaker:NetworkIsolation": "false"}))
        != "Allow"
    )
    outside = {k: v for k, v in inside.items() if k != "sagemaker:VpcSubnets"}
    assert decide(Request(who, "sagemaker:CreateTrainingJob", job, outside)) != "Allow"
    other = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/other-team-abc"
    assert decide(Request(who, "sagemaker:CreateTrainingJob", other, inside)) != "Allow"
    passed = {"iam:PassedToService": "sagemaker.amazonaws.com"}
    job_role_arn = renderer.render({"Fn::GetAtt": [job_role, "Arn"]}, "pipelines")
    assert decide(Request(who, "iam:PassRole", job_role_arn, passed)) == "Allow"
    assert decide(Request(who, "iam:PassRole", f"arn:aws:iam::{ACCOUNT}:role/admin", passed)) != "Allow"
    package = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/smplat-dev/3"
    pending = {"sagemaker:ModelApprovalStatus": "PendingManualApproval"}
    assert decide(Request(who, "sagemaker:CreateModelPackage", package, pending)) == "Allow"
    approved = {"sagemaker:ModelApprovalStatus": "Approved"}  # approval stays a person's decision
    assert decide(Request(who, "sagemaker:CreateModelPackage", package, approved)) != "Allow"
    foreign = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model-package/other-group/3"
    assert decide(Request(who, "sagemaker:CreateModelPackage", foreign, pending)) != "Allow"


def test_pipeline_role_creates_only_isolated_platform_models_and_transform_jobs_of_them_with_the_key(
    stages: dict[str, SynthesizedStage],
) -> None:
    stage = stages["dev"]
    renderer = Renderer(stage.templates)
    pipeline_role = next(i for i in stage.resources("pipelines", "AWS::IAM::Role") if "RolesPipelineRole" in i)
    who = role_principal(renderer, "pipelines", pipeline_role)
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/PlatformKey1C4A1A63"
    model = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/smplat-dev-abc123"
    isolated = {
        "sagemaker:VpcSubnets": ["subnet-networkvpcprivatesubnet1subnet6dd86ae6"],
        "sagemaker:VpcSecurityGroupIds": ["sg-networkjobsecuritygroup21d3477a"],
        "sagemaker:NetworkIsolation": "true",
    }
    assert decide(Request(who, "sagemaker:CreateModel", model, isolated)) == "Allow"
    assert decide(
        Request(who, "sagemaker:CreateModel", model, {**isolated, "sagemaker:NetworkIsolation": "false"})
    ) != ("Allow")
    no_vpc = {"sagemaker:NetworkIsolation": "true"}  # a model outside the VPC
    assert decide(Request(who, "sagemaker:CreateModel", model, no_vpc)) != "Allow"
    other_model = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/other-team-abc"
    assert decide(Request(who, "sagemaker:CreateModel", other_model, isolated)) != "Allow"
    job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/smplat-dev-abc123"
    keyed = {"sagemaker:VolumeKmsKey": key, "sagemaker:OutputKmsKey": key, "sagemaker:ModelArn": model}
    assert decide(Request(who, "sagemaker:CreateTransformJob", job, keyed)) == "Allow"
    assert decide(Request(who, "sagemaker:CreateTransformJob", job, {**keyed, "sagemaker:ModelArn": other_model})) != (
        "Allow"
    )
    unkeyed = {k: v for k, v in keyed.items() if k != "sagemaker:OutputKmsKey"}
    assert decide(Request(who, "sagemaker:CreateTransformJob", job, unkeyed)) != "Allow"
    other_job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/other-team-abc"
    assert decide(Request(who, "sagemaker:CreateTransformJob", other_job, keyed)) != "Allow"
    assert decide(Request(who, "sagemaker:DescribeTransformJob", job)) == "Allow"


def test_job_role_reads_its_raw_prefix_and_writes_only_its_channels(stages: dict[str, SynthesizedStage]) -> None:
    stage = stages["dev"]
    renderer = Renderer(stage.templates)
    job_role = next(
        i for i in stage.resources("pipelines", "AWS::IAM::Role") if i.startswith("PipelineSampleRolesJobRole")
    )
    who: Principal = role_principal(renderer, "pipelines", job_role)
    data = "arn:aws:s3:::datachannelsstoragebucketdfa7e37b"
    assert decide(Request(who, "s3:GetObject", f"{data}/raw/sample/part-1.csv")) == "Allow"
    assert decide(Request(who, "s3:GetObject", f"{data}/raw/other-team/part-1.csv")) != "Allow"
    assert decide(Request(who, "s3:PutObject", f"{data}/train/sample/exec-1/train.csv")) == "Allow"
    assert decide(Request(who, "s3:PutObject", f"{data}/train/other/x.csv")) != "Allow"
    assert decide(Request(who, "s3:PutObject", f"{data}/raw/sample/x.csv")) != "Allow"
    # The transform step: its input prefix, and the entry's published models, which its model serves.
    assert decide(Request(who, "s3:GetObject", f"{data}/raw/score/rows.csv")) == "Allow"
    assert decide(Request(who, "s3:PutObject", f"{data}/raw/score/rows.csv")) != "Allow"
    published = "arn:aws:s3:::artifactsbucket88671897/models"
    assert decide(Request(who, "s3:GetObject", f"{published}/sample/exec-1/model.tar.gz")) == "Allow"
    assert decide(Request(who, "s3:GetObject", f"{published}/other/exec-1/model.tar.gz")) != "Allow"
    assert (
        decide(Request(who, "s3:PutObject", "arn:aws:s3:::artifactsbucket88671897/models/sample/model.tar.gz"))
        != "Allow"
    )
    artifacts = "arn:aws:s3:::artifactsbucket88671897"
    assert decide(Request(who, "s3:PutObject", f"{artifacts}/pipelines/sample/models/x")) == "Allow"
    assert decide(Request(who, "s3:PutObject", f"{artifacts}/pipelines/other/models/x")) != "Allow"
    assert decide(Request(who, "s3:PutObject", f"{artifacts}/jobs/x")) != "Allow"


def test_only_the_publish_step_runs_as_the_model_publisher(
    dev: dict[str, Any], stages: dict[str, SynthesizedStage]
) -> None:
    renderer = Renderer(stages["dev"].templates)
    publisher = renderer.render({"Fn::ImportValue": "smplat-dev-ModelPublisherRoleArn"}, "pipelines")
    job_role = next(i for i in stages["dev"].resources("pipelines", "AWS::IAM::Role") if "RolesJobRole" in i)
    runs_as = {}
    for name, step in steps(dev).items():
        arguments = step["Arguments"]
        role = arguments.get("RoleArn", arguments.get("TrainingJobDefinition", {}).get("RoleArn"))
        if role is not None:
            runs_as[name] = role
    assert runs_as == {
        "Split": renderer.render({"Fn::GetAtt": [job_role, "Arn"]}, "pipelines"),
        "Train": renderer.render({"Fn::GetAtt": [job_role, "Arn"]}, "pipelines"),
        "Baseline": renderer.render({"Fn::GetAtt": [job_role, "Arn"]}, "pipelines"),
        "Tune": renderer.render({"Fn::GetAtt": [job_role, "Arn"]}, "pipelines"),
        "Evaluate": renderer.render({"Fn::GetAtt": [job_role, "Arn"]}, "pipelines"),
        "Publish": publisher,
    }


def test_only_pipeline_roles_write_pipeline_artifacts(stages: dict[str, SynthesizedStage]) -> None:
    """What Publish copies to models/ is what the pipeline trained and evaluated: the bucket policy lets
    no notebook or other job role write pipelines/, whatever its identity policy allows."""
    policy = bucket_policy(Renderer(stages["dev"].templates), "data", "ArtifactsBucket88671897")
    artifacts = "arn:aws:s3:::artifactsbucket88671897"
    trained = f"{artifacts}/pipelines/sample/models/job-1/output/model.tar.gz"
    everything = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}

    def role(path: str) -> Principal:
        return Principal(f"arn:aws:iam::{ACCOUNT}:role{path}Role", (everything,))

    assert decide(Request(role("/smplat-dev-notebooks/"), "s3:PutObject", trained), policy) == "Deny"
    assert decide(Request(role("/"), "s3:PutObject", trained), policy) == "Deny"  # e.g. the execution role
    pipeline_job = role("/smplat-dev-pipelines/")
    assert decide(Request(pipeline_job, "s3:PutObject", trained), policy) == "Allow"
    assert decide(Request(pipeline_job, "s3:PutObject", f"{artifacts}/models/sample/model.tar.gz"), policy) == "Deny"
    assert decide(Request(pipeline_job, "s3:GetObject", f"{artifacts}/data-capture/x/y.jsonl"), policy) == "Deny"


def test_a_trigger_role_is_trusted_only_by_its_rules(stages: dict[str, SynthesizedStage]) -> None:
    stage = stages["dev"]
    (role,) = [r for i, r in stage.resources("pipelines", "AWS::IAM::Role").items() if "StartRole" in i]
    (trust,) = Renderer(stage.templates).render(role["Properties"]["AssumeRolePolicyDocument"], "pipelines")[
        "Statement"
    ]
    assert trust["Principal"] == {"Service": "events.amazonaws.com"}
    assert trust["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnEquals": {"aws:SourceArn": [f"arn:aws:events:{REGION}:{ACCOUNT}:rule/smplat-dev-sample-new-data"]},
    }


def test_new_raw_data_starts_the_pipeline_without_replacing_the_bucket(stages: dict[str, SynthesizedStage]) -> None:
    stage = stages["dev"]
    (rule,) = stage.resources("pipelines", "AWS::Events::Rule").values()
    rendered = Renderer(stage.templates).render(rule["Properties"], "pipelines")
    assert rendered["EventPattern"] == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": ["datachannelsstoragebucketdfa7e37b"]},
            "object": {"key": [{"prefix": "raw/sample/"}]},
        },
    }
    (target,) = rendered["Targets"]
    assert target["Arn"] == f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/smplat-dev-sample"
    buckets = stage.resources("data", "AWS::S3::Bucket")
    assert buckets["DataChannelsStorageBucketDFA7E37B"]["Properties"]["NotificationConfiguration"] == {
        "EventBridgeConfiguration": {"EventBridgeEnabled": True}
    }
    schedules = [
        r["Properties"].get("ScheduleExpression")
        for r in stages["examples"].resources("pipelines", "AWS::Events::Rule").values()
    ]
    assert schedules == ["cron(0 3 ? * MON *)", "cron(0 2 * * ? *)"]  # sklearn's, and the nightly scoring's


def test_images_resolve_per_region_at_deploy_time(stages: dict[str, SynthesizedStage]) -> None:
    template = stages["dev"].templates["pipelines"]
    for mapping in template["Mappings"].values():  # one per image: region -> Uri
        assert len(mapping) >= 30 and {"Uri"} == set(mapping["eu-west-1"]) == set(mapping["us-east-1"])
    variables = pipeline_resource(stages["dev"], "sample")["Properties"]["PipelineDefinition"][
        "PipelineDefinitionBody"
    ]["Fn::Sub"][1]
    assert variables["TrainImage"]["Fn::FindInMap"][1] == {"Ref": "AWS::Region"}


def test_outputs_are_published(stages: dict[str, SynthesizedStage]) -> None:
    outputs = stages["dev"].templates["pipelines"]["Outputs"]
    assert {k: v["Export"]["Name"] for k, v in outputs.items()} == {
        "PipelineSampleName": "smplat-dev-PipelineSampleName",
        "PipelineSampleArn": "smplat-dev-PipelineSampleArn",
        "PipelineSampleJobRoleArn": "smplat-dev-PipelineSampleJobRoleArn",
        "PipelineSampleRoleArn": "smplat-dev-PipelineSampleRoleArn",
    }
    parameters = {r["Properties"]["Name"] for r in stages["dev"].resources("pipelines", "AWS::SSM::Parameter").values()}
    assert parameters == {
        "/smplat/dev/pipeline-sample-name",
        "/smplat/dev/pipeline-sample-arn",
        "/smplat/dev/pipeline-sample-job-role-arn",
        "/smplat/dev/pipeline-sample-role-arn",
    }


# Scoring pipelines (the examples stage's `nightly`) -------------------------------------------------------------------


def test_a_scoring_pipeline_scores_its_prefix_with_the_package_it_is_started_with(
    stages: dict[str, SynthesizedStage],
) -> None:
    stage = stages["examples"]
    renderer = Renderer(stage.templates)
    nightly = definition(stage, "nightly")
    assert nightly["Parameters"] == [{"Name": "ModelPackageArn", "Type": "String"}]  # no default: the runbook's
    assert [(s["Name"], s["Type"]) for s in nightly["Steps"]] == [
        ("Model-CreateModel", "Model"),
        ("Transform", "Transform"),
    ]
    job_role = next(i for i in stage.resources("pipelines", "AWS::IAM::Role") if i.startswith("ScoringNightlyJobRole"))
    model = steps(nightly)["Model-CreateModel"]["Arguments"]
    assert model["PrimaryContainer"] == {"ModelPackageName": {"Get": "Parameters.ModelPackageArn"}}
    assert model["ExecutionRoleArn"] == renderer.render({"Fn::GetAtt": [job_role, "Arn"]}, "pipelines")
    assert model["EnableNetworkIsolation"] is True and model["VpcConfig"]["Subnets"]
    transform = steps(nightly)["Transform"]["Arguments"]
    source = transform["TransformInput"]["DataSource"]["S3DataSource"]["S3Uri"]
    assert source == "s3://datachannelsstoragebucketdfa7e37b/raw/nightly/"
    assert transform["TransformOutput"]["S3OutputPath"]["Std:Join"]["Values"] == [
        "s3://artifactsbucket88671897/pipelines/nightly/transform",
        {"Get": "Execution.PipelineExecutionId"},
    ]
    key = transform["TransformResources"]["VolumeKmsKeyId"]
    assert key == transform["TransformOutput"]["KmsKeyId"] and key.endswith(":key/PlatformKey1C4A1A63")
    assert invalid_steps(nightly) == {}


def test_a_schedule_starts_a_runbook_that_starts_scoring_with_the_latest_approved_package(
    stages: dict[str, SynthesizedStage],
) -> None:
    stage = stages["examples"]
    renderer = Renderer(stage.templates)
    (rule,) = [
        r
        for r in stage.resources("pipelines", "AWS::Events::Rule").values()
        if r["Properties"]["Name"] == "smplat-examples-nightly-schedule"
    ]
    properties = renderer.render(rule["Properties"], "pipelines")
    assert properties["ScheduleExpression"] == "cron(0 2 * * ? *)"
    (target,) = properties["Targets"]
    assert target["RetryPolicy"] == {"MaximumRetryAttempts": 10, "MaximumEventAgeInSeconds": 14400}
    assert target["DeadLetterConfig"]["Arn"].endswith(":smplat-examples-nightly-dead-letters")
    assert ":automation-definition/" in target["Arn"] and target["Arn"].endswith(":$DEFAULT")
    (runbook,) = stage.resources("pipelines", "AWS::SSM::Document").values()
    content = runbook["Properties"]["Content"]
    assert [s["name"] for s in content["mainSteps"]] == [
        "ReadLatestApproved",
        "RefuseUnapprovedPackage",
        "StartScoring",
    ]
    read, refuse, start = content["mainSteps"]
    assert read["inputs"] == {
        "Service": "ssm",
        "Api": "GetParameter",
        "Name": "/smplat/examples/latest-approved-model-package",
    }
    assert refuse["inputs"]["DesiredValues"] == ["Approved"]
    assert start["inputs"] == {
        "Service": "sagemaker",
        "Api": "StartPipelineExecution",
        "PipelineName": "smplat-examples-nightly",
        "PipelineParameters": [{"Name": "ModelPackageArn", "Value": "{{ ReadLatestApproved.ModelPackageArn }}"}],
    }
    # The runbook's role starts that pipeline only; the trigger role trusts only the schedule rule.
    roles = stage.resources("pipelines", "AWS::IAM::Role")
    runbook_role = next(i for i in roles if i.startswith("ScoringNightlyRunbookRole"))
    who = role_principal(renderer, "pipelines", runbook_role)
    pipelines = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline"
    assert decide(Request(who, "sagemaker:StartPipelineExecution", f"{pipelines}/smplat-examples-nightly")) == "Allow"
    assert decide(Request(who, "sagemaker:StartPipelineExecution", f"{pipelines}/smplat-examples-sklearn")) != "Allow"
    parameter = f"arn:aws:ssm:{REGION}:{ACCOUNT}:parameter/smplat/examples/latest-approved-model-package"
    assert decide(Request(who, "ssm:GetParameter", parameter)) == "Allow"
    trigger = next(r for i, r in roles.items() if i.startswith("ScoringNightlyTriggerRole"))
    (trust,) = renderer.render(trigger["Properties"]["AssumeRolePolicyDocument"], "pipelines")["Statement"]
    assert trust["Condition"]["StringEquals"]["aws:SourceArn"] == (
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/smplat-examples-nightly-schedule"
    )


def test_scoring_roles_read_the_prefix_and_models_write_their_output_and_create_only_platform_jobs(
    stages: dict[str, SynthesizedStage],
) -> None:
    stage = stages["examples"]
    renderer = Renderer(stage.templates)
    roles = stage.resources("pipelines", "AWS::IAM::Role")
    job = role_principal(renderer, "pipelines", next(i for i in roles if i.startswith("ScoringNightlyJobRole")))
    data, artifacts = "arn:aws:s3:::datachannelsstoragebucketdfa7e37b", "arn:aws:s3:::artifactsbucket88671897"
    assert decide(Request(job, "s3:GetObject", f"{data}/raw/nightly/rows.csv")) == "Allow"
    assert decide(Request(job, "s3:GetObject", f"{data}/raw/sample/rows.csv")) != "Allow"
    assert decide(Request(job, "s3:GetObject", f"{artifacts}/models/builtin-xgboost/e-1/model.tar.gz")) == "Allow"
    assert decide(Request(job, "s3:PutObject", f"{artifacts}/pipelines/nightly/transform/e-1/rows.csv.out")) == "Allow"
    assert decide(Request(job, "s3:PutObject", f"{artifacts}/pipelines/sklearn/models/x")) != "Allow"
    assert decide(Request(job, "s3:PutObject", f"{artifacts}/models/builtin-xgboost/x")) != "Allow"
    who = role_principal(renderer, "pipelines", next(i for i in roles if i.startswith("ScoringNightlyPipelineRole")))
    model = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:model/smplat-examples-abc"
    isolated = {
        "sagemaker:VpcSubnets": ["subnet-networkvpcprivatesubnet1subnet6dd86ae6"],
        "sagemaker:VpcSecurityGroupIds": ["sg-networkjobsecuritygroup21d3477a"],
        "sagemaker:NetworkIsolation": "true",
    }
    assert decide(Request(who, "sagemaker:CreateModel", model, isolated)) == "Allow"
    assert decide(Request(who, "sagemaker:CreateModel", model, {"sagemaker:NetworkIsolation": "true"})) != "Allow"
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/PlatformKey1C4A1A63"
    keyed = {"sagemaker:VolumeKmsKey": key, "sagemaker:OutputKmsKey": key, "sagemaker:ModelArn": model}
    transform = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:transform-job/smplat-examples-abc"
    assert decide(Request(who, "sagemaker:CreateTransformJob", transform, keyed)) == "Allow"
    assert decide(
        Request(who, "sagemaker:CreateTransformJob", transform, {**keyed, "sagemaker:OutputKmsKey": "x"})
    ) != ("Allow")


def test_scoring_outputs_are_published(stages: dict[str, SynthesizedStage]) -> None:
    outputs = stages["examples"].templates["pipelines"]["Outputs"]
    scoring = {k: v["Export"]["Name"] for k, v in outputs.items() if k.startswith("Scoring")}
    assert scoring == {
        f"ScoringNightly{suffix}": f"smplat-examples-ScoringNightly{suffix}"
        for suffix in ("Name", "Arn", "JobRoleArn", "RoleArn", "OutputUri")
    }
    parameters = {
        r["Properties"]["Name"] for r in stages["examples"].resources("pipelines", "AWS::SSM::Parameter").values()
    }
    assert {p for p in parameters if "scoring" in p} == {
        f"/smplat/examples/scoring-nightly-{suffix}"
        for suffix in ("name", "arn", "job-role-arn", "role-arn", "output-uri")
    }
