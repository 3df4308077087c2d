"""The `labeling` section: the Ground Truth private workforce (a Cognito user pool the platform creates, or
one it imports) and the work teams on it, and their rules."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, field_validator

from config.types import Problem, ShortName, StageFacts, StrictModel, refuse, repeated, value_rule

# Cognito: a user pool id is `<region>_<id>`, an app client id 1-128 word characters (26 in practice).
UserPoolId = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d_[0-9a-zA-Z]+$")]
ClientId = Annotated[str, StringConstraints(pattern=r"^[\w+]{1,128}$")]
# Cognito's hosted domains: lowercase letters, digits and hyphens, neither first nor last, at most 63;
# AWS reserves prefixes containing `aws`, `amazon` or `cognito`.
RESERVED_IN_DOMAIN = ("aws", "amazon", "cognito")
DomainPrefix = Annotated[
    str,
    StringConstraints(pattern=r"^[a-z0-9](-?[a-z0-9])*$", max_length=63),
    value_rule(
        lambda prefix: (
            f"{prefix!r} contains a word Cognito reserves ({', '.join(RESERVED_IN_DOMAIN)})"
            if any(word in prefix for word in RESERVED_IN_DOMAIN)
            else None
        )
    ),
]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$", max_length=254)]
WORKTEAM_NAME_LIMIT = 63  # SageMaker's limit for a work team name
# SageMaker's pattern for a work team description.
Description = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[^\x00-\x1f]+$")]


class NewWorkforce(StrictModel):
    """A Cognito user pool the platform creates: invited workers only, password policy, MFA, portal domain."""

    source: Literal["create"] = Field(description="`create`: the platform creates the user pool.")
    domain_prefix: DomainPrefix = Field(
        description="Prefix of the sign-in domain `https://<prefix>.auth.<region>.amazoncognito.com`, unique in "
        "the region (lowercase letters, digits, hyphens; no `aws`, `amazon`, `cognito`)."
    )
    password_minimum_length: int = Field(
        default=12, ge=8, le=99, description="Minimum password length (8-99); upper, lower, digits and symbols."
    )
    temporary_password_validity_days: int = Field(
        default=7, ge=1, le=365, description="Days an invited worker's temporary password stays valid."
    )


class ImportedWorkforce(StrictModel):
    """An existing Cognito user pool and app client, e.g. those of the account's existing private workforce."""

    source: Literal["import"] = Field(description="`import`: use an existing user pool and app client.")
    user_pool_id: UserPoolId = Field(description="The user pool, e.g. eu-west-1_AbCdEf123.")
    client_id: ClientId = Field(description="Its app client (with a secret, the OAuth flows Ground Truth uses).")
    portal_url: str | None = Field(
        default=None,
        pattern=r"^https://[A-Za-z0-9.\-]+(/[A-Za-z0-9._~/\-]*)?$",
        description="The labeling portal's sign-in URL, published as `LabelingPortalUrl` (optional).",
    )

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        pool_region = self.user_pool_id.split("_", 1)[0]
        if stage.region is not None and pool_region != stage.region:
            yield (
                "user_pool_id",
                f"{self.user_pool_id!r} is a user pool of {pool_region!r}; a work team uses a pool of its own "
                f"region ({stage.region!r})",
            )


Workforce = Annotated[NewWorkforce | ImportedWorkforce, Field(discriminator="source")]


class WorkTeamConfig(StrictModel):
    """A private work team: a Cognito user group of the workforce's pool, and an encrypted SNS topic that
    tells its members about new tasks."""

    name: ShortName = Field(
        description="Lowercase name; the team is `<project>-<stage>-<name>`, its user group `<name>` (create-only)."
    )
    description: Description = Field(description="What the team labels (shown in the console), 1-200 characters.")
    notification_email: Email | None = Field(
        default=None, description="Subscribed to the team's new-task topic (confirms by email); default none."
    )

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        names = stage.names
        if names is not None and len(names.physical(self.name)) > WORKTEAM_NAME_LIMIT:
            yield (
                "name",
                f"{names.physical(self.name)!r} is longer than a work team name may be "
                f"({WORKTEAM_NAME_LIMIT} characters): shorten the name",
            )


class LabelingConfig(StrictModel):
    """Ground Truth labeling: the private workforce and its work teams. An account has at most one private
    workforce per region, and SageMaker creates it with the first private work team from that team's Cognito
    pool and client: when the account's workforce already exists, import its pool and client."""

    workforce: Workforce = Field(description="The private workforce: `create` a Cognito user pool, or `import` one.")
    work_teams: tuple[WorkTeamConfig, ...] = Field(
        min_length=1, description="Work teams, one per entry (see `labeling.work_teams[]` below); at least one."
    )

    # A field rule, so that it is reported even when the workforce is invalid.
    @field_validator("work_teams")
    @classmethod
    def _names_unique(cls, teams: tuple[WorkTeamConfig, ...]) -> tuple[WorkTeamConfig, ...]:
        if dupes := repeated(team.name for team in teams):
            refuse([("", f"names {dupes} are used more than once; each work team needs its own name")])
        return teams
