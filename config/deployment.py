"""An endpoint's deployment guardrails and the alarms that watch it, and their rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from config.types import Problem, StageFacts, StrictModel

Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")]


class DeploymentConfig(StrictModel):
    """Deployment guardrails: blue/green updates with traffic shifting, bake time and alarm rollback."""

    traffic_shifting: Literal["all_at_once", "canary", "linear"] = Field(
        default="canary",
        description="How traffic moves to the new fleet. The default is `all_at_once` for Marketplace models and "
        "Inferentia 1 (ml.inf1) instances, which SageMaker cannot shift gradually.",
    )
    canary_percent: int = Field(default=10, ge=1, le=50, description="canary: share of capacity shifted first.")
    linear_step_percent: int = Field(default=20, ge=5, le=50, description="linear: share shifted per step.")
    wait_minutes: int = Field(default=5, ge=0, le=60, description="canary/linear: watch the alarms between steps.")
    bake_minutes: int = Field(
        default=10, ge=0, le=60, description="Watch the alarms after all traffic moved, before the old fleet goes."
    )
    max_minutes: int = Field(default=60, ge=10, le=240, description="Give up (and roll back) after this long.")

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        shifting, wait, bake, limit = self.traffic_shifting, self.wait_minutes, self.bake_minutes, self.max_minutes
        # SageMaker pauses between shifts: never all at once, once after a canary, after each linear step but the last.
        waits = {"all_at_once": 0, "canary": 1}.get(shifting, -(-100 // self.linear_step_percent) - 1)
        if wait * waits + bake >= limit:
            yield (
                "max_minutes",
                f"{limit} leaves no time to deploy: {shifting} waits {waits} x {wait} min between steps and bakes "
                f"{bake} min; raise max_minutes above {wait * waits + bake}",
            )


class AlarmsConfig(StrictModel):
    """Thresholds of the endpoint's alarms (5XX and latency also roll deployments back)."""

    errors_5xx: int = Field(default=5, ge=1, description="Invocation 5XX errors per minute.")
    errors_4xx_percent: float = Field(default=10, gt=0, le=100, description="Invocation 4XX errors, % of requests.")
    latency_p99_ms: int = Field(default=500, ge=1, description="p99 model latency (ms).")
    cpu_percent: int = Field(default=80, ge=1, le=100, description="CPU utilization, % of all cores of an instance.")
    memory_percent: int = Field(default=85, ge=1, le=100, description="Memory utilization %.")
    disk_percent: int = Field(default=85, ge=1, le=100, description="Disk utilization %.")
    evaluation_minutes: int = Field(default=3, ge=1, le=60, description="Minutes above threshold before alarming.")
    notify_emails: tuple[Email, ...] = Field(default=(), description="E-mail addresses subscribed to the alarm topic.")
