"""Local tuning over the shared ranges, and the lifecycle command line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model_code.contract import HYPERPARAMETERS, OBJECTIVE
from model_code.lifecycle import main, parser
from model_code.tuning import sample, table, tune

pytestmark = pytest.mark.integration


def test_sampled_values_stay_inside_the_shared_ranges() -> None:
    import numpy as np

    rng = np.random.default_rng(1)
    for hp in HYPERPARAMETERS:
        values = [sample(hp, rng) for _ in range(200)]
        assert min(values) >= hp.min and max(values) <= hp.max
        assert all(hp.parse(v) == v for v in values)  # the entry point accepts every sample


def test_parallel_trials_rank_by_the_objective_parsed_from_their_output(channels: Path, tmp_path: Path) -> None:
    trials = tune(channels, tmp_path, trials=4, parallel=2, seed=3, static={"num_round": 60})
    assert sorted(t.number for t in trials) == [1, 2, 3, 4]
    done = [t for t in trials if t.status == "Completed"]
    assert done and all(t.objective is not None for t in done)
    objectives = [t.objective for t in done]
    assert objectives == sorted(objectives, reverse=OBJECTIVE.maximize)
    assert all(len(t.curve) >= 1 for t in trials)
    lines = table(trials).splitlines()
    assert lines[0].split()[:4] == ["rank", "trial", "status", OBJECTIVE.name] and len(lines) == 5


def test_cli_runs_split_train_tune_and_writes_a_plot(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "--out", str(tmp_path / "raw.csv")]) == 0
    assert main(["split", "--input", str(tmp_path / "raw.csv"), "--out", str(tmp_path / "ch"), "--stratify"]) == 0
    assert (
        main(
            [
                "tune",
                "--data",
                str(tmp_path / "ch"),
                "--work",
                str(tmp_path / "tune"),
                "--trials",
                "2",
                "--hp",
                "num_round=30",
            ]
        )
        == 0
    )
    assert (tmp_path / "tune" / "trials.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    best = json.loads((tmp_path / "tune" / "best.json").read_text())
    assert set(best) >= {h.name for h in HYPERPARAMETERS if h.tunable}
    assert "best: trial" in capsys.readouterr().out


def test_cli_reports_bad_input_without_a_traceback(tmp_path: Path) -> None:
    (tmp_path / "raw.csv").write_text("a,b\n1,2\n")
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "model_code.lifecycle",
            "split",
            "--input",
            str(tmp_path / "raw.csv"),
            "--out",
            str(tmp_path / "o"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2
    assert "split failed: raw.csv: label column 'label' is not in the header ['a', 'b']" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("command", ["data", "split", "train", "tune", "serve", "invoke"])
def test_every_subcommand_has_help(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as done:
        parser().parse_args([command, "--help"])
    assert done.value.code == 0
    assert f"usage: python -m model_code.lifecycle {command}" in capsys.readouterr().out
