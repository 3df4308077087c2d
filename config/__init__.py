"""Loads and validates a stage file (config/<stage>.yaml) into a typed StageConfig."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from config.schema import RETIRED_PLATFORMS, ExistingVpc, NewVpc, StageConfig, cross_field_problems

CONFIG_DIR = Path(__file__).resolve().parent

# Keys of AWS features that no longer exist, with what to use instead. Matched at any depth.
RETIRED_KEYS = {
    key: "Elastic Inference accelerators reached end of life in April 2024 and can no longer be "
    "attached; use a GPU (ml.g5, ml.g6) or AWS Inferentia (ml.inf2) instance type instead"
    for key in ("accelerator_type", "accelerator_types", "elastic_inference")
}


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
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        raise ConfigError(str(path), [f"not valid YAML: {err}"]) from None
    return parse_stage(raw, source=str(path), stage=stage)


def parse_stage(raw: Any, *, source: str, stage: str | None = None) -> StageConfig:
    if not isinstance(raw, dict):
        raise ConfigError(source, [f"the file must hold a mapping of settings, got {type(raw).__name__}"])
    problems = _retired_problems(raw, ())
    config: StageConfig | None = None
    try:
        # Through JSON so that strict mode accepts YAML lists for tuple fields.
        config = StageConfig.model_validate_json(json.dumps(raw, default=str))
    except ValidationError as err:
        problems += [_describe(e) for e in err.errors() if not _is_retired(e) and not _is_retired_platform(e)]
    problems += cross_field_problems(raw, stage)
    if problems:
        raise ConfigError(source, list(dict.fromkeys(problems)))
    assert config is not None
    return config


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


def _is_retired(error: Any) -> bool:
    return error["type"] == "extra_forbidden" and str(error["loc"][-1]) in RETIRED_KEYS


def _is_retired_platform(error: Any) -> bool:
    return str(error["loc"][-1]) == "platform_identifier" and error.get("input") in RETIRED_PLATFORMS


def _describe(error: Any) -> str:
    # Drop the discriminator tag pydantic puts into the location of a tagged union member.
    loc = [str(part) for part in error["loc"] if part not in ("create", "import")]
    path = ".".join(loc) or "(top level)"
    kind, value = error["type"], error.get("input")
    if kind == "extra_forbidden":
        allowed = ", ".join(_allowed_keys(loc[:-1]))
        return f"{path}: unknown key (value {value!r}); allowed keys here: {allowed}"
    if kind == "missing":
        return f"{path}: required but missing"
    if kind == "union_tag_invalid" or kind == "union_tag_not_found":
        return f"{path}: source must be 'create' (a new VPC) or 'import' (an existing VPC), got {value!r}"
    return f"{path}: {value!r} is invalid: {error['msg']}"


def _allowed_keys(parent: list[str]) -> list[str]:
    model: Any = StageConfig
    for part in parent:
        if part.isdigit() or model is None:
            continue
        field = model.model_fields.get(part)
        annotation = field.annotation if field else None
        model = annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None
    if model is None:
        # The network union: list the keys of both kinds.
        return sorted(set(NewVpc.model_fields) | set(ExistingVpc.model_fields))
    return sorted(model.model_fields)
