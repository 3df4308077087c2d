"""Parses, validates and runs a SageMaker Pipeline definition here: expressions, dependency graph, scheduling."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# The contract between the executor and the step runners lives in pipeline_types (re-exported here).
from local_aws.pipeline_types import (
    DefinitionError,
    NotRunLocally,
    StepContext,
    StepResult,
    StepRunner,
)

__all__ = ["DefinitionError", "NotRunLocally", "StepContext", "StepResult", "StepRunner"]


# Step types and what `Steps.<name>.<path>` may read from each -------------------------------------------------------

RUNNABLE_TYPES = ("Processing", "Training", "Tuning", "RegisterModel", "Model", "Transform")
EXECUTOR_TYPES = ("Condition", "Fail")
# SageMaker's other step types (the SDK's StepTypeEnum): valid in a definition, never run here.
OTHER_TYPES = (
    "Callback",
    "Lambda",
    "QualityCheck",
    "ClarifyCheck",
    "EMR",
    "EMRServerless",
    "AutoML",
    "EndpointConfig",
    "Endpoint",
    "InferenceComponent",
    "Lineage",
)
KNOWN_TYPES = RUNNABLE_TYPES + EXECUTOR_TYPES + OTHER_TYPES

# The subset of each job's Describe* response that the local runners fill (see the contract); a Get that reads
# anything else is refused before the run rather than failing half-way through it.
EXPOSED: dict[str, tuple[str, ...]] = {
    "Processing": ("ProcessingJobName", "ProcessingOutputConfig"),
    "Training": ("TrainingJobName", "ModelArtifacts", "FinalMetricDataList"),
    "Tuning": ("HyperParameterTuningJobName", "BestTrainingJob", "TrainingJobSummaries"),
    "RegisterModel": ("ModelPackageArn",),
    "Model": ("ModelName", "ModelArn"),
    "Transform": ("TransformJobName", "ModelName", "TransformOutput"),
    "Condition": ("Outcome",),
    "Fail": (),
}

EXECUTION_VARIABLES = (
    "PipelineExecutionId",
    "PipelineExecutionArn",
    "PipelineName",
    "StartDateTime",
    "CurrentDateTime",
)
PARAMETER_TYPES = ("String", "Integer", "Float", "Boolean")
COMPARISONS: dict[str, Callable[[Any, Any], bool]] = {
    "Equals": lambda a, b: bool(a == b),
    "GreaterThan": lambda a, b: bool(a > b),
    "GreaterThanOrEqualTo": lambda a, b: bool(a >= b),
    "LessThan": lambda a, b: bool(a < b),
    "LessThanOrEqualTo": lambda a, b: bool(a <= b),
}
CONDITION_TYPES = (*COMPARISONS, "In", "Not", "Or")

STATUSES = ("Succeeded", "Failed", "NotRunLocally", "NotStarted", "Skipped", "Executing")


# Parsing ------------------------------------------------------------------------------------------------------------


def load_definition(text: str) -> dict[str, Any]:
    """The definition as a dict; DefinitionError when it is not JSON or not an object with Version and Steps."""
    try:
        definition = json.loads(text)
    except json.JSONDecodeError as exc:
        raise DefinitionError(f"pipeline definition: not JSON ({exc})") from exc
    if not isinstance(definition, dict):
        raise DefinitionError(f"pipeline definition: a JSON object is expected, not {type(definition).__name__}")
    missing = [key for key in ("Version", "Steps") if key not in definition]
    if missing:
        raise DefinitionError(f"pipeline definition: missing {', '.join(missing)} (an object with Version and Steps)")
    if not isinstance(definition["Steps"], list):
        raise DefinitionError("pipeline definition: Steps must be a list of steps")
    return definition


def _declared_parameters(definition: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    declared = definition.get("Parameters") or []
    return {p["Name"]: p for p in declared if isinstance(p, dict) and isinstance(p.get("Name"), str)}


def _typed(name: str, kind: str, raw: str) -> Any:
    if kind == "String":
        return raw
    if kind == "Integer":
        try:
            return int(raw.strip())
        except ValueError:
            raise DefinitionError(f"parameter {name}: {raw!r} is not an Integer (a whole number such as 2)") from None
    if kind == "Float":
        try:
            return float(raw.strip())
        except ValueError:
            raise DefinitionError(f"parameter {name}: {raw!r} is not a Float (a number such as 0.9)") from None
    if kind == "Boolean":
        if raw.strip().lower() in ("true", "false"):
            return raw.strip().lower() == "true"
        raise DefinitionError(f"parameter {name}: {raw!r} is not a Boolean (true or false)")
    raise DefinitionError(f"parameter {name}: type {kind!r} is not one of {', '.join(PARAMETER_TYPES)}")


def parameters(definition: Mapping[str, Any], overrides: Mapping[str, str]) -> dict[str, Any]:
    """Each parameter's value: the override (typed by the parameter's Type) or the default."""
    declared = _declared_parameters(definition)
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        allowed = ", ".join(declared) or "none (the definition declares no parameters)"
        raise DefinitionError(f"parameter {', '.join(unknown)}: unknown; the parameters are {allowed}")
    values: dict[str, Any] = {}
    for name, spec in declared.items():
        kind = spec.get("Type", "String")
        if kind not in PARAMETER_TYPES:
            raise DefinitionError(f"parameter {name}: type {kind!r} is not one of {', '.join(PARAMETER_TYPES)}")
        if name in overrides:
            value = _typed(name, kind, overrides[name])
        elif "DefaultValue" in spec:
            value = spec["DefaultValue"]
        else:
            raise DefinitionError(f"parameter {name}: has no default value; give one ({kind})")
        enum = spec.get("EnumValues")
        if enum and value not in enum:
            raise DefinitionError(f"parameter {name}: {value!r} is not one of {', '.join(map(str, enum))}")
        values[name] = value
    return values


# Property paths: dots, ['key'] or ["key"], [n] ------------------------------------------------------------------------

_SEGMENT = re.compile(r"""\[(?P<index>\d+)\]|\['(?P<squoted>[^']*)'\]|\["(?P<dquoted>[^"]*)"\]|(?P<name>[^.\[\]]+)""")


def parse_path(path: str) -> list[str | int]:
    """`a.b['c'][0].d` -> ["a", "b", "c", 0, "d"]; ValueError on anything else."""
    tokens: list[str | int] = []
    position = 0
    while position < len(path):
        if tokens and path[position] == ".":
            position += 1
        match = _SEGMENT.match(path, position)
        if match is None or (match.group("name") is not None and tokens and path[position - 1] != "."):
            raise ValueError(f"cannot read the path {path!r} at character {position + 1}")
        if match.group("index") is not None:
            tokens.append(int(match.group("index")))
        else:
            tokens.append(
                next(g for g in (match.group("squoted"), match.group("dquoted"), match.group("name")) if g is not None)
            )
        position = match.end()
    if not tokens or path.endswith("."):
        raise ValueError(f"cannot read the path {path!r}")
    return tokens


def read_path(value: Any, tokens: list[str | int], path: str) -> Any:
    """Follows the tokens into dicts and lists; [n] on a dict reads its n-th value in insertion order."""
    for depth, token in enumerate(tokens):
        where = "".join(f"[{t}]" if isinstance(t, int) else f".{t}" for t in tokens[:depth]).lstrip(".") or "the top"
        if isinstance(token, int):
            items = list(value.values()) if isinstance(value, dict) else value
            if not isinstance(items, list) or token >= len(items):
                size = len(items) if isinstance(items, list) else "not a list"
                raise LookupError(f"no item [{token}] at {where} of {path!r} ({size})")
            value = items[token]
        else:
            if not isinstance(value, dict) or token not in value:
                keys = ", ".join(map(str, value)) if isinstance(value, dict) else f"a {type(value).__name__}"
                raise LookupError(f"no {token!r} at {where} of {path!r} (has {keys or 'nothing'})")
            value = value[token]
    return value


# The expression language ----------------------------------------------------------------------------------------------


class ExpressionError(Exception):
    """An expression that cannot be evaluated while the pipeline runs (the step reading it fails)."""


@dataclass
class Scope:
    """What expressions read: parameters, execution variables and the results of finished steps."""

    parameters: Mapping[str, Any]
    execution: Mapping[str, Any]
    steps: dict[str, StepResult] = field(default_factory=dict)


def _show(expression: Any) -> str:
    return json.dumps(expression, default=str)


def _get(reference: str, scope: Scope) -> Any:
    head, _, rest = reference.partition(".")
    if head == "Parameters":
        if rest not in scope.parameters:
            raise ExpressionError(f"no parameter named {rest!r}")
        return scope.parameters[rest]
    if head == "Execution":
        if rest == "CurrentDateTime":
            return datetime.now(UTC).isoformat()
        if rest not in scope.execution:
            raise ExpressionError(f"no execution variable named {rest!r}")
        return scope.execution[rest]
    if head == "Steps":
        name, _, path = rest.partition(".")
        if name not in scope.steps:
            raise ExpressionError(f"step {name!r} has no result")
        result = scope.steps[name]
        tokens = parse_path(path)
        if tokens[0] == "PropertyFiles" and len(tokens) == 2:
            if tokens[1] not in result.property_files:
                raise ExpressionError(f"step {name!r} produced no property file {tokens[1]!r}")
            return result.property_files[tokens[1]]
        try:
            return read_path(result.properties, tokens, path)
        except LookupError as exc:
            raise ExpressionError(f"the result of step {name}: {exc}") from None
    raise ExpressionError(f"{reference!r} is not Parameters.*, Execution.* or Steps.*")


def _join_item(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        return json.dumps(value)
    return str(value)


def evaluate(value: Any, scope: Scope) -> Any:
    """The value with every Get, Std:Join and Std:JsonGet replaced by what it reads (recursively)."""
    if isinstance(value, list):
        return [evaluate(item, scope) for item in value]
    if not isinstance(value, dict):
        return value
    if set(value) == {"Get"}:
        try:
            return _get(value["Get"], scope)
        except (ExpressionError, ValueError) as exc:
            raise ExpressionError(f"{_show(value)}: {exc}") from None
    if set(value) == {"Std:Join"}:
        join = value["Std:Join"]
        values = evaluate(join["Values"], scope)
        return str(join["On"]).join(_join_item(item) for item in values)
    if set(value) == {"Std:JsonGet"}:
        spec = value["Std:JsonGet"]
        if "PropertyFile" not in spec:
            raise ExpressionError(f"{_show(value)}: only Std:JsonGet on a PropertyFile is supported locally")
        document = evaluate(spec["PropertyFile"], scope)
        try:
            return read_path(document, parse_path(spec["Path"]), spec["Path"])
        except (LookupError, ValueError) as exc:
            raise ExpressionError(f"{_show(value)}: {exc}") from None
    return {key: evaluate(item, scope) for key, item in value.items()}


def _compare(kind: str, left: Any, right: Any) -> bool:
    numbers = (int, float)
    if kind != "Equals":
        both_numbers = all(isinstance(v, numbers) and not isinstance(v, bool) for v in (left, right))
        both_strings = isinstance(left, str) and isinstance(right, str)
        if not (both_numbers or both_strings):
            raise ExpressionError(f"{kind}: cannot compare {left!r} with {right!r}")
    return COMPARISONS[kind](left, right)


def evaluate_condition(condition: Mapping[str, Any], scope: Scope) -> bool:
    """One condition as the SDK writes it: LeftValue/RightValue, QueryValue/Values, Condition or Conditions."""
    kind = condition["Type"]
    if kind in COMPARISONS:
        return _compare(kind, evaluate(condition["LeftValue"], scope), evaluate(condition["RightValue"], scope))
    if kind == "In":
        return evaluate(condition["QueryValue"], scope) in evaluate(condition["Values"], scope)
    if kind == "Not":
        return not evaluate_condition(condition["Condition"], scope)
    if kind == "Or":
        return any(evaluate_condition(c, scope) for c in condition["Conditions"])
    raise ExpressionError(f"condition type {kind!r} is not one of {', '.join(CONDITION_TYPES)}")


# Static validation ----------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Edge:
    """`step` must wait for `needs`, because of `why` (an expression, a DependsOn, a branch)."""

    step: str
    needs: str
    why: str


@dataclass
class Graph:
    """Every step (the conditions' branches flattened in definition order) and what each waits for."""

    steps: dict[str, dict[str, Any]]
    needs: dict[str, list[_Edge]]
    branch_of: dict[str, tuple[str, bool]]  # branch step -> (condition step, runs when the condition is true?)


def _flatten(
    steps: list[Any],
    problems: list[str],
    out: list[dict[str, Any]],
    parent: tuple[str, bool] | None,
    branch_of: dict[str, tuple[str, bool]],
) -> None:
    for index, step in enumerate(steps):
        if not isinstance(step, dict) or not isinstance(step.get("Name"), str):
            problems.append(f"step #{index + 1}: a step must be an object with a Name")
            continue
        out.append(step)
        if parent is not None:
            branch_of.setdefault(step["Name"], parent)
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments") or {}
            for key, outcome in (("IfSteps", True), ("ElseSteps", False)):
                _flatten(arguments.get(key) or [], problems, out, (step["Name"], outcome), branch_of)


def _expressions(value: Any) -> Iterator[dict[str, Any]]:
    """Every expression object in value (outermost first), including the ones nested inside others."""
    if isinstance(value, list):
        for item in value:
            yield from _expressions(item)
    elif isinstance(value, dict):
        if len(value) == 1 and next(iter(value)) in ("Get", "Std:Join", "Std:JsonGet"):
            yield value
        for item in value.values():
            yield from _expressions(item)


def _check_path_against_step(path: str, target: dict[str, Any]) -> str | None:
    """Why `Steps.<target>.<path>` cannot be read, or None."""
    try:
        tokens = parse_path(path)
    except ValueError as exc:
        return str(exc)
    kind = target.get("Type")
    name = target["Name"]
    if tokens[0] == "PropertyFiles":
        declared = [str(p.get("PropertyFileName")) for p in target.get("PropertyFiles") or [] if isinstance(p, dict)]
        if len(tokens) != 2 or not isinstance(tokens[1], str):
            return "a property file is read as Steps.<step>.PropertyFiles.<PropertyFileName>"
        if tokens[1] not in declared:
            return f"step {name!r} declares no property file {tokens[1]!r} (declared: {', '.join(declared) or 'none'})"
        return None
    exposed = EXPOSED.get(str(kind))
    if exposed is None:  # a step type not run here: it ends NotRunLocally and nothing reads its properties
        return None
    if tokens[0] not in exposed:
        have = ", ".join(exposed) or "no properties"
        return f"{kind} step {name!r} has no property {tokens[0]!r} (locally: {have})"
    if kind == "Processing" and tokens[:2] == ["ProcessingOutputConfig", "Outputs"] and len(tokens) > 2:
        outputs = ((target.get("Arguments") or {}).get("ProcessingOutputConfig") or {}).get("Outputs") or []
        names = [o.get("OutputName") for o in outputs if isinstance(o, dict)]
        key = tokens[2]
        if isinstance(key, str) and key not in names:
            return f"step {name!r} has no output {key!r} (outputs: {', '.join(map(str, names)) or 'none'})"
        if isinstance(key, int) and key >= len(names):
            return f"step {name!r} has {len(names)} outputs, no [{key}]"
    return None


def _check_expression(
    expression: dict[str, Any], owner: str, graph_steps: Mapping[str, dict[str, Any]], declared: Mapping[str, Any]
) -> tuple[list[str], list[str]]:
    """(problems, names of the steps the expression reads)."""
    problems: list[str] = []
    reads: list[str] = []
    shown = f"step {owner}: {_show(expression)}"
    kind, body = next(iter(expression.items()))
    if kind == "Std:Join":
        if (
            not isinstance(body, dict)
            or not isinstance(body.get("On"), str)
            or not isinstance(body.get("Values"), list)
        ):
            problems.append(f"{shown}: Std:Join needs On (a string) and Values (a list)")
        return problems, reads
    if kind == "Std:JsonGet":
        if not isinstance(body, dict) or "Path" not in body or "PropertyFile" not in body:
            detail = (
                "; Std:JsonGet on an S3Uri is not supported locally"
                if isinstance(body, dict) and "S3Uri" in body
                else ""
            )
            problems.append(f"{shown}: Std:JsonGet needs PropertyFile and Path{detail}")
            return problems, reads
        reference = body["PropertyFile"].get("Get") if isinstance(body["PropertyFile"], dict) else None
        if not isinstance(reference, str) or not re.fullmatch(r"Steps\.[^.]+\.PropertyFiles\.[^.]+", reference):
            problems.append(f'{shown}: PropertyFile must be {{"Get": "Steps.<step>.PropertyFiles.<name>"}}')
        try:
            parse_path(str(body["Path"]))
        except ValueError as exc:
            problems.append(f"{shown}: {exc}")
        return problems, reads
    if not isinstance(body, str):
        return [f"{shown}: Get takes a string"], reads
    head, _, rest = body.partition(".")
    if head == "Parameters":
        if rest not in declared:
            problems.append(f"{shown}: no parameter named {rest!r} (parameters: {', '.join(declared) or 'none'})")
    elif head == "Execution":
        if rest not in EXECUTION_VARIABLES:
            problems.append(f"{shown}: no execution variable {rest!r} (one of {', '.join(EXECUTION_VARIABLES)})")
    elif head == "Steps":
        name, _, path = rest.partition(".")
        if name not in graph_steps:
            problems.append(f"{shown}: no step named {name!r}")
        elif not path:
            problems.append(f"{shown}: a property path is needed after the step name")
        else:
            reads.append(name)
            why = _check_path_against_step(path, graph_steps[name])
            if why:
                problems.append(f"{shown}: {why}")
    else:
        problems.append(f"{shown}: reads Parameters.*, Execution.* or Steps.*, not {head!r}")
    return problems, reads


def _check_condition(condition: Any, shown: str) -> list[str]:
    if not isinstance(condition, dict) or condition.get("Type") not in CONDITION_TYPES:
        kind = condition.get("Type") if isinstance(condition, dict) else condition
        return [f"{shown}: condition type {kind!r} is not one of {', '.join(CONDITION_TYPES)}"]
    kind = condition["Type"]
    required = {"In": ("QueryValue", "Values"), "Not": ("Condition",), "Or": ("Conditions",)}.get(
        kind, ("LeftValue", "RightValue")
    )
    problems = [f"{shown}: {kind} needs {key}" for key in required if key not in condition]
    if kind == "Not" and "Condition" in condition:
        problems += _check_condition(condition["Condition"], shown)
    if kind == "Or" and isinstance(condition.get("Conditions"), list):
        for inner in condition["Conditions"]:
            problems += _check_condition(inner, shown)
    return problems


def _evaluated_part(step: Mapping[str, Any]) -> Any:
    """What of a step holds expressions: its Arguments, less a condition's branches (steps of their own)."""
    arguments = step.get("Arguments")
    if step.get("Type") == "Condition" and isinstance(arguments, dict):
        return arguments.get("Conditions")
    return arguments


def validate(definition: Mapping[str, Any]) -> Graph:
    """Every problem of the definition at once (DefinitionError), else its dependency graph."""
    problems: list[str] = []
    flat: list[dict[str, Any]] = []
    branch_of: dict[str, tuple[str, bool]] = {}
    _flatten(list(definition.get("Steps") or []), problems, flat, None, branch_of)
    steps: dict[str, dict[str, Any]] = {}
    for step in flat:
        name = step["Name"]
        if name in steps:
            problems.append(f"step {name}: the name is used by more than one step")
        steps.setdefault(name, step)
        if step.get("Type") not in KNOWN_TYPES:
            problems.append(
                f"step {name}: type {step.get('Type')!r} is not a SageMaker step type ({', '.join(KNOWN_TYPES)})"
            )
    declared = _declared_parameters(definition)
    needs: dict[str, list[_Edge]] = {name: [] for name in steps}
    for name, step in steps.items():
        for expression in _expressions(_evaluated_part(step)):
            found, reads = _check_expression(expression, name, steps, declared)
            problems += found
            needs[name] += [_Edge(name, target, _show(expression)) for target in reads]
        for target in step.get("DependsOn") or []:
            if target not in steps:
                problems.append(f"step {name}: DependsOn {target!r}: no step named {target!r}")
            else:
                needs[name].append(_Edge(name, target, f"DependsOn {target!r}"))
        if name in branch_of:
            condition, outcome = branch_of[name]
            needs[name].append(_Edge(name, condition, f"{'IfSteps' if outcome else 'ElseSteps'} of {condition!r}"))
        if step.get("Type") == "Condition":
            arguments = step.get("Arguments") or {}
            conditions = arguments.get("Conditions")
            if not isinstance(conditions, list) or not conditions:
                problems.append(f"step {name}: Conditions must be a non-empty list")
            for condition in conditions or []:
                problems += _check_condition(condition, f"step {name}: {_show(condition)}")
        if step.get("Type") == "Fail" and "ErrorMessage" not in (step.get("Arguments") or {}):
            problems.append(f"step {name}: a Fail step needs Arguments.ErrorMessage")
    problems += _cycles(needs)
    if problems:
        raise DefinitionError("\n".join(dict.fromkeys(problems)))
    return Graph(steps=steps, needs=needs, branch_of=branch_of)


def _cycles(needs: Mapping[str, list[_Edge]]) -> list[str]:
    problems: list[str] = []
    state: dict[str, str] = {}  # "open" while on the stack, "done" after
    stack: list[_Edge] = []

    def visit(name: str) -> None:
        state[name] = "open"
        for edge in needs.get(name, []):
            if state.get(edge.needs) == "open":
                loop = [*stack[next((i for i, e in enumerate(stack) if e.step == edge.needs), len(stack)) :], edge]
                chain = " -> ".join(f"{e.step} ({e.why})" for e in loop) + f" -> {edge.needs}"
                problems.append(f"step {edge.step}: {edge.why}: a cycle: {chain}")
            elif edge.needs not in state:
                stack.append(edge)
                visit(edge.needs)
                stack.pop()
        state[name] = "done"

    for name in needs:
        if name not in state:
            visit(name)
    return problems


# Execution ------------------------------------------------------------------------------------------------------------


@dataclass
class StepRecord:
    name: str
    type: str
    status: str = "NotStarted"
    start: datetime | None = None
    end: datetime | None = None
    produced: str = ""
    failure_reason: str = ""

    @property
    def duration(self) -> float | None:
        """Seconds between start and end, None when the step did not run."""
        if self.start is None or self.end is None:
            return None
        return (self.end - self.start).total_seconds()


@dataclass
class Execution:
    pipeline_name: str
    execution_id: str
    status: str
    failure_message: str
    steps: list[StepRecord]

    def step(self, name: str) -> StepRecord:
        for record in self.steps:
            if record.name == name:
                return record
        raise KeyError(f"no step named {name!r} in execution {self.execution_id}")

    def table(self) -> str:
        """The steps as `aws sagemaker list-pipeline-execution-steps` shows them, with what each produced or why not."""
        header = ("STEP", "TYPE", "STATUS", "DURATION", "PRODUCED / REASON")
        rows = [
            (
                r.name,
                r.type,
                r.status,
                "-" if r.duration is None else f"{r.duration:.1f}s",
                r.failure_reason if r.status in ("Failed", "NotRunLocally", "NotStarted", "Skipped") else r.produced,
            )
            for r in self.steps
        ]
        widths = [max(len(row[i]) for row in [header, *rows]) for i in range(4)]
        lines = [f"{self.pipeline_name} {self.execution_id}: {self.status}"]
        if self.failure_message:
            lines.append(f"  {self.failure_message}")
        for row in [header, *rows]:
            first_line = row[4].splitlines()[0] if row[4] else ""
            lines.append(
                "  ".join(cell.ljust(width) for cell, width in zip(row[:4], widths, strict=True)) + "  " + first_line
            )
        return "\n".join(line.rstrip() for line in lines)


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)


def execute(
    definition: Mapping[str, Any],
    *,
    parameters: Mapping[str, Any],
    runners: Mapping[str, StepRunner],
    pipeline_name: str,
    execution_id: str,
    workdir: Path,
    parallel: int = 4,
    on_event: Callable[[str, str, str], None] | None = None,
    execution_arn: str | None = None,
) -> Execution:
    """Runs every step whose dependencies succeeded, up to `parallel` at a time; the definition is validated first.

    Retry policies are not simulated (a failed runner fails its step at once) and CacheConfig is ignored (every
    step runs every time): both only matter against the real service.
    """
    if parallel < 1:
        raise ValueError(f"parallel must be at least 1, not {parallel}")
    graph = validate(definition)
    missing = [name for name in _declared_parameters(definition) if name not in parameters]
    if missing:
        raise DefinitionError(f"parameter {', '.join(missing)}: no value given (use parameters(definition, overrides))")
    started = datetime.now(UTC)
    scope = Scope(
        parameters=dict(parameters),
        execution={
            "PipelineExecutionId": execution_id,
            "PipelineExecutionArn": execution_arn
            or f"arn:aws:sagemaker:local:000000000000:pipeline/{pipeline_name.lower()}/execution/{execution_id}",
            "PipelineName": pipeline_name,
            "StartDateTime": started.isoformat(),
        },
    )
    records = {name: StepRecord(name=name, type=str(step.get("Type"))) for name, step in graph.steps.items()}
    outcomes: dict[str, bool] = {}  # condition step -> its outcome
    settled: set[str] = set()
    lock = threading.Lock()

    def emit(name: str, status: str, message: str) -> None:
        if on_event is not None:
            with lock:
                on_event(name, status, message)

    def finish(name: str, status: str, *, reason: str = "", produced: str = "") -> None:
        settled.add(name)
        record = records[name]
        record.status, record.failure_reason, record.produced = status, reason, produced
        if record.start is not None:
            record.end = datetime.now(UTC)
        emit(name, status, reason or produced)

    def run(name: str) -> tuple[str, str, StepResult | None]:
        """(status, reason, result) of one step, in a worker thread."""
        step = graph.steps[name]
        kind = step.get("Type")
        try:
            if kind == "Condition":
                outcome = all(evaluate_condition(c, scope) for c in step["Arguments"]["Conditions"])
                outcomes[name] = outcome
                return (
                    "Succeeded",
                    "",
                    StepResult(properties={"Outcome": outcome}, produced=f"outcome {str(outcome).lower()}"),
                )
            if kind == "Fail":
                message = evaluate(step["Arguments"]["ErrorMessage"], scope)
                return "Failed", _join_item(message), None
            runner = runners.get(str(kind))
            if runner is None:
                return "NotRunLocally", f"no local runner for {kind} steps", None
            concrete = dict(step)
            concrete["Arguments"] = evaluate(step.get("Arguments", {}), scope)
            index = list(graph.steps).index(name)
            folder = workdir / f"{index:02d}-{_safe(name)}"
            folder.mkdir(parents=True, exist_ok=False)
            context = StepContext(
                execution_id=execution_id,
                pipeline_name=pipeline_name,
                workdir=folder,
                log=lambda line: emit(name, "Executing", line),
            )
            result = runner(concrete, context)
            if not isinstance(result, StepResult):
                return "Failed", f"the {kind} runner returned {type(result).__name__}, not a StepResult", None
            return "Succeeded", "", result
        except NotRunLocally as exc:
            return "NotRunLocally", str(exc) or f"{kind} steps cannot run here", None
        except ExpressionError as exc:
            return "Failed", str(exc), None
        except Exception as exc:  # a runner's failure fails its step, as a job failure does in SageMaker
            return "Failed", str(exc) or type(exc).__name__, None

    pending = list(graph.steps)  # definition order
    running: dict[Future[tuple[str, str, StepResult | None]], str] = {}
    failure = ""
    with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="pipeline-step") as pool:
        while pending or running:
            progressed = True
            while progressed:  # settle what the finished steps decide before starting anything
                progressed = False
                for name in list(pending):
                    verdict = _verdict(name, graph, records, settled, outcomes)
                    if verdict is None:
                        continue
                    status, reason = verdict
                    if status == "Ready":
                        if failure or len(running) >= parallel:
                            continue
                        records[name].status = "Executing"
                        records[name].start = datetime.now(UTC)
                        emit(name, "Executing", "")
                        running[pool.submit(run, name)] = name
                    else:
                        finish(name, status, reason=reason)
                    pending.remove(name)
                    progressed = True
            if not running:
                break
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                name = running.pop(future)
                status, reason, result = future.result()
                if result is not None:
                    scope.steps[name] = result
                finish(name, status, reason=reason, produced=result.produced if result else "")
                if status == "Failed" and not failure:
                    # SageMaker starts nothing new once a step fails; the steps already running are let finish.
                    failure = f"step {name} failed: {reason}"
    for name in pending:  # not started because the execution failed
        finish(name, "NotStarted", reason=failure or "not reached")
    statuses = {record.status for record in records.values()}
    overall = "Failed" if failure else "NotRunLocally" if statuses & {"NotRunLocally", "NotStarted"} else "Succeeded"
    message = failure
    if overall == "NotRunLocally":
        message = "; ".join(f"{r.name}: {r.failure_reason}" for r in records.values() if r.status == "NotRunLocally")
    return Execution(
        pipeline_name=pipeline_name,
        execution_id=execution_id,
        status=overall,
        failure_message=message,
        steps=list(records.values()),
    )


def _verdict(
    name: str, graph: Graph, records: Mapping[str, StepRecord], settled: set[str], outcomes: Mapping[str, bool]
) -> tuple[str, str] | None:
    """("Ready", "") when the step can start, a final (status, reason) when it never will, None to wait."""
    blocked: list[str] = []
    for edge in graph.needs[name]:
        status = records[edge.needs].status
        if edge.needs not in settled:
            return None
        if status == "Skipped":
            # A step that needs a step of a branch not taken is not taken either.
            return "Skipped", f"needs {edge.needs}, skipped"
        if status != "Succeeded":
            blocked.append(f"needs {edge.needs} ({status})")
    if blocked:
        return "NotStarted", "; ".join(blocked)
    if name in graph.branch_of:
        condition, when = graph.branch_of[name]
        if outcomes.get(condition) != when:
            branch = "IfSteps" if when else "ElseSteps"
            return "Skipped", f"{branch} of {condition}, whose outcome was {str(not when).lower()}"
    return "Ready", ""


__all__ = [
    "DefinitionError",
    "Execution",
    "NotRunLocally",
    "Scope",
    "StepContext",
    "StepRecord",
    "StepResult",
    "StepRunner",
    "evaluate",
    "evaluate_condition",
    "execute",
    "load_definition",
    "parameters",
    "validate",
]
