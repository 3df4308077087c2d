"""Pipeline definitions in tests: their steps (the condition's branches included) and a step's
Arguments made concrete, to validate them against botocore's SageMaker model."""

from __future__ import annotations

from typing import Any

from botocore.session import get_session
from botocore.validate import ParamValidator

# The SageMaker operation whose request each kind of step's Arguments are.
OPERATIONS = {
    "Processing": "CreateProcessingJob",
    "Training": "CreateTrainingJob",
    "Tuning": "CreateHyperParameterTuningJob",
    "RegisterModel": "CreateModelPackage",
    "Model": "CreateModel",
    "Transform": "CreateTransformJob",
}


def steps(definition: dict[str, Any]) -> dict[str, dict[str, Any]]:
    found = {}
    for step in definition["Steps"]:
        found[step["Name"]] = step
        for nested in step["Arguments"].get("IfSteps", []) + step["Arguments"].get("ElseSteps", []):
            found[nested["Name"]] = nested
    return found


def invalid_steps(definition: dict[str, Any]) -> dict[str, str]:
    """Each job, registration or model step whose Arguments botocore refuses (or whose enum values are not
    the operation's), with the report."""
    model = get_session().get_service_model("sagemaker")
    validator = ParamValidator()
    problems = {}
    for name, step in steps(definition).items():
        if step["Type"] in OPERATIONS:
            shape = model.operation_model(OPERATIONS[step["Type"]]).input_shape
            report = validator.validate(concrete(step["Arguments"], shape), shape)
            found = [report.generate_report()] if report.has_errors() else []
            found += enum_problems(step["Arguments"], shape, "")  # an expression is no enum value: skipped
            if found:
                problems[name] = "\n".join(found)
    return problems


def enum_problems(value: Any, shape: Any, path: str) -> list[str]:
    """Strings outside their shape's enum (botocore's validator does not check enums)."""
    if shape.type_name == "string" and isinstance(value, str) and shape.enum and value not in shape.enum:
        return [f"{path or 'value'}: {value!r} is not one of {shape.enum}"]
    if shape.type_name == "structure" and isinstance(value, dict):
        return [
            p for k, v in value.items() if k in shape.members for p in enum_problems(v, shape.members[k], f"{path}.{k}")
        ]
    if shape.type_name == "list" and isinstance(value, list):
        return [p for i, v in enumerate(value) for p in enum_problems(v, shape.member, f"{path}[{i}]")]
    if shape.type_name == "map" and isinstance(value, dict):
        return [p for k, v in value.items() for p in enum_problems(v, shape.value, f"{path}.{k}")]
    return []


def concrete(value: Any, shape: Any) -> Any:
    """`value` with pipeline expressions ({"Get": ...}, {"Std:Join": ...}) replaced by a value of the shape's type."""
    if isinstance(value, dict) and len(value) == 1 and next(iter(value)) in ("Get", "Std:Join", "Std:JsonGet"):
        return {"string": "s3://bucket/key", "integer": 1, "float": 1.0, "boolean": True}.get(shape.type_name, "x")
    if shape.type_name == "structure" and isinstance(value, dict):
        return {k: concrete(v, shape.members[k]) if k in shape.members else v for k, v in value.items()}
    if shape.type_name == "list" and isinstance(value, list):
        return [concrete(v, shape.member) for v in value]
    if shape.type_name == "map" and isinstance(value, dict):
        return {k: concrete(v, shape.value) for k, v in value.items()}
    return value
