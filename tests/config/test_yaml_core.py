"""Stage files are read as YAML 1.2 core, like the editors that validate them with the JSON Schema,
and a key given twice is refused with both lines instead of the later one silently winning."""

from __future__ import annotations

from pathlib import Path

import pytest

from config import CONFIG_DIR, ConfigError, load_stage, yaml_core

DEV = (CONFIG_DIR / "dev.yaml").read_text()


def problems_of(tmp_path: Path, text: str) -> list[str]:
    (tmp_path / "dev.yaml").write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_stage("dev", tmp_path)
    return caught.value.problems


def test_a_key_given_twice_is_refused_with_both_lines(tmp_path: Path) -> None:
    # A second `sandbox:` at the end of the shipped file would turn the sandbox into a retained stage.
    text = DEV + "\nsandbox: false\n"
    assert DEV.splitlines()[5] == "sandbox: true" and len(text.splitlines()) == 103
    assert problems_of(tmp_path, text) == [
        "sandbox: given twice, on lines 6 and 103; remove one (YAML would silently keep only the last)"
    ]


def test_nested_repeats_are_all_reported(tmp_path: Path) -> None:
    text = "project: smplat\nsandbox: true\nnetwork:\n  source: create\n  cidr: 10.1.0.0/16\n  cidr: 10.2.0.0/16\n"
    text += "endpoints: []\nendpoints: []\n"
    assert problems_of(tmp_path, text) == [
        "network.cidr: given twice, on lines 5 and 6; remove one (YAML would silently keep only the last)",
        "endpoints: given twice, on lines 7 and 8; remove one (YAML would silently keep only the last)",
    ]


def test_a_number_where_text_belongs_is_shown_as_written(tmp_path: Path) -> None:
    text = DEV.replace("tags:\n", "tags:\n  owner: 0123\n", 1)
    assert problems_of(tmp_path, text) == [
        "tags.owner: 0123 is invalid: Input should be a valid string; to mean the text, quote it: '0123'"
    ]
    quoted = DEV.replace("tags:\n", "tags:\n  owner: '0123'\n", 1)
    (tmp_path / "dev.yaml").write_text(quoted)
    assert load_stage("dev", tmp_path).tags["owner"] == "0123"


@pytest.mark.parametrize(
    ("scalar", "value"),
    [
        ("0123", 123),  # YAML 1.1: octal 83
        ("0o17", 15),
        ("0x1F", 31),
        ("yes", "yes"),  # YAML 1.1: true
        ("off", "off"),  # YAML 1.1: false
        ("True", True),
        ("FALSE", False),
        ("1_000", "1_000"),  # YAML 1.1: 1000
        ("2026-01-01", "2026-01-01"),  # YAML 1.1: a date
        ("1.5e3", 1500.0),
        ("~", None),
        ("Null", None),
        (".inf", float("inf")),
        ("12:30", "12:30"),  # YAML 1.1: sexagesimal 750
    ],
)
def test_plain_scalars_resolve_as_yaml_1_2_core(scalar: str, value: object) -> None:
    document = yaml_core.load(f"key: {scalar}\n")
    assert document.data == {"key": value} and type(document.data["key"]) is type(value)
    assert document.written.get(("key",)) == (None if isinstance(value, str) else scalar)


def test_anchors_work_and_merge_keys_are_ordinary_keys_as_in_yaml_1_2() -> None:
    document = yaml_core.load("base: &b {a: 1}\nsame: *b\nderived:\n  <<: *b\n  b: 3\n")
    assert document.data == {"base": {"a": 1}, "same": {"a": 1}, "derived": {"<<": {"a": 1}, "b": 3}}
    assert document.problems == []
