"""Fixtures for the model code: the sample data split into channels, and a model trained from it
through the real SageMaker training toolkit (once per session)."""

from __future__ import annotations

from pathlib import Path

import pytest

from model_code.data import write_sample_dataset
from model_code.local_training import TrainingResult, run_training_job
from model_code.split import SplitSpec, split_file


@pytest.fixture(scope="session")
def channels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("data")
    write_sample_dataset(work / "raw.csv")
    split_file(work / "raw.csv", work / "channels", SplitSpec(stratify=True))
    return work / "channels"


@pytest.fixture(scope="session")
def trained(channels: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    result = run_training_job(tmp_path_factory.mktemp("job"), channels, {"max_depth": 3, "checkpoint_interval": 5})
    assert result.exit_code == 0, result.log[-3000:]
    return result
