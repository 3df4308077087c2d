"""An endpoint's `monitoring` entry: the platform's own scheduled drift check of the traffic the endpoint
captures, optionally model quality against delivered ground truth, and the opt-in for accounts that
still have SageMaker Model Monitor."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field

from config.algorithms import JobInstanceType
from config.pipelines import SCHEDULE
from config.types import Problem, StageFacts, StrictModel, value_rule

S3_URI = re.compile(r"^s3://([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])/([^\s*?]+)$")  # no wildcards: IAM resources
GROUND_TRUTH_PREFIX = "ground-truth/"  # of the artifacts bucket; teams write it, the monitor reads it
# It also becomes part of the check's command line and IAM resources: plain folder names only.
GROUND_TRUTH = re.compile(r"^ground-truth/([a-z0-9][a-z0-9._-]*/)+$")
# Metrics per problem type, each with the direction that is good: a threshold is a floor for the
# scores and a ceiling for the errors. The names are those of model_code/monitor.py's model quality.
QUALITY_METRICS: dict[str, dict[str, Literal["floor", "ceiling"]]] = {
    "BinaryClassification": {
        "accuracy": "floor",
        "precision": "floor",
        "recall": "floor",
        "f1": "floor",
        "auc": "floor",
    },
    "MulticlassClassification": {
        "accuracy": "floor",
        "weighted_precision": "floor",
        "weighted_recall": "floor",
        "weighted_f1": "floor",
    },
    "Regression": {"mae": "ceiling", "mse": "ceiling", "rmse": "ceiling", "r2": "floor"},
}
# Model Monitor's schedules take cron expressions only (hourly or daily).
MODEL_MONITOR_SCHEDULES = {"rate(1 hour)": "cron(0 * ? * * *)", "rate(1 day)": "cron(0 0 ? * * *)"}
HOURS = {"minute": 1 / 60, "minutes": 1 / 60, "hour": 1, "hours": 1, "day": 24, "days": 24}

Schedule = Annotated[
    str,
    value_rule(
        lambda expression: (
            None
            if SCHEDULE.fullmatch(expression)
            else f"{expression!r} is not a schedule expression EventBridge accepts: cron(<6 fields>) or "
            "rate(<n> <unit>), e.g. rate(1 hour), rate(6 hours), cron(0 2 * * ? *)"
        )
    ),
]
ARTIFACTS_KEY = re.compile(r"^(?!/)(?!.*\.\.)[\w!\-.'()/]+\.json$")
BaselineFile = Annotated[
    str,
    value_rule(
        lambda where: (
            None
            if (S3_URI.fullmatch(where) or ARTIFACTS_KEY.fullmatch(where)) and where.endswith(".json")
            else f"{where!r} is neither the S3 URI of a JSON file (s3://<bucket>/<key>.json) nor a key of the "
            "artifacts bucket (<key>.json, no '..')"
        )
    ),
]


class BaselineConfig(StrictModel):
    """A baseline in Model Monitor's formats (e.g. one a training pipeline published, or one Model
    Monitor computed), in one of the stage's buckets: each file an S3 URI, or a key of the artifacts
    bucket (whose generated name the stage file cannot know before the first deploy)."""

    statistics: BaselineFile = Field(description="The baseline's `statistics.json`: S3 URI or artifacts key.")
    constraints: BaselineFile = Field(description="The baseline's `constraints.json`: S3 URI or artifacts key.")

    def uris(self, artifacts_bucket: str) -> tuple[str, str]:
        """(statistics, constraints) as S3 URIs, keys resolved against `artifacts_bucket` (a name or token)."""
        return tuple(  # type: ignore[return-value]
            where if where.startswith("s3://") else f"s3://{artifacts_bucket}/{where}"
            for where in (self.statistics, self.constraints)
        )

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        names = stage.names
        if names is None:
            return
        # CloudFormation names the data stack's buckets `<stack name>-<logical id>-<suffix>`.
        own = f"{names.stack('Data')}-"
        for field in ("statistics", "constraints"):
            match = S3_URI.fullmatch(getattr(self, field))
            if match and not match.group(1).startswith(own):
                yield (
                    field,
                    f"bucket {match.group(1)!r} is not one of the platform's buckets of this stage (their names "
                    f"start with {own!r}); copy the baseline into the artifacts bucket",
                )


class ModelQualityConfig(StrictModel):
    """Model quality: the monitor joins the captured predictions with the ground truth that the team
    delivers (Model Monitor's ground-truth JSON lines, by the captured event's `eventId`) under
    `s3://<artifacts bucket>/<ground_truth_prefix>yyyy/mm/dd/hh/`, and publishes the metrics."""

    problem_type: Literal["BinaryClassification", "MulticlassClassification", "Regression"] = Field(
        description="What the model predicts; decides the metrics."
    )
    ground_truth_prefix: str = Field(
        description=f"Prefix of the artifacts bucket where the team delivers ground truth, under "
        f"`{GROUND_TRUTH_PREFIX}`, ending with `/`, e.g. `{GROUND_TRUTH_PREFIX}sample/`."
    )
    thresholds: dict[str, float] = Field(
        min_length=1,
        description="Alarm thresholds by metric: a floor for scores (accuracy, precision, recall, f1, auc, "
        "weighted_precision, weighted_recall, weighted_f1, r2), a ceiling for errors (mae, mse, rmse).",
    )

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        prefix = self.ground_truth_prefix
        if not GROUND_TRUTH.fullmatch(prefix):
            yield (
                "ground_truth_prefix",
                f"{prefix!r} is refused: folders under {GROUND_TRUTH_PREFIX!r} of lowercase letters, digits, '.', "
                "'_' and '-', ending with '/'",
            )
        known = QUALITY_METRICS[self.problem_type]
        for metric in self.thresholds:
            if metric not in known:
                yield (
                    f"thresholds.{metric}",
                    f"{metric!r} is not a {self.problem_type} metric; allowed: {', '.join(known)}",
                )


class MonitoringConfig(StrictModel):
    """The endpoint's drift monitoring: on `schedule`, a SageMaker Pipeline of the platform runs
    model_code/monitor.py on the traffic captured in the last `window_hours` (skipped when there is
    none) against the baseline, writes Model Monitor's report files, and its counts become CloudWatch
    metrics with alarms into the endpoint's alarm topic. The endpoint needs `data_capture`."""

    schedule: Schedule = Field(default="rate(1 hour)", description="EventBridge schedule of the check.")
    window_hours: int | None = Field(
        default=None,
        ge=1,
        le=24 * 7,
        description="Hours of captured traffic each check reads (whole UTC hours before the run); default: "
        "the schedule's rate in hours (required with cron).",
    )
    instance_type: JobInstanceType = Field(default="ml.m5.large", description="Instance type of the check.")
    max_runtime_minutes: int = Field(default=60, ge=1, le=24 * 60, description="Stop the check after this.")
    baseline: BaselineConfig | None = Field(
        default=None,
        description="The baseline; default: the one a training pipeline published with the model package the "
        "endpoint serves (`latest-approved` or a package ARN).",
    )
    model_quality: ModelQualityConfig | None = Field(default=None, description="Model quality; off when omitted.")
    model_monitor: bool = Field(
        default=False,
        description="Declare SageMaker Model Monitor's own schedule (DataQualityJobDefinition + MonitoringSchedule) "
        "instead of the platform's check. Only for accounts that already use Model Monitor (closed to new "
        "customers); needs an explicit `baseline`.",
    )

    @property
    def window(self) -> int:
        """Hours each check reads."""
        if self.window_hours is not None:
            return self.window_hours
        match = re.fullmatch(r"rate\((\d+) (\w+)\)", self.schedule)
        return max(1, round(int(match.group(1)) * HOURS[match.group(2)])) if match else 1

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        if self.schedule.startswith("cron(") and self.window_hours is None:
            yield "window_hours", "a cron schedule has no period: give window_hours (the hours each check reads)"
        if self.model_monitor and self.baseline is None:
            yield (
                "baseline",
                "model_monitor: true needs an explicit baseline (Model Monitor's schedule reads fixed S3 URIs)",
            )
        hourly_or_daily = self.schedule in MODEL_MONITOR_SCHEDULES or self.schedule.startswith("cron(")
        if self.model_monitor and not hourly_or_daily:
            yield (
                "schedule",
                f"{self.schedule!r}: Model Monitor runs hourly or daily: rate(1 hour), rate(1 day) or cron(...)",
            )
        if self.model_monitor and self.model_quality is not None:
            yield "model_quality", "with model_monitor: true, model quality is Model Monitor's: remove model_quality"
