"""Generates the stage-file reference: config/stage.schema.json (for editors) and the table in
docs/configuration.md.

`python -m config.reference --write` rewrites both; the tests fail when either is stale.
"""

from __future__ import annotations

import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from config.stage import StageConfig
from config.types import tagged_union

ROOT = Path(__file__).resolve().parent.parent
SCHEMA_FILE = ROOT / "config" / "stage.schema.json"
REFERENCE_DOC = ROOT / "docs" / "configuration.md"
BEGIN, END = "<!-- config-reference:begin -->", "<!-- config-reference:end -->"


def json_schema() -> str:
    schema = StageConfig.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "Stage file of the SageMaker platform (config/<stage>.yaml)"
    return json.dumps(schema, indent=2, sort_keys=True) + "\n"


def markdown_table() -> str:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    rows += _rows(StageConfig, "")
    return "\n".join(rows) + "\n"


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    for name, field in model.model_fields.items():
        path = f"{prefix}{name}"
        annotation = field.annotation
        union = tagged_union(field)
        if union is not None:
            discriminator, members = union
            for label, member in members.items():
                rows.append(f"| `{path}` ({discriminator}: {label}) | mapping | | {member.__doc__} |")
                rows += _rows(member, f"{path}.")
            continue
        nested = _model_of(annotation)
        if nested is not None:
            optional = " (optional)" if nested is not annotation else ""
            rows.append(f"| `{path}` | mapping{optional} | | {field.description} |")
            rows += _rows(nested, f"{path}.")
            continue
        item_model = _list_of_models(annotation)
        if item_model is not None:
            items = () if field.is_required() else field.get_default(call_default_factory=True) or ()
            default = (
                ""
                if field.is_required()
                else "`[" + ", ".join(str(i.model_dump(exclude_defaults=True)) for i in items) + "]`"
            )
            rows.append(f"| `{path}` | list of mappings | {default} | {field.description} |")
            rows += _rows(item_model, f"{path}[].")
            continue
        default = "" if field.is_required() else _show_default(field.get_default(call_default_factory=True))
        required = " **required**" if field.is_required() else ""
        description = (field.description or "").replace("|", "\\|")
        kind = (_type_name(annotation) + _constraints(field.metadata)).replace("|", "\\|")
        rows.append(f"| `{path}` | {kind} | {default} | {description}{required} |")
    return rows


def _model_of(annotation: Any) -> type[BaseModel] | None:
    """The model of a `Model` or `Model | None` field."""
    members = typing.get_args(annotation) if typing.get_origin(annotation) in (typing.Union, types.UnionType) else ()
    for candidate in (annotation, *members):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _list_of_models(annotation: Any) -> type[BaseModel] | None:
    if typing.get_origin(annotation) is tuple:
        first = typing.get_args(annotation)[0]
        if isinstance(first, type) and issubclass(first, BaseModel):
            return first
    return None


def _constraints(metadata: list[Any]) -> str:
    found = {
        name: getattr(m, name)
        for m in metadata
        for name in ("pattern", "ge", "le", "min_length")
        if getattr(m, name, None) is not None
    }
    parts = [f"`{found['pattern']}`"] if "pattern" in found else []
    if "ge" in found or "le" in found:
        parts.append(f"{found.get('ge', '')}..{found.get('le', '')}")
    if "min_length" in found:
        parts.append(f"at least {found['min_length']}")
    return f" ({', '.join(parts)})" if parts else ""


def _show_default(value: Any) -> str:
    if value is None or value is PydanticUndefined:
        return "none"
    if isinstance(value, tuple):
        return "`[" + ", ".join(map(str, value)) + "]`" if value else "`[]`"
    if isinstance(value, dict):
        return "`{}`" if not value else f"`{value}`"
    return f"`{json.dumps(value)}`"


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = [a for a in typing.get_args(annotation) if a is not type(None) and a is not Ellipsis]
    if origin is typing.Annotated:
        base, *meta = typing.get_args(annotation)
        pattern = next((m.pattern for m in meta if getattr(m, "pattern", None)), None)
        return f"{_type_name(base)} (`{pattern}`)" if pattern else _type_name(base)
    if origin is typing.Literal:
        return " or ".join(f"`{a}`" for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        optional = type(None) in typing.get_args(annotation)
        return " or ".join(_type_name(a) for a in args) + (" (optional)" if optional else "")
    if origin is tuple:
        return f"list of {_type_name(args[0])}"
    if origin is dict:
        return f"mapping of {_type_name(args[0])} to {_type_name(args[1])}"
    return {int: "integer", float: "number", str: "string", bool: "boolean"}.get(annotation, str(annotation))


def readme_with_reference(readme: str) -> str:
    block = f"{BEGIN}\n{markdown_table()}{END}"
    return re.sub(re.escape(BEGIN) + ".*?" + re.escape(END), lambda _: block, readme, flags=re.S)


def main(argv: list[str]) -> int:
    if argv != ["--write"]:
        print(markdown_table(), end="")
        return 0
    SCHEMA_FILE.write_text(json_schema(), encoding="utf-8")
    REFERENCE_DOC.write_text(readme_with_reference(REFERENCE_DOC.read_text(encoding="utf-8")), encoding="utf-8")
    print(f"wrote {SCHEMA_FILE.relative_to(ROOT)} and the reference in {REFERENCE_DOC.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
