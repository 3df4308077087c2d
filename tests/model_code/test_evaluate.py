"""The evaluation entry point: the model-quality report from the sample model and the built-in
algorithm's artifact, its errors, and the PySpark split's arguments (pyspark is not installed)."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from model_code import evaluate
from model_code.contract import (
    BUILTIN_XGBOOST_MODEL_FILE,
    EVALUATION_FILE,
    EVALUATION_METRICS,
    evaluation_value,
)
from model_code.local_training import TrainingResult
from model_code.train import auc

ROOT = Path(__file__).resolve().parents[2]
TEST_ROWS = 85  # the stratified 15% of the 569 sample rows


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """evaluate.py as SageMaker Processing runs it: a script in the unpacked code, not a module."""
    command = [sys.executable, "model_code/evaluate.py", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)


def test_the_sample_models_report_has_the_model_quality_keys(
    trained: TrainingResult, channels: Path, tmp_path: Path
) -> None:
    result = run("--model", str(trained.model_artifact), "--test", str(channels / "test"), "--output", str(tmp_path))
    assert result.returncode == 0, result.stderr
    report = json.loads((tmp_path / EVALUATION_FILE).read_text())
    assert set(report) == {"binary_classification_metrics", "rows"} and report["rows"] == TEST_ROWS
    assert set(report["binary_classification_metrics"]) == {"auc", "accuracy", "logloss"}
    for values in report["binary_classification_metrics"].values():
        assert set(values) == {"value", "standard_deviation"} and values["standard_deviation"] == "NaN"
    assert evaluation_value(report, "auc") > 0.95 and evaluation_value(report, "accuracy") > 0.9
    assert 0 < evaluation_value(report, "logloss") < 0.2
    assert [m.maximize for m in EVALUATION_METRICS] == [True, True, False]


def test_the_builtin_algorithms_artifact_is_evaluated(channels: Path, tmp_path: Path) -> None:
    data = np.loadtxt(channels / "train" / "part-00000.csv", delimiter=",", skiprows=1)
    booster = xgb.train({"objective": "binary:logistic", "max_depth": 2}, xgb.DMatrix(data[:, 1:], data[:, 0]), 20)
    booster.save_model(tmp_path / BUILTIN_XGBOOST_MODEL_FILE)  # no extension, as the algorithm names it
    with tarfile.open(tmp_path / "model.tar.gz", "w:gz") as tar:
        tar.add(tmp_path / BUILTIN_XGBOOST_MODEL_FILE, arcname=BUILTIN_XGBOOST_MODEL_FILE)
    report = evaluate.evaluate(tmp_path / "model.tar.gz", channels / "test", tmp_path / "out")
    test = np.loadtxt(channels / "test" / "part-00000.csv", delimiter=",", skiprows=1)
    expected = auc(test[:, 0], booster.predict(xgb.DMatrix(test[:, 1:])))
    assert evaluation_value(report, "auc") == pytest.approx(expected) and expected > 0.95
    assert report["rows"] == TEST_ROWS
    # The algorithm's model names no columns: only the width can be checked.
    narrow = tmp_path / "narrow"
    narrow.mkdir()
    np.savetxt(
        narrow / "part.csv",
        test[:, :-1],
        delimiter=",",
        header="label," + ",".join(f"f{i}" for i in range(29)),
        comments="",
    )
    with pytest.raises(evaluate.EvaluationError, match=r"^the test data has 29 feature columns; the model expects 30$"):
        evaluate.evaluate(tmp_path / "model.tar.gz", narrow, tmp_path / "out2")


def test_metrics_are_the_textbook_values() -> None:
    values = evaluate.metrics(np.array([0.0, 0.0, 1.0, 1.0]), np.array([0.1, 0.6, 0.6, 0.9]))
    # pairs (pos, neg): 0.6>0.1, 0.6=0.6 (half), 0.9>0.1, 0.9>0.6 -> 3.5 / 4; threshold 0.5: 3 of 4 right
    assert values["auc"] == 0.875 and values["accuracy"] == 0.75
    assert values["logloss"] == pytest.approx(-(np.log(0.9) + np.log(0.4) + np.log(0.6) + np.log(0.9)) / 4)


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_model", "no model artifact there"),
        ("empty_test", "the test set has no rows"),
        ("no_test_files", "no test files"),
        (
            "narrow",
            "part-00000.csv: has 29 feature columns; the model expects 30 (missing: ['worst_fractal_dimension'])",
        ),
        ("not_a_model", "holds neither xgboost-model.json nor xgboost-model"),
    ],
)
def test_errors_exit_2_with_a_clear_message(
    trained: TrainingResult, channels: Path, tmp_path: Path, setup: str, message: str
) -> None:
    model, test = Path(str(trained.model_artifact)), tmp_path / "test"
    shutil.copytree(channels / "test", test)
    csv = test / "part-00000.csv"
    if setup == "no_model":
        model = tmp_path / "missing.tar.gz"
    elif setup == "empty_test":
        csv.write_text(csv.read_text().splitlines()[0] + "\n")
    elif setup == "no_test_files":
        csv.unlink()
    elif setup == "narrow":
        csv.write_text("\n".join(",".join(line.split(",")[:-1]) for line in csv.read_text().splitlines()) + "\n")
    elif setup == "not_a_model":
        with tarfile.open(tmp_path / "other.tar.gz", "w:gz") as tar:
            tar.add(csv, arcname="model.pth")
        model = tmp_path / "other.tar.gz"
    result = run("--model", str(model), "--test", str(test), "--output", str(tmp_path / "out"))
    assert result.returncode == 2
    assert result.stderr.startswith("evaluation failed: ") and message in result.stderr, result.stderr
    assert not (tmp_path / "out" / EVALUATION_FILE).exists()


def test_evaluate_and_the_contract_stay_python_38_syntax() -> None:
    for name in ("evaluate.py", "contract.py"):
        ast.parse((ROOT / "model_code" / name).read_text(), feature_version=(3, 8))


def load_spark_split() -> object:
    import importlib.util

    spec = importlib.util.spec_from_file_location("spark_split", ROOT / "model_code" / "spark" / "split.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # pyspark is imported inside main() only
    return module


def test_spark_split_arguments_default_to_the_local_split() -> None:
    args = load_spark_split().parse_args(["--input", "s3://b/raw/", "--output", "s3://b/"])  # type: ignore[attr-defined]
    assert (args.fractions, args.seed) == ([0.7, 0.15, 0.15], 42)


@pytest.mark.parametrize(
    ("fractions", "message"),
    [
        ("0.5,0.5", "--fractions: [0.5, 0.5] must be 3 non-negative numbers summing to 1"),
        ("0.8,0.15,0.15", "--fractions: [0.8, 0.15, 0.15] must be 3 non-negative numbers summing to 1"),
        ("a,b,c", "--fractions: 'a,b,c' is not three numbers separated by commas"),
    ],
)
def test_spark_split_refuses_bad_fractions(fractions: str, message: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        load_spark_split().parse_args(["--input", "i", "--output", "o", "--fractions", fractions])  # type: ignore[attr-defined]
    assert stopped.value.code == 2 and message in capsys.readouterr().err


def test_spark_split_is_self_contained() -> None:
    tree = ast.parse((ROOT / "model_code" / "spark" / "split.py").read_text(), feature_version=(3, 8))
    modules = {a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    modules |= {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module}
    assert {m.split(".")[0] for m in modules} - set(sys.stdlib_module_names) == {"pyspark"}
