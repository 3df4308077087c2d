"""The framework entry points: sklearn runs through the real training toolkit; the others (their
frameworks are not installed here) are checked for their target Python, their imports, and the
metric lines and failures of their framework-free helpers."""

from __future__ import annotations

import ast
import importlib.util
import json
import re
import subprocess
import sys
import tarfile
from pathlib import Path
from types import ModuleType

import joblib
import numpy as np
import pytest

from model_code.contract import FRAMEWORK_ENTRY_POINTS, METRICS, OBJECTIVE, parse_metrics
from model_code.local_training import TrainingResult, lay_out, run_training_job

ROOT = Path(__file__).resolve().parents[2]
# framework -> (the Python of its last or target AWS image, the modules it may import besides stdlib)
TARGETS = {
    "sklearn": ("3.8", {"numpy", "sklearn", "joblib"}),
    "pytorch": ("3.12", {"numpy", "torch"}),
    "tensorflow": ("3.12", {"numpy", "tensorflow"}),
    "mxnet": ("3.8", {"numpy", "mxnet"}),
    "chainer": ("3.6", {"numpy", "chainer"}),
}
METRIC_TOKEN = re.compile(r"(\S+)=[-+0-9.eEnaif]+;")


@pytest.fixture(scope="module")
def sklearn_job(channels: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    entry = FRAMEWORK_ENTRY_POINTS["sklearn"]
    result = run_training_job(tmp_path_factory.mktemp("sk"), channels, {"C": 0.5}, entry_point=entry)
    assert result.exit_code == 0, result.log[-3000:]
    return result


def load_script(framework: str) -> ModuleType:
    """The entry point as a module: its framework is imported only inside main() and model_fn()."""
    spec = importlib.util.spec_from_file_location(f"entry_{framework}", ROOT / FRAMEWORK_ENTRY_POINTS[framework])
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_sklearn_runs_through_the_toolkit_and_writes_model_joblib(sklearn_job: TrainingResult) -> None:
    assert "Invoking script with the following command" in sklearn_job.log
    assert "model_code/frameworks/sklearn/train.py -C 0.5" in sklearn_job.log  # packaged alone: no model_code import
    assert sklearn_job.model_artifact is not None
    with tarfile.open(sklearn_job.model_artifact) as tar:
        assert tar.getnames() == ["model.joblib"]
        tar.extractall(sklearn_job.model_artifact.parent / "unpacked", filter="data")
    model = joblib.load(sklearn_job.model_artifact.parent / "unpacked" / "model.joblib")
    assert model.predict_proba(np.zeros((1, 30))).shape == (1, 2)


def test_every_metric_the_sklearn_job_prints_is_parsed_by_the_contract(sklearn_job: TrainingResult) -> None:
    printed = [line for line in sklearn_job.log.splitlines() if "=" in line and line.rstrip().endswith(";")]
    assert printed, sklearn_job.log[-2000:]
    names = {m.group(1) for line in printed for m in METRIC_TOKEN.finditer(line)}
    assert names == {m.name for m in METRICS}
    final = sklearn_job.final_metrics
    assert set(final) == names
    assert final[OBJECTIVE.name] > 0.97 and final["test:accuracy"] > 0.9


def test_a_bad_sklearn_hyperparameter_fails_the_job_with_the_failure_file(channels: Path, tmp_path: Path) -> None:
    entry = FRAMEWORK_ENTRY_POINTS["sklearn"]
    result = run_training_job(tmp_path, channels, {"C": -1}, entry_point=entry)
    assert result.exit_code != 0 and result.model_artifact is None
    assert result.failure == "C: -1 is out of range; allowed: 0.0001 to 10000.0"


@pytest.mark.parametrize("framework", sorted(TARGETS))
def test_entry_point_is_self_contained_and_short(framework: str) -> None:
    source = (ROOT / FRAMEWORK_ENTRY_POINTS[framework]).read_text()
    assert len(source.splitlines()) < 160
    tree = ast.parse(source)
    docstring = ast.get_docstring(tree) or ""
    assert "image" in docstring and re.search(r"\d+\.\d+", docstring), docstring
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0 and node.module, "no relative imports"
            imported.add(node.module.split(".")[0])
    assert "model_code" not in imported and "__future__" not in imported
    assert imported - set(sys.stdlib_module_names) <= TARGETS[framework][1]


@pytest.mark.parametrize("framework", sorted(TARGETS))
def test_entry_point_compiles_with_its_target_python(framework: str) -> None:
    version = TARGETS[framework][0]
    found = sorted(Path.home().glob(f".pyenv/versions/{version}.*/bin/python"))
    if not found:
        pytest.skip(f"no Python {version} here (pyenv)")
    path = ROOT / FRAMEWORK_ENTRY_POINTS[framework]
    check = (
        "import ast, sys; ast.parse(open(sys.argv[1]).read()); compile(open(sys.argv[1]).read(), sys.argv[1], 'exec')"
    )
    result = subprocess.run([str(found[-1]), "-c", check, str(path)], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("framework", sorted(TARGETS))
def test_metric_lines_match_the_tuning_regexes(framework: str) -> None:
    script = load_script(framework)
    assert set(script.METRICS) == {m.name for m in METRICS}
    rng = np.random.default_rng(0)
    labels = np.array([0, 1] * 20, dtype=np.float32)
    data = (rng.normal(size=(40, 3)).astype(np.float32), labels)
    channels = [("train", data), ("validation", data), ("test", data)]
    values = script.evaluation(channels, lambda x: np.clip(0.5 + 0.1 * labels[: len(x)], 0, 1))
    for line in (script.metric_line(values), script.metric_line(values[:2], 30)):
        parsed = {k: v for k, v in parse_metrics(line).items() if v}
        tokens = METRIC_TOKEN.findall(line)
        assert len(parsed) == len(tokens) and all(len(v) == 1 for v in parsed.values()), line
    final = {k: v[0] for k, v in parse_metrics(script.metric_line(values)).items()}
    assert final == {
        "train:logloss": 0.601986,  # scores 0.5 (zeros) and 0.6 (ones): -(ln 0.5 + ln 0.6) / 2
        "validation:logloss": 0.601986,
        "validation:auc": 1.0,
        "test:auc": 1.0,
        "test:accuracy": 0.5,  # every score >= 0.5: all predicted 1
    }


@pytest.mark.parametrize("framework", sorted(TARGETS))
def test_bad_input_writes_the_failure_file_and_exits_2(
    framework: str, channels: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    script = load_script(framework)
    monkeypatch.setenv("SM_OUTPUT_DIR", str(tmp_path))
    monkeypatch.setenv("SM_CHANNEL_TRAIN", str(channels / "train"))
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", str(channels / "validation"))
    monkeypatch.setenv("SM_HPS", json.dumps({"sagemaker_program": "x", "depth": "3"}))
    with pytest.raises(SystemExit) as stopped:
        script.read_inputs()
    assert stopped.value.code == 2
    assert (tmp_path / "failure").read_text().startswith("depth: unknown hyperparameter; known: ")
    monkeypatch.setenv("SM_HPS", "{}")
    _, train, _, test = script.read_inputs()
    assert train[0].shape[1] == 30 and set(np.unique(train[1])) == {0.0, 1.0} and test is None
    monkeypatch.setenv("SM_CHANNEL_VALIDATION", str(tmp_path / "nothing"))
    with pytest.raises(SystemExit):
        script.read_inputs()
    assert (tmp_path / "failure").read_text().startswith("channel 'validation': no files")


def test_lay_out_packages_the_entry_points_folder_relative_to_the_root(tmp_path: Path, channels: Path) -> None:
    lay_out(tmp_path, channels, {}, entry_point=FRAMEWORK_ENTRY_POINTS["chainer"])
    files = sorted(str(p.relative_to(tmp_path / "source")) for p in (tmp_path / "source").rglob("*.py"))
    assert files == ["model_code/frameworks/chainer/train.py"]
    config = json.loads((tmp_path / "opt_ml" / "input" / "config" / "hyperparameters.json").read_text())
    assert json.loads(config["sagemaker_program"]) == "model_code/frameworks/chainer/train.py"
    with pytest.raises(ValueError, match="is not inside the packaged folder 'model_code/frameworks/sklearn'"):
        lay_out(tmp_path, channels, {}, entry_point="model_code/train.py", folder="model_code/frameworks/sklearn")
