"""Where an endpoint's model comes from: an artifact with an image, the platform's registry, or AWS Marketplace."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from config.types import Problem, RepositoryName, StageFacts, StrictModel, value_rule

LATEST_APPROVED = "latest-approved"
IMAGE_URI = re.compile(
    r"^\d{12}\.dkr\.ecr\.[a-z0-9-]+\.amazonaws\.com(\.cn)?/[a-z0-9][a-z0-9._/-]*(:[\w][\w.-]{0,127}|@sha256:[0-9a-f]{64})$"
)
ARTIFACT_KEY = re.compile(r"^[A-Za-z0-9!_.*'()-][A-Za-z0-9!_.*'()/-]*\.tar\.gz$")
PACKAGE_ARN = re.compile(
    r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):(?P<account>\d{12}):model-package/"
    r"(?P<name>[A-Za-z0-9](-*[A-Za-z0-9]){0,62})(/(?P<version>\d+))?$"
)

ImageTag = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}$")]
EnvName = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,1023}$")]
Environment = Annotated[
    dict[EnvName, str], Field(default_factory=dict, description="Environment of the model container.")
]
# The artifacts bucket's policy lets only the ModelPublisher role write under this prefix
# (docs/security.md); anywhere else, notebooks and jobs could replace what an endpoint serves.
PUBLISHED_MODELS = "models/"


def _artifact_key_problem(key: str) -> str | None:
    if not ARTIFACT_KEY.fullmatch(key):
        return f"{key!r} must be an object key ending in .tar.gz, e.g. models/fraud/v3/model.tar.gz"
    if not key.startswith(PUBLISHED_MODELS):
        return (
            f"{key!r} must be under {PUBLISHED_MODELS} (only the model publisher writes there; endpoints serve only "
            "published models), e.g. models/fraud/v3/model.tar.gz"
        )
    return None


ArtifactKey = Annotated[str, value_rule(_artifact_key_problem)]
ImageUri = Annotated[
    str,
    value_rule(
        lambda uri: (
            None
            if IMAGE_URI.fullmatch(uri)
            else f"{uri!r} is not an ECR image URI with a tag or digest, e.g. "
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com/name:tag"
        )
    ),
]


class ImageReference(StrictModel):
    """An image in one of the platform's ECR repositories."""

    repository: RepositoryName = Field(description="One of `data.container_repositories`, e.g. `inference`.")
    tag: ImageTag = Field(description="Image tag (the repositories are tag-immutable: a new build needs a new tag).")


class ArtifactModel(StrictModel):
    """A model.tar.gz in the artifacts bucket, served by a platform image or an AWS image."""

    source: Literal["artifact"] = Field(description="`artifact`: a model.tar.gz in the artifacts bucket with an image.")
    artifact_key: ArtifactKey = Field(
        description="Object key of the model.tar.gz in the artifacts bucket, under `models/` (which only the "
        "`ModelPublisher` role writes), e.g. `models/fraud/v3/model.tar.gz`."
    )
    image: ImageReference | None = Field(
        default=None, description="A bring-your-own image from a platform repository; give this or `image_uri`."
    )
    image_uri: ImageUri | None = Field(
        default=None,
        description="A built-in or framework image URI instead of `image` (e.g. from `sagemaker.image_uris.retrieve`).",
    )
    environment: Environment

    @property
    def container_image(self) -> ImageReference | str:
        """The platform image, or else the AWS image URI (the rules below allow exactly one)."""
        if self.image is not None:
            return self.image
        if self.image_uri is None:
            raise ValueError("an artifact model needs image or image_uri")
        return self.image_uri

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        if (self.image is None) == (self.image_uri is None):
            yield "", "give exactly one of image (a platform repository and tag) or image_uri"
        repositories = stage.repositories
        if self.image is not None and repositories is not None and self.image.repository not in repositories:
            yield (
                "image.repository",
                f"{self.image.repository!r} is not one of the platform's repositories "
                f"(data.container_repositories: {list(repositories)})",
            )


def _region_problems(package: str, match: re.Match[str], stage: StageFacts) -> Iterator[Problem]:
    if stage.region is not None and match["region"] != stage.region:
        yield "model_package", f"{package!r} is in region {match['region']!r}, the stage deploys to {stage.region!r}"


class RegistryModel(StrictModel):
    """An approved model package of the platform's model registry."""

    source: Literal["registry"] = Field(description="`registry`: an approved package of the platform's model registry.")
    model_package: str = Field(
        description="A model package version ARN of the platform's group `<project>-<stage>`, or `latest-approved` "
        "(resolved at deploy time from SSM `/<project>/<stage>/latest-approved-model-package`)."
    )
    environment: Environment

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        package = self.model_package
        if package == LATEST_APPROVED:
            return
        match = PACKAGE_ARN.fullmatch(package)
        if match is None or match["version"] is None:
            yield (
                "model_package",
                f"{package!r} is not a model package version ARN "
                f"(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>) nor {LATEST_APPROVED!r}",
            )
            return
        yield from _region_problems(package, match, stage)
        if stage.account is not None and match["account"] != stage.account:
            yield "model_package", f"{package!r} is in account {match['account']}, the stage's is {stage.account}"
        names = stage.names
        if names is not None and match["name"] != names.model_package_group:
            yield (
                "model_package",
                f"{package!r} is in group {match['name']!r}; this stage's registry is {names.model_package_group!r}",
            )


class MarketplaceModel(StrictModel):
    """A model package subscribed to in AWS Marketplace (the seller's image and artifact)."""

    source: Literal["marketplace"] = Field(description="`marketplace`: a subscribed AWS Marketplace model package.")
    model_package: str = Field(description="The model package ARN of the subscription (no version).")
    environment: Environment

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        package = self.model_package
        match = PACKAGE_ARN.fullmatch(package)
        if match is None or match["version"] is not None:
            yield (
                "model_package",
                f"{package!r} is not a marketplace model package ARN "
                "(arn:aws:sagemaker:<region>:<seller account>:model-package/<name>, no version)",
            )
            return
        yield from _region_problems(package, match, stage)


ModelConfig = Annotated[ArtifactModel | RegistryModel | MarketplaceModel, Field(discriminator="source")]
