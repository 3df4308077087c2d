"""The `network` section: a VPC the platform creates or one it imports, and their rules."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterator
from typing import Annotated, Literal, get_args

from pydantic import AfterValidator, Field, StringConstraints, ValidationInfo, field_validator

from config.types import AvailabilityZone, Problem, StageFacts, StrictModel, refuse, repeated, value_rule
from sagemaker_facts import LOG_RETENTION_DAYS

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

VpcId = Annotated[str, StringConstraints(pattern=r"^vpc-[0-9a-f]{8}([0-9a-f]{9})?$")]
SubnetId = Annotated[str, StringConstraints(pattern=r"^subnet-[0-9a-f]{8}([0-9a-f]{9})?$")]
RouteTableId = Annotated[str, StringConstraints(pattern=r"^rtb-[0-9a-f]{8}([0-9a-f]{9})?$")]


def _cidr_problem(cidr: str) -> str | None:
    try:
        net = ipaddress.ip_network(cidr, strict=True)
    except ValueError as err:
        return f"{cidr!r} is not a valid IPv4 CIDR block ({err}); e.g. 10.40.0.0/16"
    if net.version != 4 or not 16 <= net.prefixlen <= 24:
        return f"{cidr!r} must be an IPv4 block with a prefix from /16 to /24"
    return None


def _retention_problem(days: int) -> str | None:
    if days in LOG_RETENTION_DAYS:
        return None
    return f"{days} is not a CloudWatch Logs retention period; allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}"


def _zones_of_region(zones: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
    problems: list[Problem] = []
    if repeated(zones):
        problems.append(("", f"{list(zones)} lists an AZ more than once"))
    region = StageFacts.of(info).region
    if region is not None and (foreign := [z for z in zones if not re.fullmatch(re.escape(region) + "[a-z]", z)]):
        problems.append(("", f"{foreign} are not AZs of region {region!r} (expected names such as {region}a)"))
    refuse(problems)
    return zones


Cidr = Annotated[str, value_rule(_cidr_problem)]
AvailabilityZones = Annotated[tuple[AvailabilityZone, ...], AfterValidator(_zones_of_region)]
InterfaceEndpoints = Annotated[
    tuple[InterfaceEndpoint, ...],
    value_rule(lambda names: f"{list(names)} lists an endpoint more than once" if repeated(names) else None),
]
LogRetentionDays = Annotated[int, value_rule(_retention_problem)]


class NewVpc(StrictModel):
    """A VPC the platform creates: isolated private subnets only, no NAT, no internet gateway."""

    source: Literal["create"] = Field(description="`create`: the platform creates its own VPC.")
    cidr: Cidr = Field(
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
    availability_zones: AvailabilityZones | None = Field(
        default=None,
        description="AZ names, required when the stage sets a region (no lookup at synth); "
        "their number must equal `az_count`.",
    )
    flow_log_retention_days: LogRetentionDays = Field(
        default=365,
        description="Retention of the VPC flow log group, one of CloudWatch's periods.",
    )
    interface_endpoints: InterfaceEndpoints = Field(
        default=INTERFACE_ENDPOINTS,
        description="Interface VPC endpoints to create (each costs per hour and AZ). "
        "The S3 gateway endpoint is always created.",
    )

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        count, zones, region = self.az_count, self.availability_zones, stage.region
        if not stage.env_known:
            return  # the AZ rules depend on whether the stage is environment-agnostic
        if region is None:
            if count != 2:
                yield (
                    "az_count",
                    f"{count} needs an explicit account and region with availability_zones; "
                    "an environment-agnostic stage can use exactly 2 AZs",
                )
            if zones is not None:
                yield (
                    "availability_zones",
                    "needs an explicit account and region; "
                    "an environment-agnostic stage takes its 2 AZs from the deploy region",
                )
        elif zones is None:
            yield (
                "availability_zones",
                f"required when region is set ({region!r}), so that synth needs no AZ lookup; "
                f"list {count} AZs, e.g. [{region}a, {region}b]",
            )
        elif len(zones) != count:
            yield "availability_zones", f"{len(zones)} AZs listed but az_count is {count}"


class ExistingVpc(StrictModel):
    """A VPC that exists already, imported from ids (no lookup call at synth)."""

    source: Literal["import"] = Field(description="`import`: use an existing VPC by its ids.")
    vpc_id: VpcId = Field(description="Id of the existing VPC.")
    cidr: Cidr = Field(description="IPv4 CIDR of the existing VPC (allowed to reach the endpoints).")
    availability_zones: AvailabilityZones = Field(
        description="AZs of the private subnets, in the same order (at least 2)."
    )
    private_subnet_ids: tuple[SubnetId, ...] = Field(
        description="Private subnets SageMaker workloads run in, one per AZ."
    )
    private_route_table_ids: tuple[RouteTableId, ...] = Field(
        description="Route tables of the private subnets, in the same order."
    )
    interface_endpoints: InterfaceEndpoints = Field(
        default=(),
        description="Interface VPC endpoints to add to the existing VPC (none by default: "
        "an existing VPC usually has them).",
    )
    s3_gateway_endpoint: bool = Field(
        default=False, description="Add an S3 gateway endpoint to the private route tables."
    )

    @field_validator("private_subnet_ids", "private_route_table_ids")
    @classmethod
    def _one_per_zone(cls, ids: tuple[str, ...], info: ValidationInfo) -> tuple[str, ...]:
        # Field rules rather than model rules, so that each list is compared with the AZs even when the other
        # is invalid; the "at least 2 AZs" rule sits here too, as a rule on the AZs would hide them from both.
        zones: tuple[str, ...] | None = info.data.get("availability_zones")
        if zones is None:
            return ids
        problems: list[Problem] = []
        if info.field_name == "private_subnet_ids" and len(zones) < 2:
            problems.append(
                (
                    "availability_zones",
                    f"{list(zones)} has {len(zones)} AZ; SageMaker endpoints and training need subnets in at least "
                    "2 AZs",
                )
            )
        if len(ids) != len(zones):
            problems.append(
                (
                    str(info.field_name),
                    f"{len(ids)} ids for {len(zones)} availability_zones; give one per AZ, in the same order",
                )
            )
        refuse(problems, from_field=True)
        return ids


NetworkConfig = Annotated[NewVpc | ExistingVpc, Field(discriminator="source")]
