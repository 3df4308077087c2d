"""Reads a stage file as YAML 1.2 (core schema), the rules editors apply with the JSON Schema, and
refuses a key given twice.

PyYAML alone follows YAML 1.1: `yes`, `on` and `off` are booleans, `0123` is octal 83, `1_000` is
1000 and `2026-01-01` a date, and a repeated key silently replaces the earlier one (a second
`sandbox:` line would turn a sandbox into a retained stage). Here plain scalars resolve as YAML 1.2
core says (`true`/`false` in three spellings, decimal, `0o` and `0x` integers, floats, `null`/`~`,
every other plain scalar a string; YAML 1.2 has no merge key, so `<<` is an ordinary key), and the
source text of each scalar that is not a string is kept, so that an error can show the value as
the user wrote it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

Path = tuple[str, ...]


class _CoreLoader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 core implicit types instead of YAML 1.1's."""


_CoreLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        list("-+.0123456789"),
    ),
):
    _CoreLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)


def _core_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    text = str(loader.construct_scalar(node))
    if text.startswith(("0o", "0x")):
        return int(text[2:], 8 if text[1] == "o" else 16)
    return int(text, 10)  # 0123 is decimal 123 in YAML 1.2, not octal


_CoreLoader.add_constructor("tag:yaml.org,2002:int", _core_int)


@dataclass
class StageDocument:
    """A stage file's content, the source text of its non-string scalars by path, and its problems."""

    data: Any = None
    written: dict[Path, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def load(text: str) -> StageDocument:
    """Parse `text`; raises yaml.YAMLError when it is not YAML at all."""
    loader = _CoreLoader(text)
    try:
        node = loader.get_single_node()
        document = StageDocument()
        document.data = _build(loader, node, (), document) if node is not None else None
        return document
    finally:
        loader.dispose()


def _build(loader: _CoreLoader, node: yaml.Node, path: Path, document: StageDocument) -> Any:
    if isinstance(node, yaml.MappingNode):
        result: dict[Any, Any] = {}
        lines: dict[Any, int] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            line = key_node.start_mark.line + 1
            if key in lines:
                document.problems.append(
                    f"{'.'.join((*path, str(key)))}: given twice, on lines {lines[key]} and {line}; "
                    "remove one (YAML would silently keep only the last)"
                )
                continue
            lines[key] = line
            result[key] = _build(loader, value_node, (*path, str(key)), document)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [_build(loader, item, (*path, str(index)), document) for index, item in enumerate(node.value)]
    value = loader.construct_object(node, deep=True)
    if not isinstance(value, str):
        document.written[path] = str(node.value)
    return value
