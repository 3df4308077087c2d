"""The typed, frozen schema of a stage file (config/<stage>.yaml) and the rules across its fields."""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Literal, get_args

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

    @property
    def env_agnostic(self) -> bool:
        return self.account is None


def cross_field_problems(raw: dict[str, object]) -> list[str]:
    """Rules that span fields, checked on the raw mapping so they are reported alongside
    field errors (pydantic skips model validators once any field fails)."""
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
            dupes = sorted({r for r in repos if repos.count(r) > 1}, key=str)
            if dupes:
                problems.append(f"data.container_repositories: {dupes} listed more than once; names must be unique")
    notebooks = raw.get("notebooks")
    if isinstance(notebooks, list):
        problems += _notebook_problems(notebooks)
    return problems


def _notebook_problems(notebooks: list[object]) -> list[str]:
    from config.instance_types import NOTEBOOK_INSTANCE_TYPES

    problems: list[str] = []
    names = [n.get("name") for n in notebooks if isinstance(n, dict)]
    dupes = sorted({str(n) for n in names if names.count(n) > 1})
    if dupes:
        problems.append(f"notebooks: names {dupes} are used more than once; each notebook needs its own name")
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
