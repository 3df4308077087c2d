"""Application Auto Scaling of an endpoint variant's instance count, and its rules."""

from __future__ import annotations

import re
import zoneinfo
from collections.abc import Iterator

from pydantic import Field

from config.types import Problem, ShortName, StageFacts, StrictModel

# Why sandbox: false stages refuse single-instance capacity (SageMaker spreads a variant's instances over
# the AZs of its subnets).
MULTI_AZ = (
    "sandbox: false stages need at least 2 instances per variant, so that SageMaker spreads them over "
    "the Availability Zones of the platform's subnets and an AZ outage leaves the endpoint up"
)


def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _range_problems(low: int, high: int, stage: StageFacts) -> Iterator[Problem]:
    """A capacity range (of a variant, or of a scheduled change) is ordered and multi-AZ outside sandboxes."""
    if low > high:
        yield "", f"min_capacity {low} > max_capacity {high}"
    if stage.sandbox is False and low < 2:
        yield "min_capacity", f"{low} is refused: {MULTI_AZ}"


class ScheduledCapacity(StrictModel):
    """A scheduled change of the capacity range (e.g. more instances in business hours)."""

    name: ShortName = Field(description="Name of the scheduled action.")
    schedule: str = Field(
        description="`cron(...)`, `rate(...)` or `at(...)` expression, e.g. `cron(0 7 ? * MON-FRI *)`."
    )
    timezone: str = Field(default="UTC", description="IANA time zone of the schedule, e.g. Europe/Paris.")
    min_capacity: int = Field(ge=1, le=1000, description="Minimum instances from this time on.")
    max_capacity: int = Field(ge=1, le=1000, description="Maximum instances from this time on.")

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        yield from _range_problems(self.min_capacity, self.max_capacity, stage)
        if not _is_time_zone(self.timezone):
            yield "timezone", f"{self.timezone!r} is not an IANA time zone, e.g. UTC, Europe/Paris"
        if not re.fullmatch(r"(cron|rate|at)\(.+\)", self.schedule):
            yield (
                "schedule",
                f"{self.schedule!r} is not a schedule expression; "
                "use cron(...), rate(...) or at(...), e.g. cron(0 7 ? * MON-FRI *)",
            )


class AutoscalingConfig(StrictModel):
    """Application Auto Scaling of a variant's instance count."""

    min_capacity: int = Field(ge=1, le=1000, description="Fewest instances.")
    max_capacity: int = Field(ge=1, le=1000, description="Most instances.")
    target_invocations_per_instance: int | None = Field(
        default=None,
        ge=1,
        description="Target of SageMakerVariantInvocationsPerInstance (invocations per instance per minute). "
        "Give this or `max_rps_per_instance`.",
    )
    max_rps_per_instance: float | None = Field(
        default=None,
        gt=0,
        description="Measured sustainable requests/s of one instance (e.g. with `make bench-serving`): the target "
        "becomes max_rps x 60 x `safety_factor`.",
    )
    safety_factor: float = Field(default=0.5, gt=0, le=1, description="Share of the measured maximum to aim for.")
    cpu_target_percent: int | None = Field(
        default=None, ge=1, le=100, description="Optional second target: average CPU utilization of the variant."
    )
    scale_in_cooldown_seconds: int = Field(default=300, ge=0, le=3600, description="Wait after a scale-in.")
    scale_out_cooldown_seconds: int = Field(default=60, ge=0, le=3600, description="Wait after a scale-out.")
    scheduled: tuple[ScheduledCapacity, ...] = Field(default=(), description="Scheduled capacity changes.")

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        yield from _range_problems(self.min_capacity, self.max_capacity, stage)
        targets = [
            name
            for name in ("target_invocations_per_instance", "max_rps_per_instance")
            if getattr(self, name) is not None
        ]
        if len(targets) != 1:
            yield (
                "",
                "give exactly one of target_invocations_per_instance or max_rps_per_instance "
                f"(got {targets or 'neither'})",
            )
