"""Model quality for the platform's monitor: captured predictions joined with delivered ground truth.

Formats as Model Monitor documents them ("Model quality metrics and Amazon CloudWatch monitoring"):
statistics with `<problem>_metrics` {metric: {value, standard_deviation}} (the standard deviation only
from 200 samples on: five random 80% draws, as documented; "NaN" below), constraints with
`<problem>_constraints` {metric: {threshold, comparison_operator}}, and violations naming the metric.
Ground truth is Model Monitor's documented JSON lines ({"groundTruthData": {"data": ..., "encoding":
"CSV"}, "eventMetadata": {"eventId": ...}, "eventVersion": "0"}). Python 3.8+, stdlib and numpy only.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from model_code.monitor import PROBLEM_TYPES
from model_code.monitor_formats import MonitorError

BINARY, MULTICLASS, REGRESSION = PROBLEM_TYPES
METRICS_KEY = {
    BINARY: "binary_classification_metrics",
    MULTICLASS: "multiclass_classification_metrics",
    REGRESSION: "regression_metrics",
}
CONSTRAINTS_KEY = {
    BINARY: "binary_classification_constraints",
    MULTICLASS: "multiclass_classification_constraints",
    REGRESSION: "regression_constraints",
}
OPERATORS = {
    "LessThanThreshold": lambda value, threshold: value < threshold,
    "LessThanOrEqualToThreshold": lambda value, threshold: value <= threshold,
    "GreaterThanThreshold": lambda value, threshold: value > threshold,
    "GreaterThanOrEqualToThreshold": lambda value, threshold: value >= threshold,
}
BINARY_THRESHOLD = 0.5
MIN_SAMPLES_FOR_STD = 200


def load_ground_truth(paths: list[Path]) -> dict[str, str]:
    """eventId -> the ground-truth data (one label, or one per line for a multi-row request)."""
    truth: dict[str, str] = {}
    for path in paths:
        with path.open(encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    record = json.loads(line)
                    event = record["eventMetadata"]["eventId"]
                    truth[str(event)] = str(record["groundTruthData"]["data"])
                except (ValueError, KeyError, TypeError):
                    raise MonitorError(
                        f"{path}:{number}: not a ground-truth record "
                        '({"groundTruthData": {"data": ...}, "eventMetadata": {"eventId": ...}})'
                    ) from None
    return truth


def predictions(output: dict[str, Any]) -> list[tuple[float | None, str | None]]:
    """(score, predicted label) per row of a captured endpointOutput (CSV scores or the serving
    container's JSON {"predictions": [{"score": s, "predicted_label": l}]})."""
    data = str(output.get("data", ""))
    encoding = str(output.get("encoding", "CSV")).upper()
    if encoding == "BASE64":
        import base64

        data = base64.b64decode(data).decode("utf-8")
        encoding = "JSON" if "json" in str(output.get("observedContentType", "")) else "CSV"
    if encoding == "JSON":
        body = json.loads(data)
        rows = body.get("predictions", []) if isinstance(body, dict) else body
        rows = rows if isinstance(rows, list) else [rows]
        found = []
        for row in rows:
            if isinstance(row, dict):
                score, label = row.get("score"), row.get("predicted_label")
                found.append((_number(score), None if label is None else _label(label)))
            else:
                found.append((_number(row), _label(row)))
        return found
    rows = [line.split(",")[0].strip() for line in data.splitlines() if line.strip()]
    return [(_number(row), _label(row)) for row in rows]


def _number(value: Any) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def _label(value: Any) -> str:
    """Class labels compare as text, with "1", 1 and 1.0 the same label."""
    number = _number(value)
    if number is not None and math.isfinite(number) and number.is_integer():
        return str(int(number))
    return str(value).strip()


def statistics(problem: str, truth: list[str], predicted: list[tuple[float | None, str | None]]) -> dict[str, Any]:
    """The model-quality statistics.json for the joined (ground truth, prediction) pairs."""
    metrics = _metric_function(problem)
    n = len(truth)
    values = metrics(truth, predicted)
    spread: dict[str, Any] = {name: "NaN" for name in values}
    if n >= MIN_SAMPLES_FOR_STD:
        rng = np.random.default_rng(0)
        draws = []
        for _ in range(5):
            pick = rng.choice(n, size=int(n * 0.8), replace=False)
            draws.append(metrics([truth[i] for i in pick], [predicted[i] for i in pick]))
        spread = {name: float(np.std([d[name] for d in draws])) for name in values}
    section: dict[str, Any] = {}
    if problem != REGRESSION:
        section["confusion_matrix"] = _confusion(problem, truth, predicted)
    for name, value in values.items():
        section[name] = {"value": value, "standard_deviation": spread[name]}
    return {"version": 0.0, "dataset": {"item_count": n}, METRICS_KEY[problem]: section}


def evaluate(problem: str, stats: dict[str, Any], constraints: dict[str, Any]) -> list[dict[str, str]]:
    """Violations of a model-quality constraints.json by these statistics."""
    found = []
    metrics = stats[METRICS_KEY[problem]]
    for name, constraint in (constraints.get(CONSTRAINTS_KEY[problem]) or {}).items():
        operator = str(constraint.get("comparison_operator", ""))
        if name not in metrics or operator not in OPERATORS:
            continue  # a metric we do not compute, or an operator not documented: ignored
        value, threshold = metrics[name]["value"], float(constraint["threshold"])
        if OPERATORS[operator](value, threshold):
            spread = metrics[name]["standard_deviation"]
            found.append(
                {
                    "metric_name": name,
                    "constraint_check_type": operator,
                    "description": f"Metric {name} with {value} +/- {spread} was {operator} '{threshold}'",
                }
            )
    return found


def _metric_function(problem: str):  # type: ignore[no-untyped-def]
    if problem not in PROBLEM_TYPES:
        raise MonitorError(f"--problem-type {problem!r}: allowed {', '.join(PROBLEM_TYPES)}")
    return {BINARY: _binary, MULTICLASS: _multiclass, REGRESSION: _regression}[problem]


def _binary_arrays(truth: list[str], predicted: list[tuple[float | None, str | None]]) -> tuple[Any, Any, Any]:
    y = np.array([float(t) >= BINARY_THRESHOLD for t in truth])
    scores = np.array([s if s is not None else float(label or 0) for s, label in predicted], dtype=float)
    labels = np.array([(s >= BINARY_THRESHOLD) if s is not None else label == "1" for s, label in predicted])
    return y, scores, labels


def _binary(truth: list[str], predicted: list[tuple[float | None, str | None]]) -> dict[str, float]:
    y, scores, p = _binary_arrays(truth, predicted)
    tp, fp = float(np.sum(y & p)), float(np.sum(~y & p))
    fn, tn = float(np.sum(y & ~p)), float(np.sum(~y & ~p))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "accuracy": (tp + tn) / len(y) if len(y) else 0.0,
        "precision": precision,
        "recall": recall,
        "f1": 2 * precision * recall / (precision + recall) if precision + recall else 0.0,
        "auc": _auc(y, scores),
    }


def _auc(y: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve from average ranks (Mann-Whitney U); 0.5 without both classes."""
    positives, negatives = int(y.sum()), int((~y).sum())
    if not positives or not negatives:
        return 0.5
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    upper = np.cumsum(counts)
    average_rank = (upper - (counts - 1) / 2.0)[inverse]
    return float((average_rank[y].sum() - positives * (positives + 1) / 2.0) / (positives * negatives))


def _multiclass(truth: list[str], predicted: list[tuple[float | None, str | None]]) -> dict[str, float]:
    y = [_label(t) for t in truth]
    p = [label if label is not None else _label(score) for score, label in predicted]
    n = len(y)
    f1_sum = precision_sum = recall_sum = 0.0
    for cls in set(y):
        tp = sum(1 for a, b in zip(y, p) if a == cls and b == cls)  # noqa: B905 (Python 3.8)
        support, chosen = y.count(cls), p.count(cls)
        precision = tp / chosen if chosen else 0.0
        recall = tp / support
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        f1_sum, precision_sum, recall_sum = (
            f1_sum + f1 * support,
            precision_sum + precision * support,
            recall_sum + recall * support,
        )
    return {
        "accuracy": sum(1 for a, b in zip(y, p) if a == b) / n if n else 0.0,  # noqa: B905 (Python 3.8)
        "weighted_precision": precision_sum / n if n else 0.0,
        "weighted_recall": recall_sum / n if n else 0.0,
        "weighted_f1": f1_sum / n if n else 0.0,
    }


def _regression(truth: list[str], predicted: list[tuple[float | None, str | None]]) -> dict[str, float]:
    y = np.array([float(t) for t in truth])
    p = np.array([s if s is not None else math.nan for s, _ in predicted], dtype=float)
    error = p - y
    mse = float(np.mean(error**2)) if len(y) else 0.0
    variance = float(np.sum((y - y.mean()) ** 2)) if len(y) else 0.0
    return {
        "mae": float(np.mean(np.abs(error))) if len(y) else 0.0,
        "mse": mse,
        "rmse": math.sqrt(mse),
        "r2": 1.0 - float(np.sum(error**2)) / variance if variance else 0.0,
    }


def _confusion(problem: str, truth: list[str], predicted: list[tuple[float | None, str | None]]) -> dict[str, Any]:
    """Actual label -> predicted label -> count, as in the documented example."""
    if problem == BINARY:
        y, _, p = _binary_arrays(truth, predicted)
        actual, chosen = [str(int(v)) for v in y], [str(int(v)) for v in p]
    else:
        actual = [_label(t) for t in truth]
        chosen = [label if label is not None else _label(score) for score, label in predicted]
    classes = sorted(set(actual) | set(chosen))
    matrix: dict[str, Any] = {a: dict.fromkeys(classes, 0) for a in classes}
    for a, c in zip(actual, chosen):  # noqa: B905 (Python 3.8)
        matrix[a][c] += 1
    return matrix
