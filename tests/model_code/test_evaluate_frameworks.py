"""evaluate.py --entry-point: a framework script's model scored through its own model_fn and
predict_proba. scikit-learn runs for real (trained through the toolkit, evaluated as the pipeline
runs the script); the other frameworks are not installed here, so their scripts are checked
statically for the two functions."""

from __future__ import annotations

import ast
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import joblib
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from model_code.contract import EVALUATION_FILE, FRAMEWORK_ENTRY_POINTS, evaluation_value
from model_code.local_training import TrainingResult, run_training_job

ROOT = Path(__file__).resolve().parents[2]
SKLEARN = FRAMEWORK_ENTRY_POINTS["sklearn"]
FRAMEWORKS = sorted(name for name in FRAMEWORK_ENTRY_POINTS if name != "xgboost")  # the self-contained scripts
TEST_ROWS = 85  # the stratified 15% of the 569 sample rows


@pytest.fixture(scope="module")
def sklearn_artifact(channels: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = run_training_job(tmp_path_factory.mktemp("sk-eval"), channels, {}, entry_point=SKLEARN)
    assert result.exit_code == 0 and result.model_artifact is not None, result.log[-3000:]
    return result.model_artifact


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """evaluate.py as the pipeline runs it: a script, from the unpacked code's folder."""
    command = [sys.executable, "model_code/evaluate.py", *args]
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False, timeout=120)


def test_the_sklearn_model_is_evaluated_through_its_entry_point(
    sklearn_artifact: Path, channels: Path, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    result = run(
        "--entry-point",
        SKLEARN,
        "--model",
        str(sklearn_artifact),
        "--test",
        str(channels / "test"),
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stderr
    report = json.loads((out / EVALUATION_FILE).read_text())
    assert set(report) == {"binary_classification_metrics", "rows"} and report["rows"] == TEST_ROWS
    assert set(report["binary_classification_metrics"]) == {"auc", "accuracy", "logloss"}
    assert evaluation_value(report, "auc") > 0.95 and evaluation_value(report, "accuracy") > 0.9
    # The same AUC as scikit-learn's own, from the saved pipeline on the test file's columns.
    with tarfile.open(sklearn_artifact) as tar:
        tar.extractall(tmp_path / "unpacked", filter="data")
    test = np.loadtxt(channels / "test" / "part-00000.csv", delimiter=",", skiprows=1)
    model = joblib.load(tmp_path / "unpacked" / "model.joblib")
    expected = roc_auc_score(test[:, 0], model.predict_proba(test[:, 1:])[:, 1])
    assert evaluation_value(report, "auc") == pytest.approx(expected)


NO_PREDICT_PROBA = "def model_fn(model_dir):\n    return None\n"
NOT_PROBABILITIES = NO_PREDICT_PROBA + "def predict_proba(model, features):\n    return features[:, 0] + 2\n"


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        ("no_entry_point", "model_code/frameworks/nope/train.py: no such entry point (from the working directory "),
        (
            "no_predict_proba",
            "script.py: defines no predict_proba; an evaluated entry point needs model_fn(model_dir) and "
            "predict_proba(model, features)",
        ),
        (
            "narrow",
            "predict_proba failed on the test data's 29 feature columns (was the model trained on as many?): "
            "ValueError: X has 29 features, but StandardScaler is expecting 30 features as input.",
        ),
        ("xgboost_artifact", "model_fn cannot load "),
        ("not_probabilities", "script.py: predict_proba returned values outside [0, 1]: not probabilities"),
        ("link_in_archive", "refusing to extract '../model.joblib' (a link or outside path)"),
    ],
)
def test_entry_point_errors_exit_2_with_a_clear_message(
    sklearn_artifact: Path, trained: TrainingResult, channels: Path, tmp_path: Path, setup: str, message: str
) -> None:
    entry, model, test = SKLEARN, sklearn_artifact, tmp_path / "test"
    shutil.copytree(channels / "test", test)
    csv = test / "part-00000.csv"
    if setup == "no_entry_point":
        entry = "model_code/frameworks/nope/train.py"
    elif setup in ("no_predict_proba", "not_probabilities"):
        entry = str(tmp_path / "script.py")
        Path(entry).write_text(NO_PREDICT_PROBA if setup == "no_predict_proba" else NOT_PROBABILITIES)
    elif setup == "narrow":
        csv.write_text("\n".join(",".join(line.split(",")[:-1]) for line in csv.read_text().splitlines()) + "\n")
    elif setup == "xgboost_artifact":
        model = Path(str(trained.model_artifact))
    elif setup == "link_in_archive":
        model = tmp_path / "evil.tar.gz"
        with tarfile.open(model, "w:gz") as tar:
            tar.add(csv, arcname="../model.joblib")
    result = run("--entry-point", entry, "--model", str(model), "--test", str(test), "--output", str(tmp_path / "out"))
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("evaluation failed: ") and message in result.stderr, result.stderr
    assert not (tmp_path / "out" / EVALUATION_FILE).exists()
    if setup == "xgboost_artifact":  # says what the artifact holds instead
        assert "xgboost-model.json" in result.stderr and "FileNotFoundError" in result.stderr


@pytest.mark.parametrize("framework", FRAMEWORKS)
def test_every_framework_entry_point_defines_model_fn_and_predict_proba(framework: str) -> None:
    tree = ast.parse((ROOT / FRAMEWORK_ENTRY_POINTS[framework]).read_text())
    functions = {node.name: node for node in tree.body if isinstance(node, ast.FunctionDef)}
    for name, parameters in (("model_fn", ["model_dir"]), ("predict_proba", ["model", "features"])):
        assert name in functions, f"{framework}: no top-level {name}"
        assert [a.arg for a in functions[name].args.args] == parameters, f"{framework}: {name} takes {parameters}"
        docstring = ast.get_docstring(functions[name]) or ""
        assert docstring and "\n" not in docstring, f"{framework}: {name} needs a one-line docstring"
