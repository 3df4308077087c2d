"""The typed, frozen schema of a stage file (config/<stage>.yaml) and the rules across its fields."""

from __future__ import annotations

import ipaddress
import re
import zoneinfo
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

# CloudWatch Logs accepts only these retention periods (days).
LOG_RETENTION_DAYS = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096,
    1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip

InterfaceEndpoint = Literal[
    "sagemaker_api",
    "sagemaker_runtime",
    "sagemaker_notebook",
    "ecr_api",
    "ecr_docker",
    "cloudwatch_logs",
    "cloudwatch_monitoring",
    "sts",
    "kms",
]
# Interface endpoints a VPC without internet access needs for SageMaker to work.
INTERFACE_ENDPOINTS: tuple[InterfaceEndpoint, ...] = get_args(InterfaceEndpoint)

REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$"
ProjectName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,19}$")]
RepositoryName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,29}$")]
Account = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
AvailabilityZone = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d[a-z]$")]
VpcId = Annotated[str, StringConstraints(pattern=r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")]
RouteTableId = Annotated[str, StringConstraints(pattern=r"^rtb-[0-9a-f]{8}([0-9a-f]{9})?$")]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\w .:/=+\-@]+$")]
TagValue = Annotated[str, StringConstraints(max_length=256, pattern=r"^[\w .:/=+\-@]*$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class NewVpc(_Strict):
    """A VPC the platform creates: isolated private subnets only, no NAT, no internet gateway."""

    source: Literal["create"] = Field(description="`create`: the platform creates its own VPC.")
    cidr: str = Field(
        default="10.40.0.0/16",
        description="IPv4 CIDR of the VPC, prefix /16 to /24. Changing it replaces the VPC.",
    )
    az_count: int = Field(
        default=2,
        ge=2,
        le=6,
        description="Availability Zones to spread the private subnets over (2-6). "
        "An environment-agnostic stage can use exactly 2.",
    )
    availability_zones: tuple[AvailabilityZone, ...] | None = Field(
        default=None,
        description="AZ names, required when the stage sets a region (no lookup at synth); "
        "their number must equal `az_count`.",
    )
    flow_log_retention_days: int = Field(
        default=365,
        description="Retention of the VPC flow log group, one of CloudWatch's periods.",
    )
    interface_endpoints: tuple[InterfaceEndpoint, ...] = Field(
        default=INTERFACE_ENDPOINTS,
        description="Interface VPC endpoints to create (each costs per hour and AZ). "
        "The S3 gateway endpoint is always created.",
    )


class ExistingVpc(_Strict):
    """A VPC that exists already, imported from ids (no lookup call at synth)."""

    source: Literal["import"] = Field(description="`import`: use an existing VPC by its ids.")
    vpc_id: VpcId = Field(description="Id of the existing VPC.")
    cidr: str = Field(description="IPv4 CIDR of the existing VPC (allowed to reach the endpoints).")
    availability_zones: tuple[AvailabilityZone, ...] = Field(
        description="AZs of the private subnets, in the same order (at least 2)."
    )
    private_subnet_ids: tuple[SubnetId, ...] = Field(
        description="Private subnets SageMaker workloads run in, one per AZ."
    )
    private_route_table_ids: tuple[RouteTableId, ...] = Field(
        description="Route tables of the private subnets, in the same order."
    )
    interface_endpoints: tuple[InterfaceEndpoint, ...] = Field(
        default=(),
        description="Interface VPC endpoints to add to the existing VPC (none by default: "
        "an existing VPC usually has them).",
    )
    s3_gateway_endpoint: bool = Field(
        default=False, description="Add an S3 gateway endpoint to the private route tables."
    )


NetworkConfig = Annotated[NewVpc | ExistingVpc, Field(discriminator="source")]


class DataConfig(_Strict):
    """The stateful data platform: key, buckets, channels, container repositories, registry."""

    noncurrent_version_expiration_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days after which old (noncurrent) object versions in the data and artifacts buckets are deleted.",
    )
    access_log_retention_days: int = Field(
        default=365, ge=1, le=3650, description="Days S3 server access logs are kept."
    )
    container_repositories: tuple[RepositoryName, ...] = Field(
        default=("training", "inference"),
        min_length=1,
        description="ECR repositories for bring-your-own images, named "
        "`<project>-<stage>-<name>`. Removing one deletes (sandbox) or orphans (RETAIN) it.",
    )
    max_images_per_repository: int = Field(default=50, ge=1, le=10000, description="Tagged images kept per repository.")
    untagged_image_expiry_days: int = Field(
        default=7, ge=1, le=365, description="Days after which untagged images are expired."
    )


NotebookName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](-?[a-z0-9]){0,39}$")]
PipRequirement = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~]{0,99}$")]
GitUrl = Annotated[str, StringConstraints(pattern=r"^https://[A-Za-z0-9.\-]+(:\d+)?/[A-Za-z0-9._~/\-]+$")]
GitBranch = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/\-]{1,100}$")]
PlatformIdentifier = Literal["notebook-al2-v2", "notebook-al2-v3", "notebook-al2023-v1"]
# Notebook platforms SageMaker no longer supports, with what to use instead.
RETIRED_PLATFORMS = {
    "notebook-al1-v1": "Amazon Linux 1 notebooks reached end of support; use notebook-al2023-v1",
    "notebook-al2-v1": "notebook-al2-v1 (JupyterLab 1) reached end of support; use notebook-al2023-v1",
}


class CodeRepository(_Strict):
    """A Git repository cloned into the notebook (a SageMaker code repository)."""

    url: GitUrl = Field(description="HTTPS URL, reachable from the VPC (e.g. CodeCommit through its endpoint).")
    branch: GitBranch = Field(default="main", description="Branch checked out on first start.")


class NotebookConfig(_Strict):
    """A SageMaker notebook instance for one person or team."""

    name: NotebookName = Field(
        description="Lowercase name; the instance is `<project>-<stage>-<name>`. Renaming replaces the "
        "instance and its volume."
    )
    owner: str = Field(min_length=1, max_length=128, description="Who it is for (tagged `Owner`).")
    instance_type: str = Field(default="ml.t3.medium", description="A notebook instance type SageMaker offers.")
    volume_size_gb: int = Field(default=20, ge=5, le=16384, description="Encrypted ML storage volume, 5-16384 GB.")
    platform_identifier: PlatformIdentifier = Field(
        default="notebook-al2023-v1", description="Notebook platform (Amazon Linux and JupyterLab version)."
    )
    idle_timeout_minutes: int = Field(
        default=60, ge=5, le=1440, description="Stop the instance after this long without activity."
    )
    idle_ignores_open_browsers: bool = Field(
        default=False,
        description="false: an open notebook tab (a connected kernel) keeps the instance up; true: only "
        "activity counts.",
    )
    code_repositories: tuple[CodeRepository, ...] = Field(
        default=(), max_length=4, description="Git repositories to clone (the first is the default), at most 4."
    )
    pip_packages: tuple[PipRequirement, ...] = Field(
        default=(),
        description="Extra packages installed in the background at each start (from the pip index the VPC can reach).",
    )


EndpointName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](-?[a-z0-9]){0,29}$")]
VariantName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9](-?[A-Za-z0-9]){0,62}$")]
ImageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")]
LATEST_APPROVED = "latest-approved"
# SageMaker's serverless memory sizes (MB).
SERVERLESS_MEMORY_MB = (1024, 2048, 3072, 4096, 5120, 6144)


class ImageReference(_Strict):
    """An image in one of the platform's ECR repositories."""

    repository: RepositoryName = Field(description="One of `data.container_repositories`, e.g. `inference`.")
    tag: ImageTag = Field(description="Image tag (the repositories are tag-immutable: a new build needs a new tag).")


class ModelConfig(_Strict):
    """Where the model served by an endpoint comes from. Any change creates a new SageMaker model
    and endpoint configuration and updates the endpoint in place (blue/green)."""

    source: Literal["artifact", "registry", "marketplace"] = Field(
        description="`artifact`: a model.tar.gz in the artifacts bucket with an image; `registry`: an approved "
        "package of the platform's model registry; `marketplace`: a subscribed AWS Marketplace model package."
    )
    artifact_key: str | None = Field(
        default=None,
        description="source artifact: object key of the model.tar.gz in the artifacts bucket, e.g. "
        "`models/fraud/v3/model.tar.gz`.",
    )
    image: ImageReference | None = Field(
        default=None, description="source artifact: a bring-your-own image from a platform repository."
    )
    image_uri: str | None = Field(
        default=None,
        description="source artifact: a built-in or framework image URI instead of `image` (e.g. from "
        "`sagemaker.image_uris.retrieve`).",
    )
    model_package: str | None = Field(
        default=None,
        description="source registry: a model package version ARN of the platform's group `<project>-<stage>`, "
        "or `latest-approved` (resolved at deploy time from SSM `/<project>/<stage>/latest-approved-model-package`); "
        "source marketplace: the model package ARN of the subscription.",
    )
    environment: dict[EnvName, str] = Field(default_factory=dict, description="Environment of the model container.")


class ScheduledCapacity(_Strict):
    """A scheduled change of the capacity range (e.g. more instances in business hours)."""

    name: NotebookName = Field(description="Name of the scheduled action.")
    schedule: str = Field(
        description="`cron(...)`, `rate(...)` or `at(...)` expression, e.g. `cron(0 7 ? * MON-FRI *)`."
    )
    timezone: str = Field(default="UTC", description="IANA time zone of the schedule, e.g. Europe/Paris.")
    min_capacity: int = Field(ge=1, le=1000, description="Minimum instances from this time on.")
    max_capacity: int = Field(ge=1, le=1000, description="Maximum instances from this time on.")


class AutoscalingConfig(_Strict):
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


class ServerlessConfig(_Strict):
    """A serverless variant: billed per request, cold starts, no VPC."""

    memory_size_mb: int = Field(description="One of 1024, 2048, 3072, 4096, 5120, 6144.")
    max_concurrency: int = Field(ge=1, le=200, description="Concurrent invocations, 1-200.")
    provisioned_concurrency: int | None = Field(
        default=None, ge=1, le=200, description="Warm capacity, at most max_concurrency."
    )


class VariantConfig(_Strict):
    """A production variant: instances of one type (or serverless) taking a weighted share of traffic."""

    name: VariantName = Field(
        default="primary",
        description="Variant name. Keep it stable: blue/green deployments match variants by name.",
    )
    instance_type: str | None = Field(default=None, description="Hosting instance type, e.g. ml.m5.large.")
    initial_instance_count: int = Field(default=1, ge=1, le=1000, description="Instances at creation.")
    weight: float = Field(default=1.0, ge=0, description="Relative share of traffic.")
    autoscaling: AutoscalingConfig | None = Field(default=None, description="Autoscaling of this variant.")
    serverless: ServerlessConfig | None = Field(
        default=None, description="Serverless instead of `instance_type` (sandbox stages only: no VPC)."
    )


class ShadowConfig(_Strict):
    """A shadow variant: a challenger model receiving a copy of production traffic; its answers are dropped."""

    model: ModelConfig = Field(description="The challenger model.")
    instance_type: str = Field(description="Hosting instance type.")
    initial_instance_count: int = Field(default=1, ge=1, le=1000, description="Instances.")
    weight: float = Field(
        default=1.0, gt=0, description="Copied traffic, relative to the production variants' total weight."
    )


class DataCaptureConfig(_Strict):
    """Capture of requests and responses to the artifacts bucket, encrypted with the platform key."""

    sampling_percentage: int = Field(default=10, ge=1, le=100, description="Share of requests captured.")
    capture: tuple[Literal["input", "output"], ...] = Field(
        default=("input", "output"), min_length=1, description="What to capture."
    )


class DeploymentConfig(_Strict):
    """Deployment guardrails: blue/green updates with traffic shifting, bake time and alarm rollback."""

    traffic_shifting: Literal["all_at_once", "canary", "linear"] = Field(
        default="canary", description="How traffic moves to the new fleet."
    )
    canary_percent: int = Field(default=10, ge=1, le=50, description="canary: share of capacity shifted first.")
    linear_step_percent: int = Field(default=20, ge=5, le=50, description="linear: share shifted per step.")
    wait_minutes: int = Field(default=5, ge=0, le=60, description="canary/linear: watch the alarms between steps.")
    bake_minutes: int = Field(
        default=10, ge=0, le=60, description="Watch the alarms after all traffic moved, before the old fleet goes."
    )
    max_minutes: int = Field(default=60, ge=10, le=240, description="Give up (and roll back) after this long.")


class AlarmsConfig(_Strict):
    """Thresholds of the endpoint's alarms (5XX and latency also roll deployments back)."""

    errors_5xx: int = Field(default=5, ge=1, description="Invocation 5XX errors per minute.")
    errors_4xx_percent: float = Field(default=10, gt=0, le=100, description="Invocation 4XX errors, % of requests.")
    latency_p99_ms: int = Field(default=500, ge=1, description="p99 model latency (ms).")
    cpu_percent: int = Field(default=80, ge=1, le=100, description="CPU utilization, % of all cores of an instance.")
    memory_percent: int = Field(default=85, ge=1, le=100, description="Memory utilization %.")
    disk_percent: int = Field(default=85, ge=1, le=100, description="Disk utilization %.")
    evaluation_minutes: int = Field(default=3, ge=1, le=60, description="Minutes above threshold before alarming.")
    notify_emails: tuple[Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")], ...] = Field(
        default=(), description="E-mail addresses subscribed to the alarm topic."
    )


class EndpointConfig(_Strict):
    """A real-time endpoint `<project>-<stage>-<name>` in the platform's subnets."""

    name: EndpointName = Field(description="Lowercase name; the endpoint is `<project>-<stage>-<name>`.")
    model: ModelConfig = Field(description="The model served.")
    variants: tuple[VariantConfig, ...] = Field(
        default=(VariantConfig(instance_type="ml.m5.large"),),
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
    deployment: DeploymentConfig = Field(default_factory=DeploymentConfig, description="Deployment guardrails.")
    alarms: AlarmsConfig = Field(default_factory=AlarmsConfig, description="Alarm thresholds.")


class StageConfig(_Strict):
    """One deployment stage (dev, prod, ...): where it deploys and how the platform is shaped."""

    project: ProjectName = Field(
        description="Short lowercase project name: prefix of stack names, exports, SSM "
        "parameters (`/<project>/<stage>/...`) and repository names. Changing it renames "
        "(replaces) the ECR repositories and the model package group."
    )
    account: Account | None = Field(
        default=None,
        description="AWS account id. Omit (with `region`) for an environment-agnostic stage.",
    )
    region: Region | None = Field(default=None, description="AWS region, e.g. eu-west-1. Set together with `account`.")
    sandbox: bool = Field(
        description="true: stateful resources are destroyed with the stack (dev). false: they "
        "are RETAINed and stacks get termination protection; account and region required."
    )
    tags: dict[TagKey, TagValue] = Field(
        default_factory=dict,
        description="Tags added to every resource, besides `Stage: <stage>` which is always added.",
    )
    network: NetworkConfig = Field(description="The VPC SageMaker workloads run in.")
    data: DataConfig = Field(default_factory=DataConfig, description="The stateful data platform.")
    notebooks: tuple[NotebookConfig, ...] = Field(
        default=(), description="Notebook instances, one per entry (see `notebooks[]` below)."
    )
    endpoints: tuple[EndpointConfig, ...] = Field(
        default=(), description="Real-time endpoints, one per entry (see `endpoints[]` below)."
    )

    @property
    def env_agnostic(self) -> bool:
        return self.account is None


def _repeated(values: list[Any]) -> list[str]:
    """The values that occur more than once, as sorted strings."""
    return sorted({str(v) for v in values if values.count(v) > 1})


def _name_clashes(entries: list[dict[str, Any]], path: str, noun: str, default: object = None) -> list[str]:
    """One problem naming the entries of a list that share a name (`default` when one has none)."""
    dupes = _repeated([entry.get("name", default) for entry in entries])
    if not dupes:
        return []
    return [f"{path}: names {dupes} are used more than once; each {noun} needs its own name"]


def cross_field_problems(raw: dict[str, object], stage: str | None = None) -> list[str]:
    """Rules that span fields, checked on the raw mapping so they are reported alongside
    field errors (pydantic skips model validators once any field fails). `stage` is the stage
    file's name, when known."""
    problems: list[str] = []
    account, region = raw.get("account"), raw.get("region")
    if (account is None) != (region is None):
        problems.append(
            f"account/region: account {account!r} and region {region!r} must be set together "
            "(both for a fixed environment, neither for an environment-agnostic stage)"
        )
    if raw.get("sandbox") is False and (account is None or region is None):
        problems.append(
            "sandbox: false needs an explicit account and region: a retained, "
            "termination-protected stage must name the environment it deploys to"
        )
    tags = raw.get("tags")
    if isinstance(tags, dict):
        lowered = [str(k).lower() for k in tags]
        clashes = sorted({str(k) for k in tags if lowered.count(str(k).lower()) > 1})
        if clashes:
            problems.append(
                f"tags: keys {clashes} differ only in case; some AWS services treat tag keys case-insensitively"
            )
        if "stage" in lowered:
            problems.append("tags: the key 'Stage' is reserved: the platform tags every resource with its stage name")
    network = raw.get("network")
    if isinstance(network, dict):
        # With only one of account/region set, whether the stage is environment-agnostic is
        # unknown: the AZ rules that depend on it wait until that is fixed.
        env_known = (account is None) == (region is None)
        problems += _network_problems(network, region if isinstance(region, str) else None, env_known)
    data = raw.get("data")
    if isinstance(data, dict):
        repos = data.get("container_repositories")
        if isinstance(repos, list):
            dupes = _repeated(repos)
            if dupes:
                problems.append(f"data.container_repositories: {dupes} listed more than once; names must be unique")
    notebooks = raw.get("notebooks")
    if isinstance(notebooks, list):
        problems += _notebook_problems(notebooks)
    endpoints = raw.get("endpoints")
    if isinstance(endpoints, list):
        problems += _endpoint_problems(endpoints, raw, stage)
    return problems


IMAGE_URI = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9][a-z0-9._/-]*(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$"
)
ARTIFACT_KEY = re.compile(r"^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*\.tar\.gz$")
PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):model-package/"
    r"(?P<name>[A-Za-z0-9](-*[A-Za-z0-9]){0,62})(/(?P<version>\d+))?$"
)


def _endpoint_problems(endpoints: list[object], raw: dict[str, object], stage: str | None) -> list[str]:
    problems: list[str] = []
    problems += _name_clashes([e for e in endpoints if isinstance(e, dict)], "endpoints", "endpoint")
    for index, endpoint in enumerate(endpoints):
        if isinstance(endpoint, dict):
            problems += _one_endpoint_problems(endpoint, f"endpoints.{index}", raw, stage)
    return problems


def _one_endpoint_problems(endpoint: dict[str, Any], path: str, raw: dict[str, object], stage: str | None) -> list[str]:
    problems: list[str] = []
    name = endpoint.get("name")
    if isinstance(name, str) and stage is not None and len(full := f"{raw.get('project')}-{stage}-{name}") > 63:
        problems.append(
            f"{path}.name: the endpoint name {full!r} has {len(full)} characters; SageMaker allows 63 "
            "(<project>-<stage>-<name>): shorten the name"
        )
    model = endpoint.get("model")
    if isinstance(model, dict):
        problems += _model_problems(model, f"{path}.model", raw, stage)
    marketplace = isinstance(model, dict) and model.get("source") == "marketplace"
    variants = endpoint.get("variants")
    variants = (
        [v for v in variants if isinstance(v, dict)]
        if isinstance(variants, list)
        else [v.model_dump() for v in _default(EndpointConfig, "variants")]
    )
    problems += _name_clashes(variants, f"{path}.variants", "variant", default=_default(VariantConfig, "name"))
    weights = [v.get("weight", _default(VariantConfig, "weight")) for v in variants]
    if all(isinstance(w, (int, float)) and w >= 0 for w in weights) and sum(weights) == 0:
        problems.append(f"{path}.variants: weights {weights} sum to zero; at least one variant must take traffic")
    for number, variant in enumerate(variants):
        problems += _variant_problems(variant, f"{path}.variants.{number}", sandbox=raw.get("sandbox"))
    if any(v.get("serverless") is not None for v in variants):
        problems += _serverless_problems(endpoint, variants, path, sandbox=raw.get("sandbox"), marketplace=marketplace)
    shadow = endpoint.get("shadow")
    if shadow is not None and len(variants) != 1:
        problems.append(
            f"{path}.shadow: a shadow variant needs exactly one production variant to copy traffic from, "
            f"got {len(variants)}"
        )
    if isinstance(shadow, dict):
        problems += _instance_type_problems(shadow.get("instance_type"), f"{path}.shadow.instance_type")
        if isinstance(shadow.get("model"), dict):
            problems += _model_problems(shadow["model"], f"{path}.shadow.model", raw, stage)
    deployment = endpoint.get("deployment")
    problems += _deployment_problems(
        deployment if isinstance(deployment, dict) else {}, variants, f"{path}.deployment", marketplace=marketplace
    )
    return problems


def _serverless_problems(
    endpoint: dict[str, Any], variants: list[dict[str, Any]], path: str, *, sandbox: object, marketplace: bool
) -> list[str]:
    problems: list[str] = []
    refused = [
        label
        for label, present in (
            ("more than one variant", len(variants) > 1),
            ("a shadow variant", endpoint.get("shadow") is not None),
            ("data capture", endpoint.get("data_capture") is not None),
            (
                "network isolation (on by default: set network_isolation: false)",
                endpoint.get("network_isolation", _default(EndpointConfig, "network_isolation")),
            ),
            ("a marketplace model", marketplace),
        )
        if present
    ]
    if refused:
        problems.append(
            f"{path}: a serverless variant cannot be combined with {', '.join(refused)} "
            "(SageMaker Serverless Inference supports none of them)"
        )
    if sandbox is False:
        problems.append(
            f"{path}.variants: serverless is refused in a stage with sandbox: false: serverless endpoints "
            "cannot run in a VPC, and such stages keep every workload in the platform's private subnets"
        )
    return problems


def _deployment_problems(
    deployment: dict[str, Any], variants: list[dict[str, Any]], path: str, *, marketplace: bool
) -> list[str]:
    from sagemaker_facts import is_inf1

    problems: list[str] = []
    setting = {name: deployment.get(name, _default(DeploymentConfig, name)) for name in DeploymentConfig.model_fields}
    shifting = setting["traffic_shifting"]
    inf1 = [
        v["instance_type"] for v in variants if isinstance(v.get("instance_type"), str) and is_inf1(v["instance_type"])
    ]
    if shifting != "all_at_once" and (marketplace or inf1):
        cause = "a marketplace model" if marketplace else f"Inferentia 1 instances ({inf1[0]})"
        problems.append(
            f"{path}.traffic_shifting: {shifting!r} is not possible with {cause}: SageMaker falls back to "
            "all-at-once without baking for them; set traffic_shifting: all_at_once"
        )
    wait, bake, limit, step = (
        setting[k] for k in ("wait_minutes", "bake_minutes", "max_minutes", "linear_step_percent")
    )
    if all(isinstance(x, int) for x in (wait, bake, limit, step)) and step > 0:
        # Pauses between shifts: none all at once, one after a canary, one per linear step but the last.
        waits = {"all_at_once": 0, "canary": 1}.get(str(shifting), -(-100 // step) - 1)
        if wait * waits + bake >= limit:
            problems.append(
                f"{path}.max_minutes: {limit} leaves no time to deploy: {shifting} waits "
                f"{waits} x {wait} min between steps and bakes {bake} min; "
                f"raise max_minutes above {wait * waits + bake}"
            )
    return problems


def _default(model: type[BaseModel], field: str) -> Any:
    """A field's default, so that rules on the raw mapping see what the schema will fill in."""
    return model.model_fields[field].get_default(call_default_factory=True)


def _variant_problems(variant: dict[str, Any], path: str, *, sandbox: object) -> list[str]:
    from sagemaker_facts import is_burstable

    problems: list[str] = []
    kind, serverless = variant.get("instance_type"), variant.get("serverless")
    if (kind is None) == (serverless is None):
        return [
            f"{path}: give exactly one of instance_type (instances) or serverless, got {'both' if kind else 'neither'}"
        ]
    if isinstance(serverless, dict):
        memory = serverless.get("memory_size_mb")
        if memory is not None and memory not in SERVERLESS_MEMORY_MB:
            problems.append(
                f"{path}.serverless.memory_size_mb: {memory!r} is not a serverless memory size; "
                f"allowed: {', '.join(map(str, SERVERLESS_MEMORY_MB))}"
            )
        provisioned, most = serverless.get("provisioned_concurrency"), serverless.get("max_concurrency")
        if isinstance(provisioned, int) and isinstance(most, int) and provisioned > most:
            problems.append(f"{path}.serverless: provisioned_concurrency {provisioned} > max_concurrency {most}")
        if variant.get("autoscaling") is not None:
            problems.append(f"{path}.autoscaling: serverless variants scale by themselves; remove autoscaling")
        return problems
    problems += _instance_type_problems(kind, f"{path}.instance_type")
    count = variant.get("initial_instance_count", _default(VariantConfig, "initial_instance_count"))
    scaling = variant.get("autoscaling")
    if isinstance(kind, str) and is_burstable(kind) and scaling is not None:
        problems.append(
            f"{path}.autoscaling: {kind} is a burstable instance type, which SageMaker cannot autoscale "
            "(and whose CPU credits run out under load); use e.g. ml.m5.large or ml.c5.large, or remove autoscaling"
        )
    multi_az = (
        "sandbox: false stages need at least 2 instances per variant, so that SageMaker spreads them over "
        "the Availability Zones of the platform's subnets and an AZ outage leaves the endpoint up"
    )
    if sandbox is False and isinstance(count, int) and count < 2:
        problems.append(f"{path}.initial_instance_count: {count} is refused: {multi_az}")
    if isinstance(scaling, dict):
        low, high = scaling.get("min_capacity"), scaling.get("max_capacity")
        if isinstance(low, int) and isinstance(high, int):
            if low > high:
                problems.append(f"{path}.autoscaling: min_capacity {low} > max_capacity {high}")
            elif isinstance(count, int) and not low <= count <= high:
                problems.append(
                    f"{path}.initial_instance_count: {count} is outside autoscaling min_capacity..max_capacity "
                    f"({low}..{high})"
                )
        if sandbox is False and isinstance(low, int) and low < 2:
            problems.append(f"{path}.autoscaling.min_capacity: {low} is refused: {multi_az}")
        targets = [k for k in ("target_invocations_per_instance", "max_rps_per_instance") if scaling.get(k) is not None]
        if len(targets) != 1:
            problems.append(
                f"{path}.autoscaling: give exactly one of target_invocations_per_instance or max_rps_per_instance "
                f"(got {targets or 'neither'})"
            )
        scheduled = scaling.get("scheduled")
        for number, action in enumerate(scheduled if isinstance(scheduled, list) else []):
            if not isinstance(action, dict):
                continue
            here = f"{path}.autoscaling.scheduled.{number}"
            low, high = action.get("min_capacity"), action.get("max_capacity")
            if isinstance(low, int) and isinstance(high, int) and low > high:
                problems.append(f"{here}: min_capacity {low} > max_capacity {high}")
            if sandbox is False and isinstance(low, int) and low < 2:
                problems.append(f"{here}.min_capacity: {low} is refused: {multi_az}")
            zone = action.get("timezone", _default(ScheduledCapacity, "timezone"))
            if isinstance(zone, str) and not _is_time_zone(zone):
                problems.append(f"{here}.timezone: {zone!r} is not an IANA time zone, e.g. UTC, Europe/Paris")
            schedule = action.get("schedule")
            if isinstance(schedule, str) and not re.fullmatch(r"(cron|rate|at)\(.+\)", schedule):
                problems.append(
                    f"{here}.schedule: {schedule!r} is not a schedule expression; "
                    "use cron(...), rate(...) or at(...), e.g. cron(0 7 ? * MON-FRI *)"
                )
    return problems


def _is_time_zone(name: str) -> bool:
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return False
    return True


def _instance_type_problems(kind: object, path: str) -> list[str]:
    from sagemaker_facts import HOSTING_INSTANCE_TYPE

    if isinstance(kind, str) and not HOSTING_INSTANCE_TYPE.fullmatch(kind):
        return [
            f"{path}: {kind!r} is not a SageMaker hosting instance type; e.g. ml.m5.large, ml.c6i.xlarge, ml.g5.xlarge"
        ]
    return []


def _model_problems(model: dict[str, Any], path: str, raw: dict[str, object], stage: str | None) -> list[str]:
    problems: list[str] = []
    source = model.get("source")
    fields = {
        "artifact": ("artifact_key", "image", "image_uri"),
        "registry": ("model_package",),
        "marketplace": ("model_package",),
    }
    if source not in fields:
        return problems  # reported by the schema
    others = sorted({f for fs in fields.values() for f in fs} - set(fields[source]))
    present = [f for f in others if model.get(f) is not None]
    if present:
        problems.append(f"{path}: {present} do not apply to source {source!r}; it takes {list(fields[source])}")
    if source == "artifact":
        key = model.get("artifact_key")
        if key is None:
            problems.append(
                f"{path}.artifact_key: required for source 'artifact' (the model.tar.gz in the artifacts bucket)"
            )
        elif isinstance(key, str) and not ARTIFACT_KEY.fullmatch(key):
            problems.append(
                f"{path}.artifact_key: {key!r} must be an object key ending in .tar.gz, "
                "e.g. models/fraud/v3/model.tar.gz"
            )
        image, uri = model.get("image"), model.get("image_uri")
        if (image is None) == (uri is None):
            problems.append(f"{path}: give exactly one of image (a platform repository and tag) or image_uri")
        if isinstance(uri, str) and not IMAGE_URI.fullmatch(uri):
            problems.append(
                f"{path}.image_uri: {uri!r} is not an ECR image URI with a tag or digest, e.g. "
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/name:tag"
            )
        data = raw.get("data")
        repositories = (
            data.get("container_repositories", ["training", "inference"])
            if isinstance(data, dict)
            else ["training", "inference"]
        )
        if (
            isinstance(image, dict)
            and image.get("repository") is not None
            and image["repository"] not in (repositories or [])
        ):
            problems.append(
                f"{path}.image.repository: {image['repository']!r} is not one of the platform's repositories "
                f"(data.container_repositories: {repositories})"
            )
        return problems
    package = model.get("model_package")
    if package is None:
        return [*problems, f"{path}.model_package: required for source {source!r}"]
    if source == "registry" and package == LATEST_APPROVED:
        return problems
    match = PACKAGE_ARN.fullmatch(str(package))
    versioned = "arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>"
    if source == "registry" and (match is None or match["version"] is None):
        return [
            *problems,
            f"{path}.model_package: {package!r} is not a model package version ARN ({versioned}) "
            f"nor {LATEST_APPROVED!r}",
        ]
    if source == "marketplace" and (match is None or match["version"] is not None):
        return [
            *problems,
            f"{path}.model_package: {package!r} is not a marketplace model package ARN "
            "(arn:aws:sagemaker:<region>:<seller account>:model-package/<name>, no version)",
        ]
    assert match is not None
    if raw.get("region") is not None and match["region"] != raw["region"]:
        problems.append(
            f"{path}.model_package: {package!r} is in region {match['region']!r}, "
            f"the stage deploys to {raw['region']!r}"
        )
    if source == "registry":
        if raw.get("account") is not None and match["account"] != raw["account"]:
            problems.append(
                f"{path}.model_package: {package!r} is in account {match['account']}, the stage's is {raw['account']}"
            )
        group = f"{raw.get('project')}-{stage}"
        if stage is not None and match["name"] != group:
            problems.append(
                f"{path}.model_package: {package!r} is in group {match['name']!r}; this stage's registry is {group!r}"
            )
    return problems


def _notebook_problems(notebooks: list[object]) -> list[str]:
    from sagemaker_facts import NOTEBOOK_INSTANCE_TYPES

    problems: list[str] = []
    problems += _name_clashes([n for n in notebooks if isinstance(n, dict)], "notebooks", "notebook")
    for index, notebook in enumerate(notebooks):
        if not isinstance(notebook, dict):
            continue
        kind = notebook.get("instance_type")
        if isinstance(kind, str) and kind not in NOTEBOOK_INSTANCE_TYPES:
            problems.append(
                f"notebooks.{index}.instance_type: {kind!r} is not an instance type SageMaker offers for "
                "notebooks; e.g. ml.t3.medium, ml.t3.large, ml.m5.xlarge, ml.g5.xlarge"
            )
        platform = notebook.get("platform_identifier")
        if isinstance(platform, str) and platform in RETIRED_PLATFORMS:
            problems.append(
                f"notebooks.{index}.platform_identifier: {platform!r} is refused: {RETIRED_PLATFORMS[platform]}"
            )
    return problems


def _network_problems(network: dict[str, object], region: str | None, env_known: bool) -> list[str]:
    problems: list[str] = []
    source = network.get("source")
    cidr = network.get("cidr")
    if isinstance(cidr, str):
        problems += _cidr_problems(cidr)
    zones = network.get("availability_zones")
    if isinstance(zones, list):
        if len(set(zones)) != len(zones):
            problems.append(f"network.availability_zones: {zones} lists an AZ more than once")
        if region is not None:
            foreign = [z for z in zones if isinstance(z, str) and not re.fullmatch(re.escape(region) + "[a-z]", z)]
            if foreign:
                problems.append(
                    f"network.availability_zones: {foreign} are not AZs of region {region!r} "
                    f"(expected names such as {region}a)"
                )
    endpoints = network.get("interface_endpoints")
    if isinstance(endpoints, list) and len(set(map(str, endpoints))) != len(endpoints):
        problems.append(f"network.interface_endpoints: {endpoints} lists an endpoint more than once")
    if source == "create":
        count = network.get("az_count", 2)
        if not env_known:
            pass
        elif region is None:
            if isinstance(count, int) and count != 2:
                problems.append(
                    f"network.az_count: {count} needs an explicit account and region with "
                    "availability_zones; an environment-agnostic stage can use exactly 2 AZs"
                )
            if zones is not None:
                problems.append(
                    "network.availability_zones: needs an explicit account and region; "
                    "an environment-agnostic stage takes its 2 AZs from the deploy region"
                )
        elif zones is None:
            problems.append(
                f"network.availability_zones: required when region is set ({region!r}), "
                f"so that synth needs no AZ lookup; list {count} AZs, e.g. [{region}a, {region}b]"
            )
        elif isinstance(zones, list) and isinstance(count, int) and len(zones) != count:
            problems.append(f"network.availability_zones: {len(zones)} AZs listed but az_count is {count}")
        retention = network.get("flow_log_retention_days")
        if isinstance(retention, int) and retention not in LOG_RETENTION_DAYS:
            problems.append(
                f"network.flow_log_retention_days: {retention} is not a CloudWatch Logs "
                f"retention period; allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}"
            )
    elif source == "import":
        subnets = network.get("private_subnet_ids")
        tables = network.get("private_route_table_ids")
        if isinstance(zones, list):
            if len(zones) < 2:
                problems.append(
                    f"network.availability_zones: {zones} has {len(zones)} AZ; SageMaker "
                    "endpoints and training need subnets in at least 2 AZs"
                )
            for name, ids in (("private_subnet_ids", subnets), ("private_route_table_ids", tables)):
                if isinstance(ids, list) and len(ids) != len(zones):
                    problems.append(
                        f"network.{name}: {len(ids)} ids for {len(zones)} availability_zones; "
                        "give one per AZ, in the same order"
                    )
    return problems


def _cidr_problems(cidr: str) -> list[str]:
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as err:
        return [f"network.cidr: {cidr!r} is not a valid IPv4 CIDR block ({err}); e.g. 10.40.0.0/16"]
    if net.version != 4 or not 16 <= net.prefixlen <= 24:
        return [f"network.cidr: {cidr!r} must be an IPv4 block with a prefix from /16 to /24"]
    return []
