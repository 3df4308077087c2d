"""Local hyperparameter tuning: the shared ranges, parallel trials, median early stopping.

Each trial is a real training job (model_code.local_training), its objective read from its output
by the same metric regexes the SageMaker tuning job uses. A trial whose objective at some round is
worse than the median of earlier trials at that round is stopped, as SageMaker's automatic early
stopping does.
"""

from __future__ import annotations

import math
import os
import re
import statistics
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from model_code.contract import HYPERPARAMETERS, OBJECTIVE, Hyperparameter
from model_code.local_training import run_training_job

ROUND = re.compile(r"^\[(\d+)\] ")
MIN_ROUNDS_BEFORE_STOPPING = 10


@dataclass
class Trial:
    number: int
    hyperparameters: dict[str, object]
    status: str = "pending"  # Completed, Stopped, Failed
    objective: float | None = None
    curve: list[float] = field(default_factory=list)  # objective per round
    failure: str | None = None


def sample(hp: Hyperparameter, rng: np.random.Generator) -> float | int:
    if hp.scaling == "Logarithmic":
        value = math.exp(rng.uniform(math.log(hp.min), math.log(hp.max)))
    else:
        value = rng.uniform(hp.min, hp.max)
    return round(value) if hp.kind == "integer" else round(value, 5)


def worse_than_median(curve: list[float], completed: list[list[float]], *, maximize: bool) -> bool:
    """Whether a trial should stop, as SageMaker's automatic early stopping decides: its best objective
    so far is worse than the median of the completed trials' objectives at the same round (from
    MIN_ROUNDS_BEFORE_STOPPING rounds on, and once 3 trials have completed)."""
    at = len(curve) - 1
    if at < MIN_ROUNDS_BEFORE_STOPPING:
        return False
    earlier = [c[min(at, len(c) - 1)] for c in completed if c]
    if len(earlier) < 3:
        return False
    sign = 1.0 if maximize else -1.0
    return sign * max(sign * v for v in curve) < sign * statistics.median(earlier)


def tune(
    data_dir: Path,
    work_dir: Path,
    *,
    trials: int,
    parallel: int | None = None,
    seed: int = 0,
    static: Mapping[str, object] | None = None,
    on_trial_done: Callable[[Trial], object] | None = None,
) -> list[Trial]:
    """Run `trials` random-search trials, `parallel` at a time (default: one per core)."""
    parallel = parallel or os.cpu_count() or 1
    threads = max(1, (os.cpu_count() or 1) // parallel)
    rng = np.random.default_rng(seed)
    tunable = [h for h in HYPERPARAMETERS if h.tunable]
    plan = [Trial(n, {**(static or {}), **{h.name: sample(h, rng) for h in tunable}}) for n in range(1, trials + 1)]
    finished: list[Trial] = []
    lock = threading.Lock()
    objective_pattern = re.compile(OBJECTIVE.regex)

    def should_stop(trial: Trial, line: str) -> bool:
        round_match, value_match = ROUND.match(line), objective_pattern.search(line)
        if not (round_match and value_match):
            return False
        trial.curve.append(float(value_match.group(1)))
        with lock:
            completed = [t.curve for t in finished if t.status == "Completed"]
        return worse_than_median(trial.curve, completed, maximize=OBJECTIVE.maximize)

    def run(trial: Trial) -> Trial:
        result = run_training_job(
            work_dir / f"trial-{trial.number:03d}",
            data_dir,
            dict(trial.hyperparameters),
            threads=threads,
            on_line=lambda line: should_stop(trial, line),
        )
        if result.stopped:
            trial.status = "Stopped"
        elif result.exit_code != 0:
            trial.status, trial.failure = "Failed", (result.failure or result.log[-500:]).strip()
        else:
            trial.status = "Completed"
            trial.objective = result.final_metrics.get(OBJECTIVE.name)
        with lock:
            finished.append(trial)
        if on_trial_done:
            on_trial_done(trial)
        return trial

    with ThreadPoolExecutor(max_workers=parallel) as pool:
        list(pool.map(run, plan))
    return ranked(plan)


def ranked(trials: list[Trial]) -> list[Trial]:
    sign = -1.0 if OBJECTIVE.maximize else 1.0
    done = sorted((t for t in trials if t.objective is not None), key=lambda t: (sign * (t.objective or 0), t.number))
    return done + [t for t in trials if t.objective is None]


def table(trials: list[Trial]) -> str:
    names = [h.name for h in HYPERPARAMETERS if h.tunable]
    header = ["rank", "trial", "status", OBJECTIVE.name, *names]
    rows = [
        [str(i), str(t.number), t.status, f"{t.objective:.6f}" if t.objective is not None else "-"]
        + [str(t.hyperparameters[n]) for n in names]
        for i, t in enumerate(trials, start=1)
    ]
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
    return "\n".join("  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)) for r in [header, *rows])


def plot(trials: list[Trial], path: Path) -> None:
    """A PNG: the objective per round of every trial, and the final objective per trial."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, (curves, finals) = plt.subplots(1, 2, figsize=(11, 4))
    for trial in sorted(trials, key=lambda t: t.number):
        style = "-" if trial.status == "Completed" else ":"
        curves.plot(trial.curve, style, linewidth=1, label=f"#{trial.number} {trial.status}")
    curves.set(title=f"{OBJECTIVE.name} per round", xlabel="round", ylabel=OBJECTIVE.name)
    done = [t for t in trials if t.objective is not None]
    finals.bar([str(t.number) for t in done], [t.objective or 0 for t in done], color="tab:blue")
    if done:
        low = min(t.objective or 0 for t in done)
        finals.set_ylim(max(0.0, low - 0.02), 1.0 if OBJECTIVE.maximize else None)
    finals.set(title=f"final {OBJECTIVE.name} (completed trials)", xlabel="trial", ylabel=OBJECTIVE.name)
    curves.legend(fontsize=6, ncol=2)
    figure.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=100)
    plt.close(figure)
