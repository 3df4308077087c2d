"""What every section of the stage file shares: the strict base model, its rules, stage facts, common types."""

from __future__ import annotations

import typing
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Annotated, Any, Self

from pydantic import AfterValidator, BaseModel, ConfigDict, StringConstraints, ValidationInfo, model_validator
from pydantic.fields import FieldInfo
from pydantic_core import PydanticCustomError

from naming import StageNames

# One problem found by a rule: (path below the place the rule checks, "" for the place itself; message).
Problem = tuple[str, str]
# The error type that carries a rule's problems; the loader lists each with its full path.
RULES = "stage_rules"


def refuse(problems: Iterable[Problem], *, from_field: bool = False) -> None:
    """Raise all `problems` of one model or value as one validation error (none: return).

    `from_field`: raised by a field validator; its paths then start at the model, not at the field."""
    if found := list(problems):
        raise PydanticCustomError(RULES, "{problems}", {"problems": found, "from_field": from_field})


def value_rule(check: Callable[[Any], str | None]) -> AfterValidator:
    """A rule on one value: `check` returns why the value is refused, or None."""

    def validate(value: Any) -> Any:
        if (why := check(value)) is not None:
            refuse([("", why)])
        return value

    return AfterValidator(validate)


@dataclass(frozen=True)
class StageFacts:
    """Facts about the whole stage that rules inside a section need, given as validation context by
    the loader. Each is None when unknown: not given, not of its type, or (repositories) the data
    section is invalid."""

    stage: str | None = None
    project: str | None = None
    account: str | None = None
    region: str | None = None
    sandbox: bool | None = None
    repositories: tuple[str, ...] | None = None  # data.container_repositories

    @classmethod
    def of(cls, info: ValidationInfo) -> StageFacts:
        return info.context if isinstance(info.context, StageFacts) else cls()

    @property
    def names(self) -> StageNames | None:
        return StageNames(self.project, self.stage) if self.project and self.stage else None

    @property
    def env_known(self) -> bool:
        """False with only one of account/region: whether the stage is environment-agnostic is open."""
        return (self.account is None) == (self.region is None)


class StrictModel(BaseModel):
    """Frozen, strict, no unknown keys; `problems` states the rules across its fields."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        """This model's rules across its fields (run once all its fields are valid)."""
        return iter(())

    @model_validator(mode="after")
    def _check_rules(self, info: ValidationInfo) -> Self:
        refuse(self.problems(StageFacts.of(info)))
        return self


def tagged_union(field: FieldInfo) -> tuple[str, dict[str, type[BaseModel]]] | None:
    """The discriminator and the tag -> model map of a tagged-union field (`network`, `model`), else None."""
    if not isinstance(field.discriminator, str):
        return None
    members = typing.get_args(field.annotation)
    return field.discriminator, {
        tag: member
        for member in members
        for tag in typing.get_args(member.model_fields[field.discriminator].annotation)
    }


def repeated(values: Iterable[object]) -> list[str]:
    """The values that occur more than once, as sorted strings."""
    seen = list(values)
    return sorted({str(v) for v in seen if seen.count(v) > 1})


REGION_PATTERN = r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$"
ProjectName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,19}$")]
RepositoryName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9-]{1,29}$")]
# Names of entries (notebooks, scheduled actions): lowercase letters and digits, single hyphens.
ShortName = Annotated[str, StringConstraints(pattern=r"^[a-z0-9](-?[a-z0-9]){0,39}$")]
Account = Annotated[str, StringConstraints(pattern=r"^\d{12}$")]
Region = Annotated[str, StringConstraints(pattern=REGION_PATTERN)]
AvailabilityZone = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d[a-z]$")]
TagKey = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[\w .:/=+\-@]+$")]
TagValue = Annotated[str, StringConstraints(max_length=256, pattern=r"^[\w .:/=+\-@]*$")]
