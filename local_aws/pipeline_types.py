"""The types shared by the local pipeline executor and its step runners (issue 13's contract)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol


class DefinitionError(ValueError):
    """Bad input found before any step runs; the message names the step and the expression."""


class NotRunLocally(Exception):
    """A step this machine cannot run; str(exc) is the reason, e.g. "needs image 1234...ecr.../linear-learner:1"."""


@dataclass
class StepResult:
    properties: dict[str, Any]  # what `Steps.<name>.<path>` reads
    property_files: dict[str, Any] = field(default_factory=dict)  # PropertyFileName -> parsed JSON
    produced: str = ""  # one line for the final table, e.g. "s3://.../model.tar.gz"


@dataclass(frozen=True)
class StepContext:
    execution_id: str  # e.g. "local-3f2a9c1b"
    pipeline_name: str
    workdir: Path  # a fresh folder for this step only
    log: Callable[[str], None]  # progress lines of the step (thread-safe)


class StepRunner(Protocol):
    def __call__(self, step: dict[str, Any], context: StepContext) -> StepResult:
        """Run `step` (its Arguments' expressions already evaluated) and return what it produced."""
        ...
