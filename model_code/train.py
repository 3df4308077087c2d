"""Training entry point (script mode): an XGBoost binary classifier, on SageMaker's contract.

Reads hyperparameters from SM_HPS, channels from SM_CHANNEL_TRAIN / _VALIDATION / _TEST (CSV with
a header and a `label` column), writes the model to SM_MODEL_DIR, checkpoints to
/opt/ml/checkpoints (so a managed spot job resumes where it was interrupted), and prints metrics
as `name=value;` lines that the tuning job's metric definitions (model_code.contract) parse.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import xgboost as xgb

from model_code.contract import (
    HYPERPARAMETERS,
    HYPERPARAMETERS_BY_NAME,
    LABEL_COLUMN,
    METADATA_FILE,
    MODEL_FILE,
    TEST,
    TRAIN,
    VALIDATION,
    metric_line,
)

# Hyperparameters the SageMaker SDK and toolkit add on their own; not ours to validate.
SAGEMAKER_KEYS = ("sagemaker_", "_tuning_objective_metric")


class TrainingError(ValueError):
    """Bad input (hyperparameters, channels, data): the message says what and where."""


@dataclass(frozen=True)
class Dataset:
    features: np.ndarray
    labels: np.ndarray
    feature_names: list[str]


def parse_hyperparameters(raw: dict[str, Any]) -> dict[str, float | int]:
    """Defaults overlaid with `raw`; every problem reported at once."""
    values: dict[str, float | int] = {h.name: h.parse(h.default) for h in HYPERPARAMETERS}
    problems = []
    for name, value in raw.items():
        if name.startswith(SAGEMAKER_KEYS):
            continue
        known = HYPERPARAMETERS_BY_NAME.get(name)
        if known is None:
            problems.append(f"{name}: unknown hyperparameter; known: {', '.join(HYPERPARAMETERS_BY_NAME)}")
            continue
        try:
            values[name] = known.parse(value)
        except ValueError as err:
            problems.append(str(err))
    if problems:
        raise TrainingError("invalid hyperparameters:\n  - " + "\n  - ".join(problems))
    return values


def load_channel(name: str, directory: str | None, *, required: bool) -> Dataset | None:
    if not directory:
        if required:
            raise TrainingError(f"channel {name!r} is missing: SM_CHANNEL_{name.upper()} is not set")
        return None
    files = sorted(p for p in Path(directory).rglob("*") if p.is_file() and not p.name.startswith("."))
    if not files:
        if required:
            raise TrainingError(f"channel {name!r} is empty: no files in {directory}")
        return None
    parts = [_read_csv(name, f) for f in files]
    names = parts[0].feature_names
    for part, path in zip(parts[1:], files[1:], strict=True):
        if part.feature_names != names:
            raise TrainingError(f"channel {name!r}: {path.name} has other columns than {files[0].name}")
    return Dataset(np.concatenate([p.features for p in parts]), np.concatenate([p.labels for p in parts]), names)


def _read_csv(channel: str, path: Path) -> Dataset:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    if path.stat().st_size == 0:
        raise TrainingError(f"channel {channel!r}: {path.name} is empty")
    try:
        table = pacsv.read_csv(path)
    except pa.ArrowInvalid as err:
        raise TrainingError(f"channel {channel!r}: {path.name} is not a valid CSV: {err}") from None
    if LABEL_COLUMN not in table.column_names:
        raise TrainingError(
            f"channel {channel!r}: {path.name} has no {LABEL_COLUMN!r} column (columns: {table.column_names[:10]})"
        )
    if table.num_rows == 0:
        raise TrainingError(f"channel {channel!r}: {path.name} has a header but no rows")
    names = [c for c in table.column_names if c != LABEL_COLUMN]
    try:
        features = np.column_stack([table[c].to_numpy().astype(np.float32) for c in names])
        labels = table[LABEL_COLUMN].to_numpy().astype(np.float32)
    except (ValueError, pa.ArrowInvalid) as err:
        raise TrainingError(f"channel {channel!r}: {path.name} has a non-numeric value: {err}") from None
    bad = np.setdiff1d(np.unique(labels), [0.0, 1.0])
    if len(bad):
        raise TrainingError(f"channel {channel!r}: labels must be 0 or 1, found {bad[:5].tolist()}")
    return Dataset(features, labels, names)


def train(
    hyperparameters: dict[str, float | int],
    train_set: Dataset,
    validation_set: Dataset,
    test_set: Dataset | None,
    model_dir: Path,
    checkpoint_dir: Path | None,
) -> dict[str, float]:
    if validation_set.feature_names != train_set.feature_names:
        raise TrainingError("channel 'validation' has other feature columns than 'train'")
    hp = dict(hyperparameters)
    num_round, patience = int(hp.pop("num_round")), int(hp.pop("early_stopping_rounds"))
    interval = int(hp.pop("checkpoint_interval"))
    params = {
        **hp,
        "objective": "binary:logistic",
        "eval_metric": ["logloss", "auc"],
        "tree_method": "hist",
        # OMP_NUM_THREADS lets parallel local trials share the cores; SageMaker sets SM_NUM_CPUS.
        "nthread": int(os.environ.get("OMP_NUM_THREADS") or os.environ.get("SM_NUM_CPUS") or os.cpu_count() or 1),
        "seed": 0,
    }
    dtrain = xgb.DMatrix(train_set.features, train_set.labels, feature_names=train_set.feature_names)
    dvalid = xgb.DMatrix(validation_set.features, validation_set.labels, feature_names=train_set.feature_names)

    resume, done = _latest_checkpoint(checkpoint_dir)
    callbacks: list[Any] = [
        _PrintMetrics(),
        xgb.callback.EarlyStopping(rounds=patience, metric_name="logloss", data_name="validation", save_best=False),
    ]
    if checkpoint_dir is not None:
        checkpoint_dir.mkdir(parents=True, exist_ok=True)
        callbacks.append(_Checkpoint(checkpoint_dir, interval))
    if resume is not None:
        print(f"resuming from checkpoint {resume.name} after {done} rounds", flush=True)
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=max(num_round - done, 1),
        evals=[(dtrain, "train"), (dvalid, "validation")],
        callbacks=callbacks,
        xgb_model=str(resume) if resume else None,
        verbose_eval=False,
    )
    best = booster.best_iteration if "best_iteration" in booster.attributes() else booster.num_boosted_rounds() - 1
    final = _evaluate(booster, best, dtrain, dvalid)
    if test_set is not None:
        dtest = xgb.DMatrix(test_set.features, feature_names=train_set.feature_names)
        scores = booster.predict(dtest, iteration_range=(0, best + 1))
        final["test:auc"] = auc(test_set.labels, scores)
        final["test:accuracy"] = float(np.mean((scores >= 0.5) == (test_set.labels == 1)))
    # The last line is what the tuning job takes as the final value of each metric.
    print(metric_line(final), flush=True)

    model_dir.mkdir(parents=True, exist_ok=True)
    booster = booster[: best + 1]  # keep the best rounds only
    booster.save_model(model_dir / MODEL_FILE)
    metadata = {
        "feature_names": train_set.feature_names,
        "label": LABEL_COLUMN,
        "best_iteration": best,
        "hyperparameters": hyperparameters,
        "metrics": final,
    }
    (model_dir / METADATA_FILE).write_text(json.dumps(metadata, indent=2))
    return final


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by the rank-sum formula (ties get average ranks)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    # Average ranks over ties.
    boundaries = np.flatnonzero(np.diff(sorted_scores)) + 1
    starts = np.concatenate([[0], boundaries])
    ends = np.concatenate([boundaries, [len(scores)]])
    for start, end in zip(starts, ends, strict=True):
        ranks[order[start:end]] = (start + end + 1) / 2
    positives = labels == 1
    n_pos, n_neg = int(positives.sum()), int((~positives).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positives].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def _evaluate(booster: Any, best: int, dtrain: Any, dvalid: Any) -> dict[str, float]:
    text = booster.eval_set([(dtrain, "train"), (dvalid, "validation")], iteration=best)
    # "[7]\ttrain-logloss:0.1\tvalidation-logloss:0.2\tvalidation-auc:0.9"
    values = dict(item.rsplit(":", 1) for item in text.split("\t")[1:])
    names = {
        "train-logloss": "train:logloss",
        "validation-logloss": "validation:logloss",
        "validation-auc": "validation:auc",
    }
    return {names[k]: float(v) for k, v in values.items() if k in names}


class _PrintMetrics(xgb.callback.TrainingCallback):
    """Prints each round's metrics as `[round] name=value;` for the tuning job to parse."""

    WANTED = ("train:logloss", "validation:logloss", "validation:auc")

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
        values = {f"{data}:{name}": log[-1] for data, metrics in evals_log.items() for name, log in metrics.items()}
        print(metric_line({k: values[k] for k in self.WANTED if k in values}, iteration=epoch), flush=True)
        return False


class _Checkpoint(xgb.callback.TrainingCallback):
    """Saves the booster every `interval` rounds as checkpoint-<rounds>.json (counted from the
    start of the whole job, across resumptions) and keeps the newest two."""

    def __init__(self, directory: Path, interval: int) -> None:
        super().__init__()
        self.directory, self.interval = directory, interval

    def after_iteration(self, model: Any, epoch: int, evals_log: dict[str, Any]) -> bool:
        rounds = model.num_boosted_rounds()
        if rounds % self.interval == 0:
            model.save_model(self.directory / f"checkpoint-{rounds:06d}.json")
            for old in sorted(self.directory.glob("checkpoint-*.json"))[:-2]:
                old.unlink()
        return False


def _latest_checkpoint(directory: Path | None) -> tuple[Path | None, int]:
    if directory is None or not directory.is_dir():
        return None, 0
    found = sorted(directory.glob("checkpoint-*.json"))
    if not found:
        return None, 0
    return found[-1], int(found[-1].stem.split("-")[1])


def main() -> int:
    try:
        hyperparameters = parse_hyperparameters(json.loads(os.environ.get("SM_HPS", "{}")))
        train_set = load_channel(TRAIN, os.environ.get("SM_CHANNEL_TRAIN"), required=True)
        validation_set = load_channel(VALIDATION, os.environ.get("SM_CHANNEL_VALIDATION"), required=True)
        test_set = load_channel(TEST, os.environ.get("SM_CHANNEL_TEST"), required=False)
        assert train_set is not None and validation_set is not None
        base = Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml"))
        model_dir = Path(os.environ.get("SM_MODEL_DIR", base / "model"))
        checkpoints = Path(os.environ.get("SM_CHECKPOINT_DIR", base / "checkpoints"))
        train(hyperparameters, train_set, validation_set, test_set, model_dir, checkpoints)
    except TrainingError as err:
        print(f"training failed: {err}", file=sys.stderr)
        output = Path(os.environ.get("SM_OUTPUT_DIR", Path(os.environ.get("SAGEMAKER_BASE_DIR", "/opt/ml")) / "output"))
        if output.is_dir():
            (output / "failure").write_text(str(err))  # SageMaker shows this as FailureReason
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
