"""The training entry point, run through the real SageMaker training toolkit as SageMaker would."""

from __future__ import annotations

import json
import re
import shutil
import tarfile
from pathlib import Path

import pytest

from model_code.contract import METADATA_FILE, METRICS, MODEL_FILE
from model_code.local_training import TrainingResult, run_training_job


def test_toolkit_runs_the_entry_point_and_packs_the_model(trained: TrainingResult) -> None:
    assert "Invoking script with the following command" in trained.log  # the toolkit, not a shortcut
    assert trained.model_artifact is not None
    with tarfile.open(trained.model_artifact) as tar:
        assert sorted(tar.getnames()) == [METADATA_FILE, MODEL_FILE]
        metadata = json.load(tar.extractfile(METADATA_FILE))  # type: ignore[arg-type]
    assert len(metadata["feature_names"]) == 30
    assert metadata["hyperparameters"]["max_depth"] == 3


def test_every_metric_definition_matches_the_real_output(trained: TrainingResult) -> None:
    for metric in METRICS:
        values = re.findall(metric.regex, trained.log)
        assert values, f"{metric.name}: regex {metric.regex!r} matched nothing"
    final = trained.final_metrics
    assert final["validation:auc"] > 0.97 and final["test:auc"] > 0.97
    assert final["test:accuracy"] > 0.9


def test_checkpoints_let_an_interrupted_job_resume(
    trained: TrainingResult, channels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = Path(str(trained.model_artifact)).parents[1]
    written = sorted((job / "opt_ml" / "checkpoints").glob("checkpoint-*.json"))
    assert written, "the first job wrote no checkpoints"
    # A new job whose checkpoint folder already holds them, as after a spot interruption.
    shutil.copytree(written[0].parent, tmp_path / "checkpoints")
    monkeypatch.setenv("SM_CHECKPOINT_DIR", str(tmp_path / "checkpoints"))
    result = run_training_job(tmp_path / "job", channels, {"max_depth": 3})
    assert result.exit_code == 0, result.log[-2000:]
    assert (
        f"resuming from checkpoint {written[-1].name} after {int(written[-1].stem.split('-')[1])} rounds" in result.log
    )


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_validation", "channel 'validation' is missing: SM_CHANNEL_VALIDATION is not set"),
        ("empty_csv", "channel 'train': part-00000.csv is empty"),
        ("no_label", "channel 'train': part-00000.csv has no 'label' column"),
        ("malformed", "channel 'train': part-00000.csv is not a valid CSV"),
        ("bad_hp", "max_depth: 40 is out of range; allowed: an integer from 2 to 10"),
        ("unknown_hp", "depth: unknown hyperparameter; known: max_depth"),
    ],
)
def test_bad_input_fails_the_job_with_a_clear_reason(channels: Path, tmp_path: Path, setup: str, message: str) -> None:
    data = tmp_path / "data"
    shutil.copytree(channels, data)
    hyperparameters: dict[str, object] = {}
    train_file = data / "train" / "part-00000.csv"
    if setup == "no_validation":
        shutil.rmtree(data / "validation")
    elif setup == "empty_csv":
        train_file.write_text("")
    elif setup == "no_label":
        train_file.write_text(train_file.read_text().replace("label,", "target,", 1))
    elif setup == "malformed":
        train_file.write_text(train_file.read_text() + "1,2,3\n")
    elif setup == "bad_hp":
        hyperparameters = {"max_depth": 40}
    elif setup == "unknown_hp":
        hyperparameters = {"depth": 4}
    result = run_training_job(tmp_path / "job", data, hyperparameters)
    assert result.exit_code != 0
    assert result.failure is not None and message in result.failure, result.failure
    assert result.model_artifact is None
