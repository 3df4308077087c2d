"""The `notebooks` section: SageMaker notebook instances, one per entry, and their rules."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BeforeValidator, Field, StringConstraints

from config.types import ShortName, StrictModel, refuse, value_rule
from sagemaker_facts import NOTEBOOK_INSTANCE_TYPES, RETIRED_NOTEBOOK_PLATFORMS

PipRequirement = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._\-\[\],<>=!~]{0,99}$")]
GitUrl = Annotated[str, StringConstraints(pattern=r"^https://[A-Za-z0-9.\-]+(:\d+)?/[A-Za-z0-9._~/\-]+$")]
GitBranch = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._/\-]{1,100}$")]


def _not_retired(platform: Any) -> Any:
    """Before the check against the supported platforms, so that a retired one gets its replacement named."""
    if isinstance(platform, str) and platform in RETIRED_NOTEBOOK_PLATFORMS:
        refuse([("", f"{platform!r} is refused: {RETIRED_NOTEBOOK_PLATFORMS[platform]}")])
    return platform


PlatformIdentifier = Annotated[
    Literal["notebook-al2-v2", "notebook-al2-v3", "notebook-al2023-v1"], BeforeValidator(_not_retired)
]
NotebookInstanceType = Annotated[
    str,
    value_rule(
        lambda kind: (
            None
            if kind in NOTEBOOK_INSTANCE_TYPES
            else f"{kind!r} is not an instance type SageMaker offers for notebooks; "
            "e.g. ml.t3.medium, ml.t3.large, ml.m5.xlarge, ml.g5.xlarge"
        )
    ),
]


class CodeRepository(StrictModel):
    """A Git repository cloned into the notebook (a SageMaker code repository)."""

    url: GitUrl = Field(description="HTTPS URL, reachable from the VPC (e.g. CodeCommit through its endpoint).")
    branch: GitBranch = Field(default="main", description="Branch checked out on first start.")


class NotebookConfig(StrictModel):
    """A SageMaker notebook instance for one person or team."""

    name: ShortName = Field(
        description="Lowercase name; the instance is `<project>-<stage>-<name>`. Renaming replaces the "
        "instance and its volume."
    )
    owner: str = Field(min_length=1, max_length=128, description="Who it is for (tagged `Owner`).")
    instance_type: NotebookInstanceType = Field(
        default="ml.t3.medium", description="A notebook instance type SageMaker offers."
    )
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
