"""The `data` section: the stateful data platform (key, buckets, channels, container repositories, registry)."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from config.network import LogRetentionDays
from config.types import RepositoryName, StrictModel, repeated, value_rule

RepositoryNames = Annotated[
    tuple[RepositoryName, ...],
    value_rule(
        lambda names: f"{dupes} listed more than once; names must be unique" if (dupes := repeated(names)) else None
    ),
]


class DataConfig(StrictModel):
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
    data_capture_retention_days: int = Field(
        default=90,
        ge=1,
        le=3650,
        description="Days captured endpoint requests and responses (`data-capture/` of the artifacts bucket) are kept; "
        "the old version is deleted a day later.",
    )
    container_repositories: RepositoryNames = Field(
        default=("training", "inference"),
        min_length=1,
        description="ECR repositories for bring-your-own images, named "
        "`<project>-<stage>-<name>`. Removing one deletes (sandbox) or orphans (RETAIN) it.",
    )
    max_images_per_repository: int = Field(default=50, ge=1, le=10000, description="Tagged images kept per repository.")
    untagged_image_expiry_days: int = Field(
        default=7, ge=1, le=365, description="Days after which untagged images are expired."
    )
    sagemaker_log_retention_days: LogRetentionDays = Field(
        default=365,
        description="Retention of the log groups SageMaker writes to (endpoints, and the account-wide groups of "
        "jobs and notebook instances), one of CloudWatch's periods.",
    )
    declare_account_log_groups: bool = Field(
        default=True,
        description="true: this stage declares SageMaker's account-wide log groups (`/aws/sagemaker/TrainingJobs`, "
        "`ProcessingJobs`, `TransformJobs`, `NotebookInstances`) with the platform key and the retention above. "
        "Their names are per account and region: where stages share an account and region, set it true in exactly "
        "one of them (the others' jobs and notebooks write to the same groups).",
    )
