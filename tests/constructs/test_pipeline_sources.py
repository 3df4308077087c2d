"""The sources the examples stage leaves out, built the same way: the built-in linear learner and script
mode for TensorFlow, MXNet and Chainer (AWS's last images of the last two). Each definition is built
with the SageMaker SDK (not from the cache) and its steps checked against botocore's SageMaker model;
each image is the one AWS publishes."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

import sagemaker_images
from config import parse_stage
from config.pipelines import PipelineConfig
from constructs.pipeline_definition import build
from constructs.pipeline_sdk import JobNames, image
from tests.config.test_pipeline_entries import DEV
from tests.pipeline_definitions import invalid_steps, steps


def script(framework: str, version: str, python: str) -> dict[str, Any]:
    return {
        "source": "script",
        "framework": framework,
        "version": version,
        "python": python,
        "entry_point": f"model_code/frameworks/{framework}/train.py",
    }


ENTRIES: dict[str, dict[str, Any]] = {
    "builtin-linear": {
        "algorithm": {"source": "builtin", "name": "linear-learner", "version": "1"},
        "hyperparameters": {"predictor_type": "binary_classifier", "epochs": 20},
        "tuning": {
            "strategy": "Random",
            "objective": "validation:binary_classification_accuracy",
            "maximize": True,
            "ranges": {"learning_rate": {"type": "continuous", "min": 0.0001, "max": 0.1, "scaling": "Logarithmic"}},
        },
        "evaluation": {"threshold": 0.85, "metric": "accuracy"},
        "serving_image": {"repository": "inference", "tag": "linear-1"},
    },
    "tensorflow": {"algorithm": script("tensorflow", "2.19.0", "py312"), "evaluation": {"threshold": 0.9}},
    "mxnet": {"algorithm": script("mxnet", "1.9.0", "py38"), "evaluation": {"threshold": 0.9}},
    "chainer": {"algorithm": script("chainer", "5.0.0", "py3"), "evaluation": {"threshold": 0.9}},
}


@pytest.fixture(scope="module")
def entries() -> dict[str, PipelineConfig]:
    raw = copy.deepcopy(DEV)
    raw["pipelines"] = [{"name": name, **entry} for name, entry in ENTRIES.items()]
    return {p.name: p for p in parse_stage(raw, source="sources.yaml", stage="dev").pipelines}


@pytest.fixture(scope="module")
def definitions(entries: dict[str, PipelineConfig]) -> dict[str, dict[str, Any]]:
    jobs = JobNames("smplat-dev")
    return {
        name: build(entry, pipeline_name=f"smplat-dev-{name}", jobs=jobs, subnet_count=2)
        for name, entry in entries.items()
    }


def test_every_step_is_a_valid_request(definitions: dict[str, dict[str, Any]]) -> None:
    assert {name: invalid_steps(found) for name, found in definitions.items()} == {name: {} for name in ENTRIES}


def test_the_linear_learner_trains_in_its_image_with_its_own_metrics(definitions: dict[str, dict[str, Any]]) -> None:
    train = steps(definitions["builtin-linear"])["Train"]["Arguments"]
    assert train["AlgorithmSpecification"] == {"TrainingImage": image("train"), "TrainingInputMode": "File"}
    assert train["HyperParameters"] == {"predictor_type": "binary_classifier", "epochs": "20"}
    objective = steps(definitions["builtin-linear"])["Tune"]["Arguments"]["HyperParameterTuningJobConfig"]
    assert objective["HyperParameterTuningJobObjective"] == {
        "Type": "Maximize",
        "MetricName": "validation:binary_classification_accuracy",
    }


@pytest.mark.parametrize("framework", ["tensorflow", "mxnet", "chainer"])
def test_script_mode_runs_the_entry_point_from_its_bundle(
    definitions: dict[str, dict[str, Any]], framework: str
) -> None:
    hyperparameters = steps(definitions[framework])["Train"]["Arguments"]["HyperParameters"]
    assert hyperparameters["sagemaker_program"] == json.dumps(f"model_code/frameworks/{framework}/train.py")
    assert hyperparameters["sagemaker_submit_directory"] == json.dumps(
        "/opt/ml/input/data/code/placeholder-code-key0.tar.gz"
    )
    entrypoint = steps(definitions[framework])["Evaluate"]["Arguments"]["AppSpecification"]["ContainerEntrypoint"]
    assert entrypoint[-2:] == ["--entry-point", f"model_code/frameworks/{framework}/train.py"]


def test_tensorflow_keeps_its_model_local(definitions: dict[str, dict[str, Any]]) -> None:
    """The SDK's default model_dir is an S3 path named after a timestamped job."""
    hyperparameters = steps(definitions["tensorflow"])["Train"]["Arguments"]["HyperParameters"]
    assert hyperparameters["model_dir"] == '"/opt/ml/model"'


@pytest.mark.parametrize(
    ("name", "version", "python", "scope", "expected"),
    [
        ("linear-learner", "1", None, "training", "438346466558.dkr.ecr.eu-west-1.amazonaws.com/linear-learner:1"),
        (
            "tensorflow",
            "2.19.0",
            "py312",
            "training",
            "763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-training:2.19.0-cpu-py312",
        ),
        (
            "tensorflow",
            "2.19.0",
            None,
            "inference",
            "763104351884.dkr.ecr.eu-west-1.amazonaws.com/tensorflow-inference:2.19.0-cpu",
        ),
        (
            "mxnet",
            "1.9.0",
            "py38",
            "training",
            "763104351884.dkr.ecr.eu-west-1.amazonaws.com/mxnet-training:1.9.0-cpu-py38",
        ),
        (
            "chainer",
            "5.0.0",
            "py3",
            "training",
            "520713654638.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-chainer:5.0.0-cpu-py3",
        ),
    ],
)
def test_the_images_are_the_ones_aws_publishes(
    name: str, version: str, python: str | None, scope: sagemaker_images.Scope, expected: str
) -> None:
    uris = sagemaker_images.image_uris(name, version, python, "ml.m5.xlarge", scope=scope, regions=("eu-west-1",))
    assert uris == {"eu-west-1": expected}
