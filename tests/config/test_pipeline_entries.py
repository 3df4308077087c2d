"""Pipeline entries of a stage file: every bad input is refused before synth, with a message that
names the field, the value and what is allowed."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from config import CONFIG_DIR, ConfigError, StageConfig, parse_stage, yaml_core
from config.algorithms import ScriptAlgorithm
from config.tuning import RangeConfig
from sagemaker_images import versions

# Read here rather than imported from test_stage_files, so that mypy checks this file alone.
DEV: dict[str, Any] = yaml_core.load((CONFIG_DIR / "dev.yaml").read_text()).data

# A region where AWS publishes the xgboost images the sample pipeline uses, but no chainer image.
UNSERVED_REGION = "eu-south-2"
CHAINER_REGIONS = list(versions("chainer", "training")["5.0.0"].regions)
# DEV in a fixed environment: account, region and the AZs a fixed stage must list (valid as it is).
FIXED: dict[str, Any] = copy.deepcopy(DEV) | {"account": "123456789012", "region": UNSERVED_REGION}
FIXED["network"]["availability_zones"] = [f"{UNSERVED_REGION}a", f"{UNSERVED_REGION}b"]

PYTORCH = {
    "source": "script",
    "framework": "pytorch",
    "version": "2.6.0",
    "python": "py312",
    "entry_point": "model_code/frameworks/pytorch/train.py",
}
SKLEARN = PYTORCH | {"framework": "sklearn", "version": "1.2-1", "python": "py3"}
ALGORITHM_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:algorithm/fraud-scorer"
REPOSITORIES = r"\(data.container_repositories: \['training', 'inference'\]\)$"


def with_pipeline(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`base` with its first pipeline updated by `changes` (top-level keys of the entry)."""
    raw = copy.deepcopy(base)
    raw["pipelines"][0] |= changes
    return raw


def with_algorithm(base: dict[str, Any], algorithm: dict[str, Any]) -> dict[str, Any]:
    """`base` with another algorithm than the sample's: no tuning (its default ranges are the sample's)."""
    return with_pipeline(base, algorithm=algorithm, tuning=None, hyperparameters={})


def with_tuning(**tuning: Any) -> dict[str, Any]:
    return with_pipeline(DEV, tuning={"strategy": "Bayesian", "max_jobs": 8, "max_parallel_jobs": 2} | tuning)


def with_range(name: str, **spec: Any) -> dict[str, Any]:
    return with_tuning(ranges={name: spec})


def parse(raw: dict[str, Any]) -> StageConfig:
    return parse_stage(raw, source="dev.yaml", stage="dev")


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    return caught.value.problems


def assert_refused(raw: dict[str, Any], expected: str) -> None:
    found = problems(raw)
    assert any(re.search(expected, p) for p in found), found


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            with_algorithm(DEV, {"source": "builtin", "name": "kmeans", "version": "1"}),
            r"^pipelines.0.algorithm.name: 'kmeans' is invalid: Input should be 'xgboost' or 'linear-learner'$",
            id="unknown-builtin",
        ),
        pytest.param(
            with_algorithm(DEV, PYTORCH | {"version": "9.9"}),
            r"^pipelines.0.algorithm.version: pytorch '9.9' has no training image; AWS publishes "
            r"\['0.4.0', .*'2.6.0'.*\]$",
            id="framework-version-without-image",
        ),
        pytest.param(
            with_algorithm(DEV, PYTORCH | {"python": "py311"}),
            r"^pipelines.0.algorithm.version: pytorch 2.6.0 has images for Python \['py312'\], not 'py311'$",
            id="python-without-image",
        ),
        pytest.param(
            with_algorithm(
                FIXED,
                PYTORCH
                | {"framework": "chainer", "version": "5.0.0", "python": "py3"}
                | {"entry_point": "model_code/frameworks/chainer/train.py"},
            ),
            rf"^pipelines.0.algorithm.version: chainer 5.0.0 has no image in {UNSERVED_REGION}; it has images in "
            + re.escape(str(CHAINER_REGIONS))
            + "$",
            id="framework-not-in-the-stage-region",
        ),
        pytest.param(
            with_algorithm(DEV, SKLEARN | {"version": "1.4-2"}),
            r"^pipelines.0.algorithm.version: sklearn '1.4-2' has no inference image; AWS publishes \[.*'1.2-1'\]; "
            "the registered model needs an inference image: set serving_version$",
            id="script-without-inference-image",
        ),
        pytest.param(
            with_algorithm(DEV, PYTORCH | {"entry_point": "model_code/frameworks/pytorch/missing.py"}),
            r"^pipelines.0.algorithm.entry_point: 'model_code/frameworks/pytorch/missing.py' does not exist in the "
            r"repository \(entry points are packaged from model_code/\)$",
            id="entry-point-missing",
        ),
        pytest.param(
            with_algorithm(DEV, PYTORCH | {"entry_point": "app.py"}),
            r"^pipelines.0.algorithm.entry_point: 'app.py' must be a .py file under model_code/, "
            "e.g. model_code/frameworks/pytorch/train.py$",
            id="entry-point-outside-model-code",
        ),
        pytest.param(
            with_algorithm(DEV, {"source": "container", "image": {"repository": "serving", "tag": "1"}}),
            r"^pipelines.0.algorithm.image.repository: 'serving' is not one of the platform's repositories "
            + REPOSITORIES,
            id="container-image-repository-undeclared",
        ),
        pytest.param(
            with_pipeline(DEV, serving_image={"repository": "serving", "tag": "1"}),
            r"^pipelines.0.serving_image.repository: 'serving' is not one of the platform's repositories "
            + REPOSITORIES,
            id="serving-image-repository-undeclared",
        ),
        pytest.param(
            with_algorithm(
                DEV, {"source": "marketplace", "algorithm_arn": ALGORITHM_ARN.replace("123456789012", "1234")}
            ),
            r"^pipelines.0.algorithm.algorithm_arn: 'arn:aws:sagemaker:eu-west-1:1234:algorithm/fraud-scorer' is "
            r"not an algorithm ARN \(arn:aws:sagemaker:<region>:<account>:algorithm/<name>\)$",
            id="marketplace-arn-malformed",
        ),
        pytest.param(
            with_algorithm(FIXED, {"source": "marketplace", "algorithm_arn": ALGORITHM_ARN}),
            rf"^pipelines.0.algorithm.algorithm_arn: '{ALGORITHM_ARN}' is in region 'eu-west-1', the stage's is "
            f"'{UNSERVED_REGION}'$",
            id="marketplace-arn-in-another-region",
        ),
    ],
)
def test_bad_algorithms_are_named(raw: dict[str, Any], expected: str) -> None:
    assert_refused(raw, expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            with_tuning(max_jobs=2, max_parallel_jobs=3),
            r"^pipelines.0.tuning.max_parallel_jobs: 3 > max_jobs 2; no more jobs can run at once than run in all$",
            id="parallel-above-max-jobs",
        ),
        pytest.param(
            with_tuning(objective="validation:rmse"),
            r"^pipelines.0.tuning.objective: 'validation:rmse' is not one of model_code's metric definitions "
            r"\['train:logloss', 'validation:logloss', 'validation:auc', 'test:auc', 'test:accuracy'\]$",
            id="objective-not-a-metric-definition",
        ),
        pytest.param(
            with_range("eta", type="continuous", min=0.5, max=0.1),
            r"^pipelines.0.tuning.ranges.eta: min 0.5 > max 0.1$",
            id="range-min-above-max",
        ),
        pytest.param(
            with_range("eta", type="continuous", min=0, max=0.5, scaling="Logarithmic"),
            r"^pipelines.0.tuning.ranges.eta.scaling: Logarithmic scaling needs min > 0 \(got min 0.0\): "
            "the range reaches zero$",
            id="logarithmic-reaching-zero",
        ),
        pytest.param(
            with_range("subsample", type="continuous", min=0.5, max=1.0, scaling="ReverseLogarithmic"),
            r"^pipelines.0.tuning.ranges.subsample.scaling: ReverseLogarithmic scaling needs 0 <= min and max < 1 "
            r"\(got 0.5..1.0\)$",
            id="reverse-logarithmic-outside-0-1",
        ),
        pytest.param(
            with_range("booster", type="categorical"),
            r"^pipelines.0.tuning.ranges.booster.values: a categorical range needs at least one value$",
            id="categorical-without-values",
        ),
        pytest.param(
            with_range("max_depth", type="integer", min=2, max=5, values=["3"]),
            r"^pipelines.0.tuning.ranges.max_depth.values: an integer range takes min and max, not values$",
            id="numeric-range-with-values",
        ),
        pytest.param(
            with_tuning(strategy="Hyperband"),
            r"^pipelines.0.tuning.early_stopping: Hyperband stops unpromising jobs itself; "
            "set early_stopping: false$",
            id="hyperband-with-early-stopping",
        ),
        pytest.param(
            with_tuning(
                strategy="Grid",
                early_stopping=False,
                ranges={
                    "max_depth": {"type": "integer", "min": 2, "max": 5},
                    "booster": {"type": "categorical", "values": ["gbtree", "dart"]},
                },
            ),
            r"^pipelines.0.tuning.ranges: Grid search takes categorical ranges only; \['max_depth'\] are numeric$",
            id="grid-with-numeric-range",
        ),
        pytest.param(
            with_tuning(strategy="Grid", early_stopping=False),
            r"^pipelines.0.tuning.ranges: Grid search takes categorical ranges only; \['colsample_bytree', 'eta', "
            r"'lambda', 'max_depth', 'min_child_weight', 'subsample'\] are numeric$",
            id="grid-on-the-default-numeric-ranges",
        ),
        pytest.param(
            with_range("learning_rate", type="integer", min=0, max=0, scaling="ReverseLogarithmic"),
            r"^pipelines.0.tuning.ranges.learning_rate.scaling: ReverseLogarithmic scaling needs a range within "
            r"0 <= x < 1: continuous ranges only$",
            id="reverse-logarithmic-integer",
        ),
        pytest.param(
            with_range("gamma", type="continuous", min=0.1, max=1.0),
            r"^pipelines.0.tuning.ranges.gamma: unknown to model_code/train.py; known: \[",
            id="range-unknown-to-the-sample",
        ),
        pytest.param(
            with_range("max_depth", type="integer", min=2, max=50),
            r"^pipelines.0.tuning.ranges.max_depth: 2.0..50.0 leaves the allowed range: an integer from 2 to 10$",
            id="range-beyond-the-sample's-bounds",
        ),
        pytest.param(
            with_range("max_depth", type="continuous", min=2, max=5),
            r"^pipelines.0.tuning.ranges.max_depth: max_depth is integer; the range is continuous$",
            id="range-of-the-wrong-kind",
        ),
    ],
)
def test_bad_tuning_is_named(raw: dict[str, Any], expected: str) -> None:
    assert_refused(raw, expected)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            with_pipeline(DEV, resources={"max_runtime_minutes": 30, "max_wait_minutes": 20}),
            r"^pipelines.0.resources.max_wait_minutes: 20 < max_runtime_minutes 30; a spot job waits at least as "
            "long as it runs$",
            id="spot-wait-below-runtime",
        ),
        pytest.param(
            with_pipeline(DEV, resources={"spot": False, "max_wait_minutes": 60}),
            r"^pipelines.0.resources.max_wait_minutes: applies to spot training only \(spot: false\)$",
            id="wait-without-spot",
        ),
        pytest.param(
            with_pipeline(with_algorithm(DEV, SKLEARN), resources={"instance_count": 2}),
            r"^pipelines.0.resources.instance_count: 2 instances, but a sklearn script trains on one instance "
            r"\(no distributed backend\); use 1, or pytorch / tensorflow / mxnet / a built-in algorithm$",
            id="sklearn-script-on-two-instances",
        ),
        pytest.param(
            with_pipeline(DEV, resources={"instance_count": 2}),
            r"^pipelines.0.resources.instance_count: 2 instances, but a xgboost script trains on one instance "
            r"\(no distributed backend\); use 1, or pytorch / tensorflow / mxnet / a built-in algorithm$",
            id="sample-xgboost-on-two-instances",
        ),
    ],
)
def test_bad_resources_are_named(raw: dict[str, Any], expected: str) -> None:
    assert_refused(raw, expected)


def with_second_pipeline(base: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    raw["pipelines"].append(copy.deepcopy(raw["pipelines"][0]))
    return raw


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            with_pipeline(DEV, triggers={"schedule": "0 3 * * *"}),
            r"^pipelines.0.triggers.schedule: '0 3 \* \* \*' is not a schedule expression: cron\(<6 fields>\) or "
            r"rate\(<n> <unit>\)$",
            id="schedule-not-an-expression",
        ),
        pytest.param(
            with_pipeline(DEV, triggers={"schedule": "rate(1 days)"}),
            r"^pipelines.0.triggers.schedule: 'rate\(1 days\)' is not a schedule expression",
            id="schedule-rate-of-one-in-plural",
        ),
        pytest.param(
            with_pipeline(DEV, triggers={"schedule": "rate(0 days)"}),
            r"^pipelines.0.triggers.schedule: 'rate\(0 days\)' is not a schedule expression",
            id="schedule-rate-of-zero",
        ),
        pytest.param(
            with_pipeline(DEV, input_prefix="raw/../labeling/"),
            r"^pipelines.0.input_prefix: 'raw/../labeling/' must be a folder under raw/",
            id="input-prefix-climbing-out-of-raw",
        ),
        pytest.param(
            with_pipeline(DEV, input_prefix="raw/*/"),
            r"^pipelines.0.input_prefix: 'raw/\*/' must be a folder under raw/",
            id="input-prefix-with-a-wildcard",
        ),
        pytest.param(
            with_pipeline(DEV, name="a" + "-b" * 29),
            r"^pipelines.0.name: 'smplat-dev-a(-b){29}' is too long for its trigger rules "
            r"\(`<pipeline>-new-data`, at most 64 characters\): shorten the name$",
            id="name-too-long-for-the-trigger-rules",
        ),
        pytest.param(
            with_pipeline(DEV, input_prefix="data/sample/"),
            r"^pipelines.0.input_prefix: 'data/sample/' must be a folder under raw/ ending in /, e.g. raw/sample/$",
            id="input-prefix-outside-raw",
        ),
        pytest.param(
            with_pipeline(DEV, input_prefix="raw/sample"),
            r"^pipelines.0.input_prefix: 'raw/sample' must be a folder under raw/ ending in /, e.g. raw/sample/$",
            id="input-prefix-without-slash",
        ),
        pytest.param(
            with_pipeline(DEV, hyperparameters={"gamma": 1}),
            r"^pipelines.0.hyperparameters.gamma: unknown to model_code/train.py; known: \['checkpoint_interval', "
            r"'colsample_bytree', 'early_stopping_rounds', 'eta', 'lambda', 'max_depth', 'min_child_weight', "
            r"'num_round', 'subsample'\]$",
            id="hyperparameter-unknown-to-the-sample",
        ),
        pytest.param(
            with_pipeline(DEV, hyperparameters={"max_depth": 50}),
            r"^pipelines.0.hyperparameters.max_depth: 50 is out of range; allowed: an integer from 2 to 10$",
            id="hyperparameter-out-of-range",
        ),
        pytest.param(
            with_second_pipeline(DEV),
            r"^pipelines: names \['sample'\] are used more than once; each pipeline needs its own name$",
            id="duplicate-names",
        ),
        pytest.param(
            with_pipeline(DEV, evaluation={"threshold": 0.9, "metric": "f1"}),
            r"^pipelines.0.evaluation.metric: 'f1' is not written to evaluation.json; "
            r"one of \['accuracy', 'auc', 'logloss'\]$",
            id="evaluation-metric-not-written",
        ),
    ],
)
def test_bad_entries_are_named(raw: dict[str, Any], expected: str) -> None:
    assert_refused(raw, expected)


def test_the_fixed_stage_of_the_regional_cases_is_valid_as_it_is() -> None:
    # The chainer and Marketplace cases fail for their region only: the stage, with the sample, is valid there.
    assert UNSERVED_REGION not in CHAINER_REGIONS
    (pipeline,) = parse_stage(FIXED, source="fixed.yaml", stage="fixed").pipelines
    assert pipeline.name == "sample"


def test_the_dev_sample_pipeline_defaults() -> None:
    (pipeline,) = parse(DEV).pipelines
    assert pipeline.raw_prefix == "raw/sample/"
    assert (pipeline.resources.max_runtime_minutes, pipeline.resources.spot) == (30, True)
    assert pipeline.resources.max_wait == 60  # twice the runtime
    ranges = pipeline.tuning_ranges
    assert list(ranges) == ["max_depth", "eta", "min_child_weight", "subsample", "colsample_bytree", "lambda"]
    assert ranges["max_depth"] == RangeConfig(type="integer", min=2, max=10, scaling="Linear")
    assert ranges["eta"] == RangeConfig(type="continuous", min=0.01, max=0.5, scaling="Logarithmic")


def test_tensorflow_inference_images_name_no_python() -> None:
    algorithm = ScriptAlgorithm(
        source="script",
        framework="tensorflow",
        version="2.19.0",
        python="py312",
        entry_point="model_code/frameworks/tensorflow/train.py",
    )
    assert algorithm.serving == ("2.19.0", None)


def test_an_objective_outside_model_codes_metrics_needs_its_direction() -> None:
    builtin = {"source": "builtin", "name": "xgboost", "version": "1.7-1"}
    tuning = {"objective": "validation:rmse", "ranges": {"eta": {"type": "continuous", "min": 0.1, "max": 0.5}}}
    assert_refused(
        with_pipeline(DEV, algorithm=builtin, hyperparameters={}, tuning=tuning),
        r"^pipelines.0.tuning.maximize: say whether to maximize 'validation:rmse' \(true\) or minimize it \(false\)$",
    )
    (pipeline,) = parse(
        with_pipeline(DEV, algorithm=builtin, hyperparameters={}, tuning=tuning | {"maximize": False})
    ).pipelines
    assert pipeline.tuning is not None and pipeline.tuning.maximized is False


def test_model_codes_metrics_bring_their_direction() -> None:
    (pipeline,) = parse(with_tuning(objective="validation:logloss")).pipelines
    assert pipeline.tuning is not None and pipeline.tuning.maximized is False  # a loss is minimized
    (pipeline,) = parse(with_tuning()).pipelines
    assert pipeline.tuning is not None and pipeline.tuning.maximized is True  # validation:auc


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            with_pipeline(DEV, algorithm=PYTORCH, hyperparameters={"lr": 0.1}, tuning=None),
            r"^pipelines.0.hyperparameters.lr: unknown to model_code/frameworks/pytorch/train.py; "
            r"known: \['epochs', 'learning_rate'\]$",
            id="hyperparameter-the-script-does-not-declare",
        ),
        pytest.param(
            with_pipeline(DEV, algorithm=PYTORCH, hyperparameters={"epochs": 0}, tuning=None),
            r"^pipelines.0.hyperparameters.epochs: 0 is out of range; allowed: an integer from 1 to 10000$",
            id="hyperparameter-outside-the-script's-bounds",
        ),
        pytest.param(
            with_pipeline(
                DEV,
                algorithm=PYTORCH,
                hyperparameters={},
                tuning={"ranges": {"learning_rate": {"type": "continuous", "min": 0.01, "max": 5.0}}},
            ),
            r"^pipelines.0.tuning.ranges.learning_rate: 0.01..5.0 leaves the allowed range: a number from 1e-05 to 1$",
            id="range-outside-the-script's-bounds",
        ),
        pytest.param(
            with_pipeline(
                DEV,
                algorithm=SKLEARN | {"entry_point": "model_code/frameworks/sklearn/train.py"},
                hyperparameters={},
                tuning={
                    "strategy": "Grid",
                    "early_stopping": False,
                    "ranges": {"C": {"type": "categorical", "values": ["1", "big"]}},
                },
            ),
            r"^pipelines.0.tuning.ranges.C.values: 'big' is not a number; allowed: a number from 0.0001 to 10000$",
            id="categorical-value-the-script-refuses",
        ),
    ],
)
def test_script_mode_hyperparameters_follow_the_entry_points_own_table(raw: dict[str, Any], expected: str) -> None:
    """A framework entry point declares `HYPERPARAMETERS = {name: (default, min, max)}`: the stage file is
    checked against it at synth, so that no job fails on an unknown or out-of-range value."""
    assert_refused(raw, expected)


def test_an_evaluation_image_needs_its_framework_and_version_together() -> None:
    assert_refused(
        with_pipeline(DEV, evaluation={"threshold": 0.9, "framework": "pytorch"}),
        r"^pipelines.0.evaluation: give framework and version together \(or neither, for the default image\)$",
    )
    (pipeline,) = parse(DEV).pipelines
    assert pipeline.evaluation_image == ("xgboost", "3.0-5", None)  # the sample's own framework image
    assert pipeline.evaluation_arguments == []  # evaluate.py knows the sample's model
