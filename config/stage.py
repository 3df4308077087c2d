"""A whole stage file: where the stage deploys, its sections, and the rules across the stage."""

from __future__ import annotations

from typing import Any

from pydantic import Field, ValidationInfo, field_validator

from config.data import DataConfig
from config.endpoints import EndpointConfig
from config.labeling import LabelingConfig
from config.network import NetworkConfig
from config.notebooks import NotebookConfig
from config.pipelines import PipelineConfig
from config.scoring import ScoringConfig
from config.types import Account, Problem, ProjectName, Region, StrictModel, TagKey, TagValue, refuse, repeated


class StageConfig(StrictModel):
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
    region: Region | None = Field(
        default=None,
        description="AWS region, e.g. eu-west-1. Set together with `account`.",
    )
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
    pipelines: tuple[PipelineConfig, ...] = Field(
        default=(), description="Training pipelines, one per entry (see `pipelines[]` below)."
    )
    scoring: tuple[ScoringConfig, ...] = Field(
        default=(),
        description="Scheduled scoring pipelines with the latest approved model, one per entry (see `scoring[]`).",
    )
    labeling: LabelingConfig | None = Field(
        default=None, description="Ground Truth labeling: the private workforce and its work teams (optional)."
    )

    @property
    def env_agnostic(self) -> bool:
        return self.account is None

    # The stage-wide rules are field rules, so that they are reported even when another section is invalid.

    @field_validator("sandbox")
    @classmethod
    def _environment(cls, sandbox: bool, info: ValidationInfo) -> bool:
        if not {"account", "region"} <= info.data.keys():
            return sandbox  # one of them is invalid, and that is the problem
        account, region = info.data["account"], info.data["region"]
        problems: list[Problem] = []
        if (account is None) != (region is None):
            problems.append(
                (
                    "account/region",
                    f"account {account!r} and region {region!r} must be set together "
                    "(both for a fixed environment, neither for an environment-agnostic stage)",
                )
            )
        if sandbox is False and None in (account, region):
            problems.append(
                (
                    "sandbox",
                    "false needs an explicit account and region: a retained, "
                    "termination-protected stage must name the environment it deploys to",
                )
            )
        refuse(problems, from_field=True)
        return sandbox

    @field_validator("tags")
    @classmethod
    def _tag_keys_free(cls, tags: dict[str, str]) -> dict[str, str]:
        problems: list[Problem] = []
        lowered = [key.lower() for key in tags]
        if clashes := sorted(key for key in tags if lowered.count(key.lower()) > 1):
            problems.append(
                ("", f"keys {clashes} differ only in case; some AWS services treat tag keys case-insensitively")
            )
        if "stage" in lowered:
            problems.append(("", "the key 'Stage' is reserved: the platform tags every resource with its stage name"))
        refuse(problems)
        return tags

    @field_validator("scoring")
    @classmethod
    def _scoring_names_free(cls, entries: tuple[ScoringConfig, ...], info: ValidationInfo) -> tuple[ScoringConfig, ...]:
        # Scoring and training pipelines share the name space `<project>-<stage>-<name>`.
        problems = _clashes([entry.name for entry in entries], "", "scoring pipeline")
        training = {p.name for p in info.data.get("pipelines") or ()}
        for number, entry in enumerate(entries):
            if entry.name in training:
                problems.append(
                    (f"{number}.name", f"{entry.name!r} is a training pipeline's name too; each pipeline needs its own")
                )
        refuse(problems)
        return entries

    @field_validator("notebooks", "endpoints", "pipelines")
    @classmethod
    def _names_unique(cls, entries: tuple[Any, ...], info: ValidationInfo) -> tuple[Any, ...]:
        # Variant names too: checked here, beside the entries, so that both are reported at once (a rule of
        # the endpoint entry would fail the entry and skip this one).
        noun = str(info.field_name).removesuffix("s")
        problems = _clashes([entry.name for entry in entries], "", noun)
        for number, entry in enumerate(entries):
            if isinstance(entry, EndpointConfig):
                problems += _clashes([v.name for v in entry.variants], f"{number}.variants", "variant")
        refuse(problems)
        return entries


def _clashes(names: list[str], path: str, noun: str) -> list[Problem]:
    """One problem naming the names that entries share."""
    dupes = repeated(names)
    return [(path, f"names {dupes} are used more than once; each {noun} needs its own name")] if dupes else []
