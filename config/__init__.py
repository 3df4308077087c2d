"""Loads and validates a stage file (config/<stage>.yaml) into a typed StageConfig.

One module per section of the stage file holds its models and their rules together: network.py,
data.py, notebooks.py, endpoints.py (with model_sources.py, autoscaling.py and deployment.py), and
stage.py for the stage itself; types.py holds what they share. To add a section (say `pipelines`):
write config/pipelines.py with StrictModel subclasses; put a rule on one value into its Annotated
type (`value_rule`), a rule across a model's fields into the model's `problems` method, and read
stage-wide facts (stage name, account, region, sandbox, repositories) from the `StageFacts` it gets.
Then add the field to StageConfig (config/stage.py) and run `python -m config.reference --write`.
"""

from __future__ import annotations

import json
import typing
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from config import yaml_core
from config.data import DataConfig
from config.stage import StageConfig
from config.types import RULES, StageFacts, tagged_union
from sagemaker_facts import RETIRED_KEYS

__all__ = ["CONFIG_DIR", "ConfigError", "StageConfig", "available_stages", "load_stage", "parse_stage"]

CONFIG_DIR = Path(__file__).resolve().parent


class ConfigError(Exception):
    """A stage file is missing or invalid; the message lists every problem, one per line."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        count = f"{len(problems)} problem{'s' if len(problems) != 1 else ''}"
        super().__init__(f"{source}: {count}\n" + "\n".join(f"  - {p}" for p in problems))


def available_stages(config_dir: Path = CONFIG_DIR) -> list[str]:
    return sorted(p.stem for p in config_dir.glob("*.yaml"))


def load_stage(stage: str, config_dir: Path = CONFIG_DIR) -> StageConfig:
    """Read config_dir/<stage>.yaml and validate it completely, or raise ConfigError."""
    path = config_dir / f"{stage}.yaml"
    stages = available_stages(config_dir)
    if stage not in stages:
        raise ConfigError(
            f"stage {stage!r}",
            [f"no such stage in {config_dir}; valid stages: {', '.join(stages) or '(none)'}"],
        )
    try:
        document = yaml_core.load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(str(path), [f"not valid YAML: {err}"]) from None
    return parse_stage(
        document.data, source=str(path), stage=stage, written=document.written, problems=document.problems
    )


def parse_stage(
    raw: Any,
    *,
    source: str,
    stage: str | None = None,
    written: Mapping[tuple[str, ...], str] | None = None,
    problems: Sequence[str] = (),
) -> StageConfig:
    """Validate a stage file's content completely, or raise ConfigError with every problem.
    `written`: the source text of non-string scalars by path, shown in messages instead of the
    parsed value; `problems`: what reading the file found already (keys given twice)."""
    if not isinstance(raw, dict):
        raise ConfigError(source, [f"the file must hold a mapping of settings, got {type(raw).__name__}"])
    found = [*problems, *_retired_problems(raw, ())]
    try:
        # Through JSON so that strict mode accepts YAML lists for tuple fields.
        config = StageConfig.model_validate_json(_json(raw), context=_facts(raw, stage))
    except ValidationError as err:
        errors = err.errors()
        found += _messages([e for e in errors if not _is_retired(e) and not _is_echo(e, errors)], written or {})
    if found:
        raise ConfigError(source, list(dict.fromkeys(found)))
    return config


def _json(value: object) -> str:
    return json.dumps(value, default=str)


def _facts(raw: dict[str, Any], stage: str | None) -> StageFacts:
    """What the rules inside the sections may know about the whole stage, each None unless usable."""

    def text(key: str) -> str | None:
        return value if isinstance(value := raw.get(key), str) else None

    try:
        repositories: tuple[str, ...] | None = DataConfig.model_validate_json(
            _json(raw.get("data", {}))
        ).container_repositories
    except ValidationError:
        repositories = None  # reported by the data section itself
    sandbox = raw.get("sandbox")
    return StageFacts(
        stage=stage,
        project=text("project"),
        account=text("account"),
        region=text("region"),
        sandbox=sandbox if isinstance(sandbox, bool) else None,
        repositories=repositories,
    )


def _retired_problems(node: Any, path: tuple[str, ...]) -> list[str]:
    found: list[str] = []
    if isinstance(node, dict):
        for key, value in node.items():
            here = (*path, str(key))
            if key in RETIRED_KEYS:
                found.append(f"{'.'.join(here)}: {value!r} is refused: {RETIRED_KEYS[key]}")
            found += _retired_problems(value, here)
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found += _retired_problems(value, (*path, str(index)))
    return found


def _is_retired(error: ErrorDetails) -> bool:
    return error["type"] == "extra_forbidden" and str(error["loc"][-1]) in RETIRED_KEYS


def _is_echo(error: ErrorDetails, errors: list[ErrorDetails]) -> bool:
    """A tuple's length counts only its valid items: one with an invalid item is "too short" as well."""
    loc = error["loc"]
    return error["type"] == "too_short" and any(
        len(e["loc"]) > len(loc) and e["loc"][: len(loc)] == loc for e in errors
    )


@dataclass(frozen=True)
class _Place:
    """Where an error's location leads in the schema."""

    path: tuple[str, ...]  # the location as the stage file spells it (without union tags)
    model: type[BaseModel] | None  # the model there, if any
    union: tuple[str, dict[str, type[BaseModel]]] | None = None  # a tagged union there: discriminator, members
    tag: str | None = None  # the tag that chose `model` from `union`


def _place(loc: tuple[int | str, ...]) -> _Place:
    place = _Place((), StageConfig)
    for part in loc:
        if place.union is not None and part in place.union[1]:  # the tag pydantic puts into the location
            place = _Place(place.path, place.union[1][str(part)], place.union, str(part))
            continue
        path = (*place.path, str(part))
        field = place.model.model_fields.get(part) if place.model is not None and isinstance(part, str) else None
        if field is None:  # a list index keeps the items' model; a mapping or unknown key has none
            place = _Place(path, place.model if isinstance(part, int) else None)
        elif (union := tagged_union(field)) is not None:
            place = _Place(path, None, union)
        else:
            place = _Place(path, _model_of(field.annotation))
    return place


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model of a `Model`, `Model | None` or `tuple[Model, ...]` field."""
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _messages(errors: list[ErrorDetails], written: Mapping[tuple[str, ...], str]) -> list[str]:
    """One message per problem: what the schema refuses first, then what the rules refuse."""
    # Keys that belong to another member of a tagged union, per place: one message names them all.
    misplaced: dict[tuple[int | str, ...], list[str]] = defaultdict(list)
    for error in errors:
        parent = _place(error["loc"][:-1])
        if error["type"] == "extra_forbidden" and str(error["loc"][-1]) in _other_members_keys(parent):
            misplaced[error["loc"][:-1]].append(str(error["loc"][-1]))
    ordered = sorted(errors, key=lambda error: error["type"] == RULES)
    return [message for error in ordered for message in _describe(error, misplaced, written)]


def _other_members_keys(place: _Place) -> set[str]:
    if place.union is None or place.model is None:
        return set()
    return {key for member in place.union[1].values() for key in member.model_fields} - set(place.model.model_fields)


def _describe(
    error: ErrorDetails, misplaced: dict[tuple[int | str, ...], list[str]], written: Mapping[tuple[str, ...], str]
) -> list[str]:
    loc, kind, value = error["loc"], error["type"], error.get("input")
    if kind == RULES:
        ctx = error.get("ctx", {})
        base = _place(loc[:-1] if ctx["from_field"] else loc).path
        return [f"{'.'.join(p for p in (*base, suffix) if p)}: {message}" for suffix, message in ctx["problems"]]
    place, parent = _place(loc), _place(loc[:-1])
    path = ".".join(place.path) or "(top level)"
    if kind == "extra_forbidden" and parent.model is not None:
        if parent.union is not None and str(loc[-1]) in (keys := misplaced.get(loc[:-1], [])):
            discriminator, members = parent.union
            common = set.intersection(*(set(member.model_fields) for member in members.values()))
            takes = [key for key in parent.model.model_fields if key not in common]
            return [
                f"{'.'.join(parent.path)}: {sorted(keys)} do not apply to {discriminator} {parent.tag!r}; "
                f"it takes {takes}"
            ]
        return [
            f"{path}: unknown key (value {value!r}); allowed keys here: {', '.join(sorted(parent.model.model_fields))}"
        ]
    if kind == "missing":
        if parent.union is not None:
            return [f"{path}: required for {parent.union[0]} {parent.tag!r}"]
        return [f"{path}: required but missing"]
    if kind in ("union_tag_invalid", "union_tag_not_found") and place.union is not None:
        discriminator, members = place.union
        *others, last = [repr(tag) for tag in members]
        allowed = f"{', '.join(others)} or {last}" if others else last
        if kind == "union_tag_not_found":
            return [f"{path}.{discriminator}: required but missing; allowed: {allowed}"]
        return [f"{path}.{discriminator}: {error.get('ctx', {}).get('tag')!r} is invalid: Input should be {allowed}"]
    if place.path in written:  # a number, boolean or null as the file spells it, e.g. 0123 (not 123)
        hint = f"; to mean the text, quote it: '{written[place.path]}'" if kind == "string_type" else ""
        return [f"{path}: {written[place.path]} is invalid: {error['msg']}{hint}"]
    return [f"{path}: {value!r} is invalid: {error['msg']}"]
