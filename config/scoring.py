"""The `scoring` section: scheduled scoring pipelines that score a prefix with the registry's latest approved
model package (a batch transform), one per entry, and their rules."""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field

from config.pipelines import SCHEDULE
from config.transform import TransformConfig
from config.types import Problem, ShortName, StageFacts, StrictModel

# `<pipeline>-schedule`, the name of its rule (EventBridge: at most 64 characters).
RULE_SUFFIX = "schedule"


class ScoringConfig(StrictModel):
    """A SageMaker Pipeline `<project>-<stage>-<name>` that scores `transform.input_prefix` with the latest
    approved package of the stage's registry, started on a schedule."""

    name: ShortName = Field(description="Lowercase name; the pipeline is `<project>-<stage>-<name>` (create-only).")
    schedule: str = Field(description="EventBridge schedule, e.g. `cron(0 2 * * ? *)`, `rate(1 day)`.")
    transform: TransformConfig = Field(description="What to score and how (see `pipelines[].transform`).")

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        if not SCHEDULE.fullmatch(self.schedule):
            yield "schedule", f"{self.schedule!r} is not a schedule expression: cron(<6 fields>) or rate(<n> <unit>)"
        names = stage.names
        if names is not None and len(names.physical(self.name)) + len(f"-{RULE_SUFFIX}") > 64:
            yield (
                "name",
                f"{names.physical(self.name)!r} is too long for its schedule rule (`<pipeline>-{RULE_SUFFIX}`, at "
                "most 64 characters): shorten the name",
            )
