"""A training pipeline's tuning step: ranges, strategy, objective, limits, warm start, and their rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from config.types import Problem, StageFacts, StrictModel
from model_code.contract import METRICS, OBJECTIVE


class RangeConfig(StrictModel):
    """A hyperparameter range of a tuning job."""

    type: Literal["continuous", "integer", "categorical"] = Field(
        description="`continuous`, `integer` or `categorical`."
    )
    min: float | None = Field(default=None, description="Lowest value (continuous, integer).")
    max: float | None = Field(default=None, description="Highest value (continuous, integer).")
    scaling: Literal["Auto", "Linear", "Logarithmic", "ReverseLogarithmic"] = Field(
        default="Auto", description="How the search scales the range (continuous, integer)."
    )
    values: tuple[str, ...] = Field(default=(), max_length=30, description="The choices (categorical), 1-30.")

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        if self.type == "categorical":
            if not self.values:
                yield "values", "a categorical range needs at least one value"
            if self.min is not None or self.max is not None or self.scaling != "Auto":
                yield "", "a categorical range takes values only (no min, max or scaling)"
            return
        if self.values:
            yield "values", f"{_article(self.type)} {self.type} range takes min and max, not values"
        if self.min is None or self.max is None:
            yield "", f"{_article(self.type)} {self.type} range needs min and max"
            return
        if self.min > self.max:
            yield "", f"min {self.min} > max {self.max}"
        if self.scaling == "Logarithmic" and self.min <= 0:
            yield "scaling", f"Logarithmic scaling needs min > 0 (got min {self.min}): the range reaches zero"
        if self.scaling == "ReverseLogarithmic" and self.type == "integer":
            yield "scaling", "ReverseLogarithmic scaling needs a range within 0 <= x < 1: continuous ranges only"
        elif self.scaling == "ReverseLogarithmic" and not (0 <= self.min and self.max < 1):
            yield "scaling", f"ReverseLogarithmic scaling needs 0 <= min and max < 1 (got {self.min}..{self.max})"


class WarmStartConfig(StrictModel):
    """Start a tuning job from what earlier tuning jobs learned."""

    parents: tuple[Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9](-*[A-Za-z0-9]){0,31}$")], ...] = Field(
        min_length=1, max_length=5, description="Names of 1-5 completed tuning jobs."
    )
    type: Literal["IdenticalDataAndAlgorithm", "TransferLearning"] = Field(
        default="TransferLearning", description="`IdenticalDataAndAlgorithm` or `TransferLearning`."
    )


class TuningConfig(StrictModel):
    """A hyperparameter tuning step after the training step; the best job's model is evaluated."""

    strategy: Literal["Bayesian", "Random", "Hyperband", "Grid"] = Field(
        default="Bayesian", description="Search strategy."
    )
    objective: str = Field(
        default=OBJECTIVE.name,
        description="Metric to optimize. Script mode and containers: one of model_code's metric definitions; "
        "built-in and Marketplace algorithms: one of the algorithm's metrics.",
    )
    maximize: bool | None = Field(
        default=None,
        description="true: maximize the objective; false: minimize it. Default for model_code's metrics: "
        "their own direction (required for other objectives).",
    )
    max_jobs: int = Field(default=10, ge=1, le=500, description="Training jobs in all.")
    max_parallel_jobs: int = Field(default=2, ge=1, le=100, description="Training jobs at once, at most max_jobs.")
    early_stopping: bool = Field(
        default=True, description="Stop unpromising jobs (Bayesian, Random; Hyperband stops them by itself)."
    )
    ranges: dict[Annotated[str, StringConstraints(min_length=1, max_length=256)], RangeConfig] | None = Field(
        default=None,
        description="Hyperparameter ranges; default for `model_code/train.py`: model_code's tunable ranges.",
    )
    warm_start: WarmStartConfig | None = Field(default=None, description="Start from earlier tuning jobs.")

    @property
    def maximized(self) -> bool:
        """Whether the objective is maximized (model_code's metrics know their direction)."""
        if self.maximize is not None:
            return self.maximize
        return next((m.maximize for m in METRICS if m.name == self.objective), True)

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        if self.max_parallel_jobs > self.max_jobs:
            yield (
                "max_parallel_jobs",
                f"{self.max_parallel_jobs} > max_jobs {self.max_jobs}; no more jobs can run at once than run in all",
            )
        if self.strategy == "Hyperband" and self.early_stopping:
            yield "early_stopping", "Hyperband stops unpromising jobs itself; set early_stopping: false"
        if self.strategy == "Grid" and self.early_stopping:
            yield "early_stopping", "Grid search runs every combination; set early_stopping: false"


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"
