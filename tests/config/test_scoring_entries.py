"""The `scoring` section of a stage file: scheduled scoring pipelines, refused before synth when their
schedule, name or transform is wrong."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from config import CONFIG_DIR, ConfigError, StageConfig, parse_stage, yaml_core

DEV: dict[str, Any] = yaml_core.load((CONFIG_DIR / "dev.yaml").read_text()).data
NIGHTLY = {"name": "nightly", "schedule": "cron(0 2 * * ? *)", "transform": {"input_prefix": "raw/nightly/"}}


def with_scoring(*entries: dict[str, Any]) -> dict[str, Any]:
    raw = copy.deepcopy(DEV)
    raw["scoring"] = list(entries)
    return raw


def parse(raw: dict[str, Any]) -> StageConfig:
    return parse_stage(raw, source="dev.yaml", stage="dev")


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse(raw)
    return raised.value.problems


def test_a_scoring_entry_takes_a_schedule_and_a_transform() -> None:
    (scoring,) = parse(with_scoring(NIGHTLY)).scoring
    assert (scoring.name, scoring.schedule, scoring.transform.input_prefix) == (
        "nightly",
        "cron(0 2 * * ? *)",
        "raw/nightly/",
    )
    assert parse(DEV).scoring == ()  # none by default


@pytest.mark.parametrize(
    ("entries", "expected"),
    [
        pytest.param(
            [NIGHTLY | {"schedule": "every night"}],
            r"^scoring.0.schedule: 'every night' is not a schedule expression: cron\(<6 fields>\) or "
            r"rate\(<n> <unit>\)$",
            id="schedule-eventbridge-refuses",
        ),
        pytest.param(
            [NIGHTLY | {"schedule": "rate(0 days)"}],
            r"^scoring.0.schedule: 'rate\(0 days\)' is not a schedule expression",
            id="rate-of-zero",
        ),
        pytest.param(
            [NIGHTLY | {"name": "sample"}],
            r"^scoring.0.name: 'sample' is a training pipeline's name too; each pipeline needs its own$",
            id="name-of-a-training-pipeline",
        ),
        pytest.param(
            [NIGHTLY, NIGHTLY],
            r"^scoring: names \['nightly'\] are used more than once; each scoring pipeline needs its own name$",
            id="name-twice",
        ),
        pytest.param(
            [NIGHTLY | {"name": "a" + "-b" * 24}],
            r"^scoring.0.name: 'smplat-dev-a(-b){24}' is too long for its schedule rule \(`<pipeline>-schedule`, at "
            r"most 64 characters\): shorten the name$",
            id="name-too-long-for-the-rule",
        ),
        pytest.param(
            [NIGHTLY | {"transform": {"input_prefix": "raw/../train/"}}],
            r"^scoring.0.transform.input_prefix: 'raw/../train/' must be a folder under raw/",
            id="input-prefix-outside-raw",
        ),
        pytest.param(
            [{"name": "nightly", "transform": {"input_prefix": "raw/nightly/"}}],
            r"^scoring.0.schedule: required but missing$",
            id="no-schedule",
        ),
    ],
)
def test_bad_scoring_entries_are_named(entries: list[dict[str, Any]], expected: str) -> None:
    found = problems(with_scoring(*entries))
    assert any(re.search(expected, p) for p in found), found
