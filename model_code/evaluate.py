"""Evaluation entry point (SageMaker Processing, `python3 model_code/evaluate.py`): scores a model
artifact on the test channel and writes the model-quality report the pipeline's condition reads.

Reads the model from /opt/ml/processing/model/model.tar.gz (the sample's xgboost-model.json with its
metadata, or the built-in XGBoost algorithm's `xgboost-model`), the CSV files (header, `label`
column) under /opt/ml/processing/test/, and writes /opt/ml/processing/evaluation/evaluation.json.
Runs on Python >= 3.8 with numpy and xgboost >= 1.7 (the sagemaker-xgboost images): no pandas.
"""

from __future__ import annotations

import argparse
import csv
import json
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script from the unpacked code: model_code/ is beside us
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model_code.contract import (
    BUILTIN_XGBOOST_MODEL_FILE,
    EVALUATION_FILE,
    LABEL_COLUMN,
    METADATA_FILE,
    MODEL_FILE,
    evaluation_report,
)

PROCESSING = Path("/opt/ml/processing")


class EvaluationError(ValueError):
    """The model or the test data cannot be evaluated; the message says which and why."""


class Model:
    """A booster and the feature columns it expects (None: the built-in algorithm's, unnamed)."""

    def __init__(self, booster: Any, feature_names: list[str] | None) -> None:
        self.booster, self.feature_names = booster, feature_names

    def predict(self, features: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        width = self.booster.num_features()
        if features.shape[1] != width:
            raise EvaluationError(f"the test data has {features.shape[1]} feature columns; the model expects {width}")
        return np.asarray(self.booster.predict(xgb.DMatrix(features, feature_names=self.feature_names)))


def load_model(path: Path) -> Model:
    """The model in a model.tar.gz, or in a folder holding the unpacked files (a local SM_MODEL_DIR)."""
    import xgboost as xgb

    if not path.exists():
        raise EvaluationError(f"{path}: no model artifact there")
    with tempfile.TemporaryDirectory() as tmp:
        folder = path if path.is_dir() else _unpack(path, Path(tmp))
        booster = xgb.Booster()
        if (folder / MODEL_FILE).is_file():
            booster.load_model(str(folder / MODEL_FILE))
            names = None
            if (folder / METADATA_FILE).is_file():
                names = json.loads((folder / METADATA_FILE).read_text())["feature_names"]
            return Model(booster, names)
        if (folder / BUILTIN_XGBOOST_MODEL_FILE).is_file():
            try:
                booster.load_model(str(folder / BUILTIN_XGBOOST_MODEL_FILE))
            except xgb.core.XGBoostError as err:
                reason = " ".join(str(err).split("Stack trace:")[0].split())  # without the C++ trace
                raise EvaluationError(f"{BUILTIN_XGBOOST_MODEL_FILE}: this xgboost cannot load it: {reason}") from None
            return Model(booster, None)
    raise EvaluationError(f"{path}: holds neither {MODEL_FILE} nor {BUILTIN_XGBOOST_MODEL_FILE}")


def _unpack(archive: Path, into: Path) -> Path:
    """Extract only the known model files (by name, never by the archive's paths)."""
    wanted = (MODEL_FILE, METADATA_FILE, BUILTIN_XGBOOST_MODEL_FILE)
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                name = Path(member.name).name
                source = tar.extractfile(member) if member.isfile() and name in wanted else None
                if source is not None:
                    (into / name).write_bytes(source.read())
    except (tarfile.TarError, OSError) as err:
        raise EvaluationError(f"{archive}: not a readable model.tar.gz: {err}") from None
    return into


def load_test_set(folder: Path, feature_names: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """Features (columns ordered as the model's, when it names them) and 0/1 labels of every CSV."""
    files = sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith((".", "_")))
    if not files:
        raise EvaluationError(f"{folder}: no test files")
    features, labels = [], []
    for path in files:
        with path.open(newline="") as handle:
            rows = list(csv.reader(handle))
        if not rows:
            continue
        header = [c.strip() for c in rows[0]]
        if LABEL_COLUMN not in header:
            raise EvaluationError(f"{path.name}: no {LABEL_COLUMN!r} column in the header {header[:10]}")
        columns = [c for c in header if c != LABEL_COLUMN]
        if feature_names is not None:
            missing = [c for c in feature_names if c not in header]
            if missing or len(columns) != len(feature_names):
                raise EvaluationError(
                    f"{path.name}: has {len(columns)} feature columns; the model expects {len(feature_names)}"
                    + (f" (missing: {missing[:5]})" if missing else "")
                )
            columns = feature_names
        body = [r for r in rows[1:] if r]
        try:
            table = np.array(body, dtype=np.float64).reshape(len(body), len(header))
        except ValueError as err:
            raise EvaluationError(f"{path.name}: not a numeric CSV of {len(header)} columns: {err}") from None
        features.append(table[:, [header.index(c) for c in columns]])
        labels.append(table[:, header.index(LABEL_COLUMN)])
    if not labels or sum(len(y) for y in labels) == 0:
        raise EvaluationError(f"{folder}: the test set has no rows")
    y = np.concatenate(labels)
    if not np.isin(y, (0.0, 1.0)).all():
        raise EvaluationError(f"labels must be 0 or 1, found {np.setdiff1d(y, (0.0, 1.0))[:5].tolist()}")
    return np.concatenate(features), y


def metrics(labels: np.ndarray, scores: np.ndarray) -> dict[str, float]:
    """AUC (rank-sum, ties averaged), accuracy at 0.5 and log loss of probabilities `scores`."""
    _, inverse, counts = np.unique(scores, return_inverse=True, return_counts=True)
    ranks = (np.cumsum(counts) - (counts - 1) / 2.0)[inverse.ravel()]  # ties share their average rank
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    auc = (ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg) if n_pos and n_neg else float("nan")
    p = np.clip(scores, 1e-15, 1 - 1e-15)
    return {
        "auc": float(auc),
        "accuracy": float(np.mean((scores >= 0.5) == positives)),
        "logloss": float(-np.mean(labels * np.log(p) + (1 - labels) * np.log(1 - p))),
    }


def evaluate(model_path: Path, test_dir: Path, output_dir: Path) -> dict[str, Any]:
    model = load_model(model_path)
    features, labels = load_test_set(test_dir, model.feature_names)
    report = evaluation_report(metrics(labels, model.predict(features)), rows=len(labels))
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / EVALUATION_FILE).write_text(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a model artifact on the test channel.")
    parser.add_argument("--model", type=Path, default=PROCESSING / "model" / "model.tar.gz")
    parser.add_argument("--test", type=Path, default=PROCESSING / "test")
    parser.add_argument("--output", type=Path, default=PROCESSING / "evaluation")
    args = parser.parse_args(argv)
    try:
        report = evaluate(args.model, args.test, args.output)
    except EvaluationError as err:
        print(f"evaluation failed: {err}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
