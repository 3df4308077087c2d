"""Evaluation entry point (SageMaker Processing, `python3 model_code/evaluate.py`): scores a model
artifact on the test channel and writes the model-quality report the pipeline's condition reads.

Reads the model from /opt/ml/processing/model/model.tar.gz (the sample's xgboost-model.json with its
metadata, or the built-in XGBoost algorithm's `xgboost-model`), the CSV files (header, `label`
column) under /opt/ml/processing/test/, and writes /opt/ml/processing/evaluation/evaluation.json.
Runs on Python >= 3.8 with numpy and xgboost >= 1.7 (the sagemaker-xgboost images): no pandas.

With `--entry-point model_code/frameworks/<fw>/train.py` (run in that framework's image) the model
is whatever that script saved: evaluate.py imports the script and calls its
`model_fn(model_dir)` and `predict_proba(model, features)`; xgboost is then not needed.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import json
import os
import sys
import tarfile
import tempfile
from pathlib import Path
from types import ModuleType
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

# SageMaker mounts the job under /opt/ml/processing; a local run points SM_PROCESSING_BASE_DIR elsewhere.
PROCESSING = Path(os.environ.get("SM_PROCESSING_BASE_DIR", "/opt/ml/processing"))
# What a framework entry point must define for --entry-point (see model_code/frameworks/*/train.py).
ENTRY_POINT_FUNCTIONS = ("model_fn", "predict_proba")


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


def load_entry_point(path: Path) -> ModuleType:
    """The framework entry point at `path` (relative to the working directory) as a module."""
    if not path.is_file():
        raise EvaluationError(f"{path}: no such entry point (from the working directory {Path.cwd()})")
    spec = importlib.util.spec_from_file_location(f"entry_point_{path.parent.name}", path)
    if spec is None or spec.loader is None:
        raise EvaluationError(f"{path}: not a Python file that can be imported")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # the framework scripts import their framework inside functions only
    missing = [name for name in ENTRY_POINT_FUNCTIONS if not callable(getattr(module, name, None))]
    if missing:
        raise EvaluationError(
            f"{path}: defines no {' and no '.join(missing)}; an evaluated entry point needs "
            "model_fn(model_dir) and predict_proba(model, features)"
        )
    return module


def _unpack_all(archive: Path, into: Path) -> Path:
    """Extract every file and folder of a model.tar.gz (links and paths leaving `into` refused)."""
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                parts = Path(member.name).parts
                if Path(member.name).is_absolute() or ".." in parts or not (member.isfile() or member.isdir()):
                    raise EvaluationError(f"{archive}: refusing to extract {member.name!r} (a link or outside path)")
                target = into.joinpath(*parts) if parts else into
                if member.isdir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                source = tar.extractfile(member)
                target.write_bytes(source.read() if source is not None else b"")
    except (tarfile.TarError, OSError) as err:
        raise EvaluationError(f"{archive}: not a readable model.tar.gz: {err}") from None
    return into


def _first_line(err: Exception) -> str:
    """The exception's type and first message line (frameworks append long traces)."""
    return f"{type(err).__name__}: {(str(err).strip().splitlines() or [''])[0]}"


def entry_point_scores(script: ModuleType, model_path: Path, features: np.ndarray, name: str) -> np.ndarray:
    """P(label 1) per row: the entry point's (`name`'s) model_fn on the unpacked artifact, then its predict_proba."""
    if not model_path.exists():
        raise EvaluationError(f"{model_path}: no model artifact there")
    with tempfile.TemporaryDirectory() as tmp:
        folder = model_path if model_path.is_dir() else _unpack_all(model_path, Path(tmp))
        try:
            model = script.model_fn(str(folder))
        except Exception as err:  # e.g. the artifact of another framework: its file is not there
            held = sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())[:10]
            raise EvaluationError(
                f"{name}: model_fn cannot load {model_path} (it holds {held}): {_first_line(err)}"
            ) from None
        try:
            scores = np.asarray(script.predict_proba(model, features), dtype=np.float64)
        except Exception as err:  # the framework's own error, e.g. on a width mismatch
            raise EvaluationError(
                f"{name}: predict_proba failed on the test data's {features.shape[1]} feature columns "
                f"(was the model trained on as many?): {_first_line(err)}"
            ) from None
    if scores.shape not in ((len(features),), (len(features), 1)):
        raise EvaluationError(
            f"{name}: predict_proba returned shape {scores.shape}; expected one probability per row ({len(features)},)"
        )
    if not np.all((scores >= 0) & (scores <= 1)):  # also False for NaN
        raise EvaluationError(f"{name}: predict_proba returned values outside [0, 1]: not probabilities")
    return scores.reshape(-1)


def evaluate(model_path: Path, test_dir: Path, output_dir: Path, entry_point: Path | None = None) -> dict[str, Any]:
    """Score the model on the test set and write the report; `entry_point`: a framework script's model."""
    if entry_point is None:
        model = load_model(model_path)
        features, labels = load_test_set(test_dir, model.feature_names)
        scores = model.predict(features)
    else:
        script = load_entry_point(entry_point)
        features, labels = load_test_set(test_dir, None)  # every column but the label, in file order
        scores = entry_point_scores(script, model_path, features, name=str(entry_point))
    report = evaluation_report(metrics(labels, scores), rows=len(labels))
    output_dir.mkdir(parents=True, exist_ok=True)
    (output_dir / EVALUATION_FILE).write_text(json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Evaluate a model artifact on the test channel.")
    parser.add_argument("--model", type=Path, default=PROCESSING / "model" / "model.tar.gz")
    parser.add_argument("--test", type=Path, default=PROCESSING / "test")
    parser.add_argument("--output", type=Path, default=PROCESSING / "evaluation")
    parser.add_argument(
        "--entry-point",
        type=Path,
        help="a framework script (model_code/frameworks/<fw>/train.py): its model_fn and predict_proba score the model",
    )
    args = parser.parse_args(argv)
    try:
        report = evaluate(args.model, args.test, args.output, args.entry_point)
    except EvaluationError as err:
        print(f"evaluation failed: {err}", file=sys.stderr)
        return 2
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
