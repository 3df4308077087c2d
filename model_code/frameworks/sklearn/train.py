"""scikit-learn script-mode entry point: logistic regression on the CSV channels.

Targets the AWS SageMaker scikit-learn image 1.4-2 (py3). Self-contained: stdlib, numpy and
scikit-learn only. Writes <SM_MODEL_DIR>/model.joblib, which the serving container loads through
model_fn below, and prints metrics as `name=value;` for the tuning job's metric definitions.
"""

import json
import os
import sys
from typing import Any

import numpy as np

# name: (default, min, max); SageMaker passes every value as a string.
HYPERPARAMETERS = {"C": (1.0, 1e-4, 1e4), "max_iter": (200, 10, 10000)}
# The tuning job's metric definitions (model_code/contract.py METRICS): print these names only.
METRICS = ("train:logloss", "validation:logloss", "validation:auc", "test:auc", "test:accuracy")


class InputError(ValueError):
    """Bad hyperparameters or channels: the job fails with this message."""


def hyperparameters() -> dict:
    values = {name: spec[0] for name, spec in HYPERPARAMETERS.items()}
    for name, raw in json.loads(os.environ.get("SM_HPS", "{}")).items():
        if name.startswith("sagemaker_") or name == "_tuning_objective_metric":
            continue  # added by the SageMaker SDK and toolkit
        if name not in HYPERPARAMETERS:
            raise InputError(f"{name}: unknown hyperparameter; known: {', '.join(HYPERPARAMETERS)}")
        default, low, high = HYPERPARAMETERS[name]
        try:
            values[name] = type(default)(float(raw))
        except ValueError:
            raise InputError(f"{name}: {raw!r} is not a number") from None
        if not low <= values[name] <= high:
            raise InputError(f"{name}: {raw!r} is out of range; allowed: {low} to {high}")
    return values


def load_channel(name: str, required: bool = True) -> Any:  # (features, labels) or None
    folder = os.environ.get("SM_CHANNEL_" + name.upper())
    files = sorted(os.path.join(d, f) for d, _, names in os.walk(folder or "") for f in names if f[0] not in "._")
    if not files and required:
        raise InputError(f"channel {name!r}: no files (SM_CHANNEL_{name.upper()}={folder})")
    parts = []  # type: list
    for path in files:
        with open(path) as handle:
            header = handle.readline().strip().split(",")
            try:
                data = np.loadtxt(handle, delimiter=",", ndmin=2, dtype=np.float32)
            except ValueError as err:
                raise InputError(f"channel {name!r}: {path} is not a numeric CSV: {err}") from None
        if "label" not in header or data.shape[0] == 0 or data.shape[1] != len(header):
            raise InputError(f"channel {name!r}: {path} needs a header with 'label' and rows as wide as it")
        if (parts and header != parts[0][0]) or not np.isin(data[:, header.index("label")], (0, 1)).all():
            raise InputError(f"channel {name!r}: {path}: other columns than {files[0]}, or labels not 0/1")
        parts.append((header, data))
    if not parts:
        return None
    data, label = np.concatenate([data for _, data in parts]), header.index("label")
    return np.delete(data, label, axis=1), data[:, label]


def auc(labels: np.ndarray, scores: np.ndarray) -> float:  # rank-sum formula; ties share their average rank
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse.ravel()]
    pos, neg = int((labels == 1).sum()), int((labels == 0).sum())
    return float((ranks[labels == 1].sum() - pos * (pos + 1) / 2) / (pos * neg)) if pos and neg else float("nan")


def evaluation(channels: list, predict: Any) -> list:
    """[(metric, value)] for the (name, (features, labels)) channels given; None ones are skipped."""
    values = []
    for channel, (x, y) in [c for c in channels if c[1] is not None]:
        scores = np.asarray(predict(x), dtype=np.float64).reshape(-1)
        p = np.clip(scores, 1e-15, 1 - 1e-15)
        values += [(channel + ":logloss", float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))))]
        values += [(channel + ":auc", auc(y, scores)), (channel + ":accuracy", float(np.mean((scores >= 0.5) == y)))]
    return [(name, value) for name, value in values if name in METRICS]


def metric_line(values: list, epoch: Any = None) -> str:
    """`[epoch] name=value; ...`: exactly what the tuning job's metric regexes parse."""
    return ("" if epoch is None else f"[{epoch}] ") + " ".join(f"{name}={value:.6f};" for name, value in values)


def read_inputs() -> Any:
    """Hyperparameters and the train, validation and (optional) test channels; or the job fails."""
    try:
        inputs = hyperparameters(), load_channel("train"), load_channel("validation"), load_channel("test", False)
        if len({data[0].shape[1] for data in inputs[1:] if data is not None}) > 1:
            raise InputError("the channels have different numbers of feature columns")
        return inputs
    except InputError as err:
        print(f"training failed: {err}", file=sys.stderr)
        output = os.environ.get("SM_OUTPUT_DIR", "/opt/ml/output")
        os.makedirs(output, exist_ok=True)
        with open(os.path.join(output, "failure"), "w") as handle:  # SageMaker's FailureReason
            handle.write(str(err))
        sys.exit(2)


def main() -> None:
    from joblib import dump
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    hp, train, validation, test = read_inputs()
    model = make_pipeline(StandardScaler(), LogisticRegression(C=hp["C"], max_iter=hp["max_iter"]))
    model.fit(*train)
    channels = [("train", train), ("validation", validation), ("test", test)]
    print(metric_line(evaluation(channels, lambda x: model.predict_proba(x)[:, 1])), flush=True)
    model_dir = os.environ.get("SM_MODEL_DIR", "/opt/ml/model")
    dump(model, os.path.join(model_dir, "model.joblib"))


def model_fn(model_dir: str) -> Any:
    """Load main()'s pipeline (the serving container, which has no default loader, and evaluate.py)."""
    from joblib import load

    return load(os.path.join(model_dir, "model.joblib"))


def predict_proba(model: Any, features: np.ndarray) -> np.ndarray:
    """P(label 1) per row of `features` (the training columns in order, without the label)."""
    return model.predict_proba(features)[:, 1]


if __name__ == "__main__":  # the serving container imports this module
    main()
