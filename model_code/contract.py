"""Definitions shared by the CDK app and the model code (one source of truth for both sides).

Channel names, content types, the label column, hyperparameter ranges, the tuning objective and
the metric regexes live here. The training entry point prints metrics in exactly the format the
regexes parse; the local tuner and the SageMaker tuning job both read them from this module.
The evaluation report's file name and metric paths are shared by model_code/evaluate.py and the
pipeline's condition step. This module must stay importable by Python 3.8 (the evaluation image).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Literal

# SageMaker channels the data is split into; each is its own S3 location (<bucket>/<channel>/).
CHANNELS: tuple[str, ...] = ("train", "validation", "test")
TRAIN, VALIDATION, TEST = CHANNELS

# Other prefixes of the data bucket: data before the split, and data that still needs labels.
RAW_PREFIX = "raw"
LABELING_PREFIX = "labeling"
# Under it: the input manifests of labeling jobs, and what Ground Truth writes (one folder per job).
LABELING_MANIFESTS_PREFIX = f"{LABELING_PREFIX}/manifests"
LABELING_OUTPUT_PREFIX = f"{LABELING_PREFIX}/output"

# Datasets are CSV with a header row; the label is the column with this name (0 or 1).
LABEL_COLUMN = "label"

# What the serving container accepts and answers.
CSV = "text/csv"
JSON = "application/json"
CONTENT_TYPES: tuple[str, ...] = (CSV, JSON)
# SageMaker real-time endpoints accept request payloads up to 6 MB.
MAX_PAYLOAD_BYTES = 6 * 1024 * 1024

# Names of the files the training entry point writes into SM_MODEL_DIR.
MODEL_FILE = "xgboost-model.json"
METADATA_FILE = "model-metadata.json"
# The file the built-in SageMaker XGBoost algorithm writes into its model.tar.gz.
BUILTIN_XGBOOST_MODEL_FILE = "xgboost-model"

# Script-mode entry point per framework, relative to the repository root. A pipeline packages the
# entry point's folder (paths kept relative to the root) and runs this path from the unpacked code.
# Only the sample (xgboost) imports model_code; the framework scripts are self-contained.
FRAMEWORK_ENTRY_POINTS: dict[str, str] = {
    "xgboost": "model_code/train.py",
    "sklearn": "model_code/frameworks/sklearn/train.py",
    "pytorch": "model_code/frameworks/pytorch/train.py",
    "tensorflow": "model_code/frameworks/tensorflow/train.py",
    "mxnet": "model_code/frameworks/mxnet/train.py",
    "chainer": "model_code/frameworks/chainer/train.py",
}

Scaling = Literal["Linear", "Logarithmic"]


@dataclass(frozen=True)
class Hyperparameter:
    """A hyperparameter with its allowed range; `tunable` ones are searched by tuning jobs."""

    name: str
    kind: Literal["integer", "continuous"]
    min: float
    max: float
    default: float
    scaling: Scaling = "Linear"
    tunable: bool = True
    help: str = ""

    def parse(self, raw: object) -> float | int:
        """The value of `raw` (a string from SM_HPS or a number), or ValueError naming the range."""
        try:
            value = float(str(raw))
        except ValueError:
            raise ValueError(f"{self.name}: {raw!r} is not a number; allowed: {self.allowed}") from None
        if self.kind == "integer" and not value.is_integer():
            raise ValueError(f"{self.name}: {raw!r} is not a whole number; allowed: {self.allowed}")
        if not (self.min <= value <= self.max) or math.isnan(value):
            raise ValueError(f"{self.name}: {raw!r} is out of range; allowed: {self.allowed}")
        return int(value) if self.kind == "integer" else value

    @property
    def allowed(self) -> str:
        kind = "an integer" if self.kind == "integer" else "a number"
        return f"{kind} from {_fmt(self.min)} to {_fmt(self.max)}"


HYPERPARAMETERS: tuple[Hyperparameter, ...] = (
    Hyperparameter("max_depth", "integer", 2, 10, 5, help="depth of each tree"),
    Hyperparameter("eta", "continuous", 0.01, 0.5, 0.1, "Logarithmic", help="learning rate"),
    Hyperparameter("min_child_weight", "continuous", 0.5, 10, 1, "Logarithmic", help="minimum hessian in a leaf"),
    Hyperparameter("subsample", "continuous", 0.5, 1.0, 0.9, help="row fraction per tree"),
    Hyperparameter("colsample_bytree", "continuous", 0.5, 1.0, 0.9, help="column fraction per tree"),
    Hyperparameter("lambda", "continuous", 0.01, 10, 1, "Logarithmic", help="L2 regularisation"),
    Hyperparameter("num_round", "integer", 1, 2000, 200, tunable=False, help="maximum boosting rounds"),
    Hyperparameter(
        "early_stopping_rounds", "integer", 1, 100, 20, tunable=False, help="stop after rounds without gain"
    ),
    Hyperparameter("checkpoint_interval", "integer", 1, 1000, 25, tunable=False, help="rounds between checkpoints"),
)
HYPERPARAMETERS_BY_NAME = {h.name: h for h in HYPERPARAMETERS}


@dataclass(frozen=True)
class Metric:
    """A metric the training entry point prints as `<name>=<value>;` and tuning jobs parse."""

    name: str
    maximize: bool

    @property
    def regex(self) -> str:
        return re.escape(self.name) + r"=([-+0-9.eE]+|nan|inf);"


METRICS: tuple[Metric, ...] = (
    Metric("train:logloss", maximize=False),
    Metric("validation:logloss", maximize=False),
    Metric("validation:auc", maximize=True),
    Metric("test:auc", maximize=True),
    Metric("test:accuracy", maximize=True),
)
OBJECTIVE = next(m for m in METRICS if m.name == "validation:auc")


# The evaluation step's report (SageMaker model-quality format), written by model_code/evaluate.py
# into the processing output and read by the pipeline's condition step (JsonGet on json_path).
EVALUATION_FILE = "evaluation.json"


@dataclass(frozen=True)
class EvaluationMetric:
    """A value of the evaluation report: where it is in the JSON and which direction is better."""

    name: str
    json_path: str
    maximize: bool


EVALUATION_METRICS: tuple[EvaluationMetric, ...] = (
    EvaluationMetric("auc", "binary_classification_metrics.auc.value", maximize=True),
    EvaluationMetric("accuracy", "binary_classification_metrics.accuracy.value", maximize=True),
    EvaluationMetric("logloss", "binary_classification_metrics.logloss.value", maximize=False),
)
EVALUATION_METRICS_BY_NAME = {m.name: m for m in EVALUATION_METRICS}


def evaluation_report(values: dict[str, float], rows: int) -> dict[str, Any]:
    """The report for `values` (one per EVALUATION_METRICS name), each laid out at its json_path."""
    report: dict[str, Any] = {}
    for metric in EVALUATION_METRICS:
        *parents, leaf = metric.json_path.split(".")
        node = report
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = values[metric.name]
        # Part of SageMaker's model-quality schema; a single test set gives no deviation.
        node["standard_deviation"] = "NaN"
    report["rows"] = rows
    return report


def evaluation_value(report: dict[str, Any], name: str) -> float:
    """The value of metric `name` in a report, found by its json_path (as JsonGet finds it)."""
    node: Any = report
    path = EVALUATION_METRICS_BY_NAME[name].json_path
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise KeyError(f"{name}: {path} is not in the report")
        node = node[key]
    return float(node)


def metric_line(values: dict[str, float], *, iteration: int | None = None) -> str:
    """The line the training entry point prints; every value is matched by its Metric.regex."""
    prefix = f"[{iteration}] " if iteration is not None else ""
    return prefix + " ".join(f"{name}={value:.6f};" for name, value in values.items())


def parse_metrics(text: str) -> dict[str, list[float]]:
    """Every value of every metric in `text`, in order, as a SageMaker tuning job would parse them."""
    return {m.name: [float(v) for v in re.findall(m.regex, text)] for m in METRICS}


def _fmt(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else str(value)
