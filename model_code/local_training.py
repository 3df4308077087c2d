"""Runs a training entry point locally exactly as SageMaker does: through the SageMaker training
toolkit (`sagemaker-training`), in a folder laid out like /opt/ml (SAGEMAKER_BASE_DIR).

The code is packaged as a pipeline packages it: the entry point's folder (by default), with paths
relative to the repository root, and the entry point run by that repo-relative path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from model_code.contract import CHANNELS, CSV, parse_metrics

PACKAGE = Path(__file__).resolve().parent
REPOSITORY = PACKAGE.parent
ENTRY_POINT = "model_code/train.py"


@dataclass(frozen=True)
class TrainingResult:
    exit_code: int
    stopped: bool  # stopped early by the caller (a tuning trial that was not promising)
    log: str
    model_artifact: Path | None
    failure: str | None

    @property
    def final_metrics(self) -> dict[str, float]:
        """The last value of each metric, as a SageMaker job reports it."""
        return {name: values[-1] for name, values in parse_metrics(self.log).items() if values}


def lay_out(
    job_dir: Path,
    data_dir: Path,
    hyperparameters: Mapping[str, object],
    *,
    entry_point: str = ENTRY_POINT,
    folder: str | None = None,
) -> Path:
    """Create <job_dir>/opt_ml the way SageMaker prepares /opt/ml; returns that base directory.

    `entry_point` and `folder` (the code to package; default: the entry point's folder) are
    relative to the repository root, and the folder must hold the entry point."""
    package = Path(folder) if folder is not None else Path(entry_point).parent
    if package.is_absolute() or ".." in package.parts:
        raise ValueError(f"folder {str(package)!r} must be relative to the repository root, inside it")
    if package not in Path(entry_point).parents:
        raise ValueError(f"entry point {entry_point!r} is not inside the packaged folder {str(package)!r}")
    if not (REPOSITORY / entry_point).is_file():
        raise ValueError(f"entry point {entry_point!r}: no such file under {REPOSITORY}")
    base = job_dir / "opt_ml"
    if base.exists():
        shutil.rmtree(base)
    config = base / "input" / "config"
    config.mkdir(parents=True)
    for folder in ("model", "output", "checkpoints"):
        (base / folder).mkdir()
    channels = [c for c in CHANNELS if (data_dir / c).is_dir()]
    for channel in channels:
        (base / "input" / "data").mkdir(exist_ok=True)
        (base / "input" / "data" / channel).symlink_to((data_dir / channel).resolve())
    source = job_dir / "source"
    if source.exists():
        shutil.rmtree(source)
    ignored = shutil.ignore_patterns("__pycache__", "*.pyc", "container")
    shutil.copytree(REPOSITORY / package, source / package, ignore=ignored)
    # SageMaker passes every hyperparameter as a string; the SDK JSON-encodes its own.
    hps = {k: str(v) for k, v in hyperparameters.items()}
    hps |= {"sagemaker_program": json.dumps(entry_point), "sagemaker_submit_directory": json.dumps(str(source))}
    (config / "hyperparameters.json").write_text(json.dumps(hps, indent=2))
    (config / "inputdataconfig.json").write_text(
        json.dumps(
            {
                c: {
                    "ContentType": CSV,
                    "TrainingInputMode": "File",
                    "S3DistributionType": "FullyReplicated",
                    "RecordWrapperType": "None",
                }
                for c in channels
            },
            indent=2,
        )
    )
    # "localhost": the toolkit waits until every host name resolves, and algo-1 does not here.
    (config / "resourceconfig.json").write_text(
        json.dumps({"current_host": "localhost", "hosts": ["localhost"], "network_interface_name": "lo"})
    )
    return base


def run_training_job(
    job_dir: Path,
    data_dir: Path,
    hyperparameters: Mapping[str, object],
    *,
    entry_point: str = ENTRY_POINT,
    folder: str | None = None,
    threads: int | None = None,
    on_line: Callable[[str], bool] | None = None,
) -> TrainingResult:
    """Run the toolkit's `train` on a fresh layout of `entry_point` (see lay_out); `on_line` sees
    each output line and may return True to stop the job. On success the model is packed as
    output/model.tar.gz."""
    base = lay_out(job_dir, data_dir, hyperparameters, entry_point=entry_point, folder=folder)
    env = dict(os.environ, SAGEMAKER_BASE_DIR=str(base), PYTHONUNBUFFERED="1")
    if threads:
        env["OMP_NUM_THREADS"] = str(threads)
    toolkit = Path(sys.executable).parent / "train"
    process = subprocess.Popen(
        [str(toolkit)], cwd=job_dir, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    lines: list[str] = []
    stopped = False
    assert process.stdout is not None
    for line in process.stdout:
        lines.append(line)
        if on_line and not stopped and on_line(line.rstrip("\n")):
            stopped = True
            process.terminate()
    exit_code = process.wait()
    failure_file = base / "output" / "failure"
    failure = failure_file.read_text() if failure_file.exists() else None
    artifact = None
    if exit_code == 0 and not stopped and (base / "model").iterdir():
        artifact = job_dir / "output" / "model.tar.gz"
        artifact.parent.mkdir(exist_ok=True)
        with tarfile.open(artifact, "w:gz") as tar:
            for item in sorted((base / "model").iterdir()):
                tar.add(item, arcname=item.name)
    return TrainingResult(exit_code, stopped, "".join(lines), artifact, failure)
