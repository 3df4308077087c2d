"""The `pipelines` section: SageMaker Pipelines (split -> train -> tune -> evaluate -> register -> transform),
one per entry, with their algorithm source, resources, tuning, evaluation, transform and triggers, and their
rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from config.algorithms import (
    SAMPLE_ENTRY_POINT,
    AlgorithmConfig,
    ContainerAlgorithm,
    EntryPoint,
    HyperparameterValue,
    JobInstanceType,
    MarketplaceAlgorithm,
    PyVersion,
    ScriptAlgorithm,
    Version,
    declared_hyperparameters,
    image_problems,
)
from config.model_sources import ImageReference
from config.transform import TransformConfig, prefix_problems
from config.tuning import RangeConfig, TuningConfig
from config.types import Problem, ShortName, StageFacts, StrictModel
from model_code.contract import EVALUATION_METRICS_BY_NAME, HYPERPARAMETERS, METRICS, RAW_PREFIX, Hyperparameter

# Script-mode sources whose entry points here train on one instance only (no distributed backend).
SINGLE_INSTANCE_FRAMEWORKS = ("sklearn", "xgboost", "chainer")
# EventBridge schedule expressions: cron with six fields, or rate(1 unit) / rate(N units), N >= 1.
SCHEDULE = re.compile(r"^(cron\((\S+ ){5}\S+\)|rate\((1 (minute|hour|day)|([2-9]|[1-9]\d+) (minutes|hours|days))\))$")
DEFAULT_EVALUATION = "model_code/evaluate.py"
DEFAULT_EVALUATION_IMAGE = ("xgboost", "3.0-5", None)  # numpy, scikit-learn and XGBoost, Python 3
MAX_RUNTIME_MINUTES = 28 * 24 * 60  # SageMaker's limit for a training job


class ResourcesConfig(StrictModel):
    """The instances of each training job: started for the job, stopped when it ends."""

    instance_type: JobInstanceType = Field(default="ml.m5.xlarge", description="Training instance type.")
    instance_count: int = Field(
        default=1, ge=1, le=100, description="Instances; more than one shards the train channel (ShardedByS3Key)."
    )
    volume_size_gb: int = Field(default=30, ge=1, le=16384, description="Encrypted volume per instance, GB.")
    max_runtime_minutes: int = Field(default=60, ge=1, le=MAX_RUNTIME_MINUTES, description="Stop the job after this.")
    spot: bool = Field(default=True, description="Managed spot training (checkpoints in the artifacts bucket).")
    max_wait_minutes: int | None = Field(
        default=None,
        ge=1,
        le=MAX_RUNTIME_MINUTES,
        description="Spot only: give up waiting for capacity after this (at least `max_runtime_minutes`; "
        "default twice it).",
    )

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        wait = self.max_wait_minutes
        if wait is not None and not self.spot:
            yield "max_wait_minutes", "applies to spot training only (spot: false)"
        if wait is not None and wait < self.max_runtime_minutes:
            yield (
                "max_wait_minutes",
                f"{wait} < max_runtime_minutes {self.max_runtime_minutes}; "
                "a spot job waits at least as long as it runs",
            )

    @property
    def max_wait(self) -> int | None:
        return (self.max_wait_minutes or min(2 * self.max_runtime_minutes, MAX_RUNTIME_MINUTES)) if self.spot else None


class SplitConfig(StrictModel):
    """The split of raw data into the train / validation / test channels, each its own S3 location."""

    engine: Literal["python", "spark"] = Field(
        default="python",
        description="`python`: model_code/split.py (streams on one instance); `spark`: model_code/spark/split.py on "
        "SageMaker's Spark image, for data beyond one instance.",
    )
    instance_type: JobInstanceType = Field(default="ml.m5.large", description="Processing instance type.")
    instance_count: int = Field(default=1, ge=1, le=100, description="Instances (spark: the cluster size).")
    fractions: tuple[float, float, float] = Field(default=(0.7, 0.15, 0.15), description="train, validation, test.")
    seed: int = Field(default=42, ge=0, description="The split is deterministic for a seed.")

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        if any(f < 0 for f in self.fractions) or abs(sum(self.fractions) - 1) > 1e-9:
            yield "fractions", f"{list(self.fractions)} must be non-negative and sum to 1"


class EvaluationConfig(StrictModel):
    """The evaluation on the test channel and the quality bar a model must pass to be registered."""

    script: EntryPoint = Field(
        default=DEFAULT_EVALUATION,
        description="Writes `evaluation.json`. The default loads the sample's and built-in XGBoost's models, and "
        "script-mode models through their entry point's `model_fn` and `predict_proba`.",
    )
    framework: Literal["xgboost", "sklearn", "pytorch", "tensorflow", "mxnet", "chainer"] | None = Field(
        default=None,
        description="The AWS framework image the script runs in; default: script mode's own framework image, "
        "else xgboost 3.0-5.",
    )
    version: Version | None = Field(default=None, description="Its version (with `framework`).")
    python: PyVersion | None = Field(default=None, description="Its Python, where the image has several.")
    instance_type: JobInstanceType = Field(default="ml.m5.large", description="Processing instance type.")
    metric: str = Field(
        default="auc", description=f"The metric of `evaluation.json` checked: {sorted(EVALUATION_METRICS_BY_NAME)}."
    )
    threshold: float = Field(description="Register only when the metric is at least this (at most, for a loss).")

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        if self.metric not in EVALUATION_METRICS_BY_NAME:
            yield (
                "metric",
                f"{self.metric!r} is not written to evaluation.json; one of {sorted(EVALUATION_METRICS_BY_NAME)}",
            )
        if (self.framework is None) != (self.version is None):
            yield "", "give framework and version together (or neither, for the default image)"
        elif self.framework is not None and self.version is not None:
            yield from image_problems("version", self.framework, self.version, self.python, stage, scope="processing")


class TriggersConfig(StrictModel):
    """What starts the pipeline besides a person."""

    schedule: str | None = Field(
        default=None, description="EventBridge schedule, e.g. `cron(0 3 ? * MON *)`, `rate(1 day)`."
    )
    on_new_data: bool = Field(default=False, description="Start when an object lands under the entry's `input_prefix`.")

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        if self.schedule is not None and not SCHEDULE.fullmatch(self.schedule):
            yield "schedule", f"{self.schedule!r} is not a schedule expression: cron(<6 fields>) or rate(<n> <unit>)"


class PipelineConfig(StrictModel):
    """A SageMaker Pipeline `<project>-<stage>-<name>`: split -> train -> tune -> evaluate -> register."""

    name: ShortName = Field(description="Lowercase name; the pipeline is `<project>-<stage>-<name>` (create-only).")
    input_prefix: str | None = Field(default=None, description="Raw data under `raw/`; default `raw/<name>/`.")
    split: SplitConfig = Field(default_factory=SplitConfig, description="The split into channels.")
    algorithm: AlgorithmConfig = Field(description="Where the training image and code come from.")
    hyperparameters: dict[str, HyperparameterValue] = Field(default_factory=dict, description="Static hyperparameters.")
    resources: ResourcesConfig = Field(default_factory=ResourcesConfig, description="Training job resources.")
    tuning: TuningConfig | None = Field(default=None, description="Optional tuning step.")
    evaluation: EvaluationConfig = Field(description="Evaluation and the registration threshold.")
    serving_image: ImageReference | None = Field(
        default=None,
        description="The image the registered model serves with; default: AWS's inference image of the framework "
        "or algorithm, or the training image for your own container (run as `serve`).",
    )
    inference_instance_types: tuple[JobInstanceType, ...] = Field(
        default=("ml.m5.large",), min_length=1, description="Instance types the registered model may serve on."
    )
    triggers: TriggersConfig = Field(default_factory=TriggersConfig, description="Schedule and new-data start.")
    transform: TransformConfig | None = Field(
        default=None,
        description="Optional last step: a batch transform of `transform.input_prefix` with the registered model.",
    )

    @property
    def evaluation_image(self) -> tuple[str, str, str | None]:
        """The framework image (name, version, Python) the evaluation runs in."""
        evaluation, algorithm = self.evaluation, self.algorithm
        if evaluation.framework is not None and evaluation.version is not None:
            return evaluation.framework, evaluation.version, evaluation.python
        if isinstance(algorithm, ScriptAlgorithm):
            return algorithm.framework, algorithm.version, algorithm.python
        return DEFAULT_EVALUATION_IMAGE

    @property
    def evaluation_arguments(self) -> list[str]:
        """The default evaluation loads a script-mode model through its entry point (the sample's it knows)."""
        algorithm = self.algorithm
        if self.evaluation.script != DEFAULT_EVALUATION or not isinstance(algorithm, ScriptAlgorithm):
            return []
        return [] if algorithm.entry_point == SAMPLE_ENTRY_POINT else ["--entry-point", algorithm.entry_point]

    @property
    def raw_prefix(self) -> str:
        return self.input_prefix or f"{RAW_PREFIX}/{self.name}/"

    @property
    def uses_model_code_metrics(self) -> bool:
        """Script mode and own containers print model_code's metric lines; AWS algorithms define their own."""
        return isinstance(self.algorithm, ScriptAlgorithm | ContainerAlgorithm)

    @property
    def tuning_ranges(self) -> dict[str, RangeConfig]:
        tuning = self.tuning
        if tuning is None:
            return {}
        if tuning.ranges is not None:
            return tuning.ranges
        return {
            h.name: RangeConfig(type=h.kind, min=h.min, max=h.max, scaling=h.scaling)
            for h in HYPERPARAMETERS
            if h.tunable
        }

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        repositories = stage.repositories
        images = {"algorithm.image": getattr(self.algorithm, "image", None), "serving_image": self.serving_image}
        for path, image in images.items():
            if image is not None and repositories is not None and image.repository not in repositories:
                yield (
                    f"{path}.repository",
                    f"{image.repository!r} is not one of the platform's repositories "
                    f"(data.container_repositories: {list(repositories)})",
                )
        if isinstance(self.algorithm, MarketplaceAlgorithm) and self.serving_image is not None:
            yield (
                "serving_image",
                "a Marketplace algorithm's model serves with the seller's image; remove serving_image",
            )
        if self.input_prefix is not None:
            yield from prefix_problems("input_prefix", self.input_prefix, f"{RAW_PREFIX}/{self.name}/")
        if isinstance(self.algorithm, MarketplaceAlgorithm) and self.transform is not None:
            yield (
                "transform",
                "a Marketplace algorithm's model runs only from its model package, in the seller's container; "
                "remove transform",
            )
        algorithm, resources = self.algorithm, self.resources
        single = isinstance(algorithm, ScriptAlgorithm) and algorithm.framework in SINGLE_INSTANCE_FRAMEWORKS
        if single and resources.instance_count > 1:
            yield (
                "resources.instance_count",
                (
                    f"{resources.instance_count} instances, but a {algorithm.framework} script trains on one instance "  # type: ignore[union-attr]
                    "(no distributed backend); use 1, or pytorch / tensorflow / mxnet / a built-in algorithm"
                ),
            )
        sample = isinstance(algorithm, ScriptAlgorithm) and algorithm.entry_point == SAMPLE_ENTRY_POINT
        declared = declared_hyperparameters(algorithm.entry_point) if isinstance(algorithm, ScriptAlgorithm) else None
        tuning = self.tuning
        if tuning is not None and tuning.ranges is None and not sample:
            yield (
                "tuning.ranges",
                f"give the ranges to search (model_code's ranges are the default only for {SAMPLE_ENTRY_POINT})",
            )
        if tuning is not None and self.uses_model_code_metrics:
            names = [m.name for m in METRICS]
            if tuning.objective not in names:
                yield "tuning.objective", f"{tuning.objective!r} is not one of model_code's metric definitions {names}"
        if tuning is not None and tuning.maximize is None and tuning.objective not in [m.name for m in METRICS]:
            yield "tuning.maximize", f"say whether to maximize {tuning.objective!r} (true) or minimize it (false)"
        if tuning is not None and tuning.strategy == "Grid":
            numeric = sorted(name for name, r in self.tuning_ranges.items() if r.type != "categorical")
            if numeric:
                yield "tuning.ranges", f"Grid search takes categorical ranges only; {numeric} are numeric"
        if declared is not None and isinstance(algorithm, ScriptAlgorithm):
            yield from _hyperparameter_problems(self.hyperparameters, declared, algorithm.entry_point)
            if tuning is not None:
                yield from _range_problems(self.tuning_ranges, declared, algorithm.entry_point)
        stage_names, triggered = stage.names, self.triggers.schedule or self.triggers.on_new_data
        if stage_names is not None and triggered and len(stage_names.physical(self.name)) + len("-new-data") > 64:
            yield (
                "name",
                (
                    f"{stage_names.physical(self.name)!r} is too long for its trigger rules "
                    "(`<pipeline>-new-data`, at most 64 characters): shorten the name"
                ),
            )
        if self.split.engine == "spark":
            yield from image_problems("split.engine", "spark", "3.5", "py312", stage, scope="processing")


def _hyperparameter_problems(
    values: dict[str, HyperparameterValue], declared: tuple[Hyperparameter, ...], entry_point: str
) -> Iterator[Problem]:
    """Static hyperparameters must be ones the entry point declares, within their bounds."""
    known = {h.name: h for h in declared}
    for name, value in values.items():
        hyperparameter = known.get(name)
        if hyperparameter is None:
            yield f"hyperparameters.{name}", f"unknown to {entry_point}; known: {sorted(known)}"
            continue
        try:
            hyperparameter.parse(value)
        except ValueError as err:
            yield f"hyperparameters.{name}", str(err).removeprefix(f"{name}: ")


def _range_problems(
    ranges: dict[str, RangeConfig], declared: tuple[Hyperparameter, ...], entry_point: str
) -> Iterator[Problem]:
    """Tuning ranges must name hyperparameters the entry point declares and stay within their bounds."""
    known = {h.name: h for h in declared}
    for name, searched in ranges.items():
        hyperparameter, path = known.get(name), f"tuning.ranges.{name}"
        if hyperparameter is None:
            yield path, f"unknown to {entry_point}; known: {sorted(known)}"
        elif searched.type == "categorical":
            for value in searched.values:
                try:
                    hyperparameter.parse(value)
                except ValueError as err:
                    yield f"{path}.values", str(err).removeprefix(f"{name}: ")
        elif searched.type != hyperparameter.kind:
            yield path, f"{name} is {hyperparameter.kind}; the range is {searched.type}"
        elif searched.min is not None and searched.max is not None:
            if searched.min < hyperparameter.min or searched.max > hyperparameter.max:
                yield path, f"{searched.min}..{searched.max} leaves the allowed range: {hyperparameter.allowed}"
