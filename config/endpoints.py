"""The `endpoints` section: real-time endpoints with their variants, shadow and data capture, and their rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

from config.autoscaling import MULTI_AZ, AutoscalingConfig
from config.deployment import AlarmsConfig, DeploymentConfig
from config.model_sources import MarketplaceModel, ModelConfig, RegistryModel
from config.monitoring import MonitoringConfig
from config.types import Problem, StageFacts, StrictModel, refuse, value_rule
from sagemaker_facts import ENDPOINT_NAME_MAX_LENGTH, HOSTING_INSTANCE_TYPE, SERVERLESS_MEMORY_MB, is_burstable, is_inf1

EndpointName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](-?[a-z0-9]){0,29}$")]
VariantName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9](-?[A-Za-z0-9]){0,62}$")]
HostingInstanceType = Annotated[
    str,
    value_rule(
        lambda kind: (
            None
            if HOSTING_INSTANCE_TYPE.fullmatch(kind)
            else f"{kind!r} is not a SageMaker hosting instance type; e.g. ml.m5.large, ml.c6i.xlarge, ml.g5.xlarge"
        )
    ),
]


class ServerlessConfig(StrictModel):
    """A serverless variant: billed per request, cold starts, no VPC."""

    memory_size_mb: int = Field(description="One of 1024, 2048, 3072, 4096, 5120, 6144.")
    max_concurrency: int = Field(ge=1, le=200, description="Concurrent invocations, 1-200.")
    provisioned_concurrency: int | None = Field(
        default=None, ge=1, le=200, description="Warm capacity, at most max_concurrency."
    )


class VariantConfig(StrictModel):
    """A production variant: instances of one type (or serverless) taking a weighted share of traffic."""

    # Also checks the endpoint's default variant against the stage (sandbox: false needs 2 instances).
    model_config = ConfigDict(revalidate_instances="always")

    name: VariantName = Field(
        default="primary",
        description="Variant name. Keep it stable: blue/green deployments match variants by name.",
    )
    instance_type: HostingInstanceType | None = Field(
        default=None, description="Hosting instance type, e.g. ml.m5.large."
    )
    initial_instance_count: int = Field(default=1, ge=1, le=1000, description="Instances at creation.")
    weight: float = Field(default=1.0, ge=0, description="Relative share of traffic.")
    autoscaling: AutoscalingConfig | None = Field(default=None, description="Autoscaling of this variant.")
    serverless: ServerlessConfig | None = Field(
        default=None, description="Serverless instead of `instance_type` (sandbox stages only: no VPC)."
    )

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        kind, scaling, count = self.instance_type, self.autoscaling, self.initial_instance_count
        if (kind is None) == (self.serverless is None):
            yield (
                "",
                f"give exactly one of instance_type (instances) or serverless, got {'both' if kind else 'neither'}",
            )
            return
        if kind is None:
            return  # a serverless variant: see EndpointConfig
        if is_burstable(kind) and scaling is not None:
            yield (
                "autoscaling",
                f"{kind} is a burstable instance type, which SageMaker cannot autoscale (and whose CPU credits run "
                "out under load); use e.g. ml.m5.large or ml.c5.large, or remove autoscaling",
            )
        if stage.sandbox is False and count < 2:
            yield "initial_instance_count", f"{count} is refused: {MULTI_AZ}"
        if scaling is not None and not scaling.min_capacity <= count <= scaling.max_capacity:
            yield (
                "initial_instance_count",
                f"{count} is outside autoscaling min_capacity..max_capacity "
                f"({scaling.min_capacity}..{scaling.max_capacity})",
            )


class ShadowConfig(StrictModel):
    """A shadow variant: a challenger model receiving a copy of production traffic; its answers are dropped."""

    model: ModelConfig = Field(description="The challenger model.")
    instance_type: HostingInstanceType = Field(description="Hosting instance type.")
    initial_instance_count: int = Field(default=1, ge=1, le=1000, description="Instances.")
    weight: float = Field(
        default=1.0, gt=0, description="Copied traffic, relative to the production variants' total weight."
    )


class DataCaptureConfig(StrictModel):
    """Capture of requests and responses to the artifacts bucket, encrypted with the platform key."""

    sampling_percentage: int = Field(default=10, ge=1, le=100, description="Share of requests captured.")
    capture: tuple[Literal["input", "output"], ...] = Field(
        default=("input", "output"), min_length=1, description="What to capture."
    )


class EndpointConfig(StrictModel):
    """A real-time endpoint `<project>-<stage>-<name>` in the platform's subnets."""

    name: EndpointName = Field(description="Lowercase name; the endpoint is `<project>-<stage>-<name>`.")
    model: ModelConfig = Field(
        description="The model served. Any change creates a new SageMaker model and endpoint configuration and "
        "updates the endpoint in place (blue/green)."
    )
    variants: tuple[VariantConfig, ...] = Field(
        default=(VariantConfig(instance_type="ml.m5.large"),),
        validate_default=True,
        min_length=1,
        max_length=10,
        description="Production variants (1-10).",
    )
    shadow: ShadowConfig | None = Field(default=None, description="Optional shadow variant.")
    network_isolation: bool = Field(
        default=True,
        description="Run the container with no network at all (SageMaker still fetches the model and image). "
        "Turn off only for a container that must call out through the VPC; always on for marketplace models.",
    )
    data_capture: DataCaptureConfig | None = Field(default=None, description="Data capture; off when omitted.")
    monitoring: MonitoringConfig | None = Field(
        default=None, description="Drift monitoring of the captured traffic (needs data_capture); off when omitted."
    )
    deployment: DeploymentConfig = Field(
        default_factory=DeploymentConfig, validate_default=True, description="Deployment guardrails."
    )
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig, description="Alarm thresholds.")

    @field_validator("deployment")
    @classmethod
    def _shifting_follows_the_model(cls, deployment: DeploymentConfig, info: ValidationInfo) -> DeploymentConfig:
        """The default traffic shifting follows the model: SageMaker shifts traffic to a Marketplace model or
        Inferentia 1 instances only all at once, so there the default is all_at_once, not canary (a canary or
        linear that the stage file sets is still refused, with the reason)."""
        if "traffic_shifting" in deployment.model_fields_set:
            return deployment
        variants: tuple[VariantConfig, ...] = info.data.get("variants", ())
        marketplace = isinstance(info.data.get("model"), MarketplaceModel)
        if marketplace or any(v.instance_type is not None and is_inf1(v.instance_type) for v in variants):
            return deployment.model_copy(update={"traffic_shifting": "all_at_once"})
        return deployment

    @field_validator("name")
    @classmethod
    def _name_fits(cls, name: str, info: ValidationInfo) -> str:
        names = StageFacts.of(info).names
        if names is not None and len(full := names.physical(name)) > ENDPOINT_NAME_MAX_LENGTH:
            refuse(
                [
                    (
                        "",
                        f"the endpoint name {full!r} has {len(full)} characters; SageMaker allows "
                        f"{ENDPOINT_NAME_MAX_LENGTH} (<project>-<stage>-<name>): shorten the name",
                    )
                ]
            )
        return name

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        variants, marketplace = self.variants, isinstance(self.model, MarketplaceModel)
        weights = [v.weight for v in variants]
        if sum(weights) == 0:
            yield "variants", f"weights {weights} sum to zero; at least one variant must take traffic"
        yield from self._monitoring_problems()
        if any(v.serverless is not None for v in variants):
            yield from self._serverless_problems(stage, marketplace=marketplace)
        if self.shadow is not None and len(variants) != 1:
            yield (
                "shadow",
                f"a shadow variant needs exactly one production variant to copy traffic from, got {len(variants)}",
            )
        shifting = self.deployment.traffic_shifting
        inf1 = [v.instance_type for v in variants if v.instance_type is not None and is_inf1(v.instance_type)]
        if shifting != "all_at_once" and (marketplace or inf1):
            cause = "a marketplace model" if marketplace else f"Inferentia 1 instances ({inf1[0]})"
            yield (
                "deployment.traffic_shifting",
                f"{shifting!r} is not possible with {cause}: SageMaker falls back to all-at-once without baking "
                "for them; set traffic_shifting: all_at_once",
            )

    def _monitoring_problems(self) -> Iterator[Problem]:
        monitoring, capture = self.monitoring, self.data_capture
        if monitoring is None:
            return
        if capture is None:
            yield (
                "monitoring",
                "monitoring reads the captured traffic: give the endpoint data_capture (or remove monitoring)",
            )
            return
        needed = ("input", "output") if monitoring.model_quality else ("input",)
        if missing := [kind for kind in needed if kind not in capture.capture]:
            why = "monitoring with model_quality" if monitoring.model_quality else "monitoring"
            yield "data_capture.capture", f"{why} needs the {' and '.join(missing)} captured; capture {list(needed)}"
        if monitoring.baseline is None and not isinstance(self.model, RegistryModel):
            yield (
                "monitoring.baseline",
                f"a {self.model.source!r} model has no baseline published with it (only registry packages do): "
                "give monitoring.baseline (statistics and constraints)",
            )

    def _serverless_problems(self, stage: StageFacts, *, marketplace: bool) -> Iterator[Problem]:
        # A serverless variant's own rules live here, not in ServerlessConfig or VariantConfig, so that they are
        # reported together with what the endpoint combines it with (a variant's problem skips the endpoint's rules).
        for number, variant in enumerate(self.variants):
            if (serverless := variant.serverless) is None:
                continue
            here = f"variants.{number}.serverless"
            if variant.autoscaling is not None:
                yield f"variants.{number}.autoscaling", "serverless variants scale by themselves; remove autoscaling"
            if serverless.memory_size_mb not in SERVERLESS_MEMORY_MB:
                yield (
                    f"{here}.memory_size_mb",
                    f"{serverless.memory_size_mb!r} is not a serverless memory size; "
                    f"allowed: {', '.join(map(str, SERVERLESS_MEMORY_MB))}",
                )
            provisioned, most = serverless.provisioned_concurrency, serverless.max_concurrency
            if provisioned is not None and provisioned > most:
                yield here, f"provisioned_concurrency {provisioned} > max_concurrency {most}"
        refused = [
            label
            for label, present in (
                ("more than one variant", len(self.variants) > 1),
                ("a shadow variant", self.shadow is not None),
                ("data capture", self.data_capture is not None),
                ("network isolation (on by default: set network_isolation: false)", self.network_isolation),
                ("a marketplace model", marketplace),
            )
            if present
        ]
        if refused:
            yield (
                "",
                f"a serverless variant cannot be combined with {', '.join(refused)} "
                "(SageMaker Serverless Inference supports none of them)",
            )
        if stage.sandbox is False:
            yield (
                "variants",
                "serverless is refused in a stage with sandbox: false: serverless endpoints cannot run in a VPC, "
                "and such stages keep every workload in the platform's private subnets",
            )
