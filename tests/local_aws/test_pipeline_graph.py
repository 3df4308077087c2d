"""The local pipeline executor's graph: expressions, static validation, scheduling, conditions, the execution record."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest

from config import load_stage
from constructs.pipeline_definition import build
from constructs.pipeline_sdk import JobNames
from constructs.pipeline_transform import build_scoring
from local_aws.pipeline_graph import (
    DefinitionError,
    Execution,
    NotRunLocally,
    Scope,
    StepContext,
    StepResult,
    StepRunner,
    evaluate,
    evaluate_condition,
    execute,
    load_definition,
    parameters,
    validate,
)

Calls = list[tuple[str, float, float]]  # (step name, start, end) per runner call


def processing(name: str, outputs: Mapping[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """A Processing step whose outputs are named S3 URIs (what Get paths into ProcessingOutputConfig read)."""
    return {
        "Name": name,
        "Type": "Processing",
        "Arguments": {
            "ProcessingOutputConfig": {
                "Outputs": [{"OutputName": key, "S3Output": {"S3Uri": uri}} for key, uri in (outputs or {}).items()]
            },
            **extra.pop("arguments", {}),
        },
        **extra,
    }


def definition(*steps: dict[str, Any], params: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    return {"Version": "2020-12-01", "Parameters": params or [], "Steps": list(steps)}


def contract_runner(calls: Calls, sleep: float = 0.0, files: Mapping[str, Any] | None = None) -> StepRunner:
    """A runner returning the contract's properties for the step's type, recording when it ran."""

    def run(step: dict[str, Any], context: StepContext) -> StepResult:
        start = time.monotonic()
        time.sleep(sleep)
        arguments = step["Arguments"]
        name = step["Name"]
        if step["Type"] == "Processing":
            outputs = arguments.get("ProcessingOutputConfig", {}).get("Outputs", [])
            properties: dict[str, Any] = {
                "ProcessingJobName": f"{name}-job",
                "ProcessingOutputConfig": {"Outputs": {o["OutputName"]: o for o in outputs}},
            }
        elif step["Type"] == "Training":
            artifacts = f"s3://models/{name}-job/output/model.tar.gz"
            properties = {"TrainingJobName": f"{name}-job", "ModelArtifacts": {"S3ModelArtifacts": artifacts}}
        elif step["Type"] == "Tuning":
            summaries = [{"TrainingJobName": f"{name}-best"}, {"TrainingJobName": f"{name}-worse"}]
            properties = {"HyperParameterTuningJobName": name, "TrainingJobSummaries": summaries}
        elif step["Type"] == "Model":
            properties = {"ModelName": f"{name}-model", "ModelArn": f"arn:aws:sagemaker:xx:0:model/{name}-model"}
        elif step["Type"] == "Transform":
            properties = {
                "TransformJobName": f"{name}-job",
                "ModelName": arguments["ModelName"],
                "TransformOutput": arguments["TransformOutput"],
            }
        else:
            properties = {"ModelPackageArn": f"arn:aws:sagemaker:xx:0:model-package/{name}/1"}
        declared = [p["PropertyFileName"] for p in step.get("PropertyFiles", [])]
        context.log(f"ran {name}")
        calls.append((name, start, time.monotonic()))
        return StepResult(
            properties=properties,
            property_files={key: (files or {})[key] for key in declared},
            produced=f"{name} {json.dumps(arguments, sort_keys=True)}",
        )

    return run


def runners_for(calls: Calls, sleep: float = 0.0, files: Mapping[str, Any] | None = None) -> dict[str, StepRunner]:
    runner = contract_runner(calls, sleep, files)
    return {kind: runner for kind in ("Processing", "Training", "Tuning", "RegisterModel", "Model", "Transform")}


def run(
    spec: dict[str, Any],
    tmp_path: Path,
    runners: Mapping[str, StepRunner],
    overrides: Mapping[str, str] | None = None,
    events: list[tuple[str, str, str]] | None = None,
    parallel: int = 4,
) -> Execution:
    """What the CLI does: load the text, resolve the parameters, execute."""
    loaded = load_definition(json.dumps(spec))
    on_event: Callable[[str, str, str], None] | None = None
    if events is not None:
        on_event = lambda *event: events.append(event)  # noqa: E731
    return execute(
        loaded,
        parameters=parameters(loaded, overrides or {}),
        runners=runners,
        pipeline_name="p",
        execution_id="local-1",
        workdir=tmp_path,
        parallel=parallel,
        on_event=on_event,
    )


# The expression language ----------------------------------------------------------------------------------------------

SCOPE = Scope(
    parameters={"Prefix": "raw/", "Count": 2, "Threshold": 0.9, "Flag": True},
    execution={"PipelineExecutionId": "local-1", "PipelineName": "p"},
    steps={
        "Split": StepResult(
            properties={
                "ProcessingOutputConfig": {
                    "Outputs": {
                        "train": {"S3Output": {"S3Uri": "s3://b/train"}},
                        "test": {"S3Output": {"S3Uri": "s3://b/test"}},
                    }
                }
            }
        ),
        "Tune": StepResult(
            properties={"TrainingJobSummaries": [{"TrainingJobName": "best"}, {"TrainingJobName": "2nd"}]}
        ),
        "Evaluate": StepResult(
            properties={}, property_files={"Evaluation": {"metrics": {"auc": {"value": 0.93}}, "runs": [{"n": 7}]}}
        ),
    },
)


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ({"Get": "Parameters.Count"}, 2),
        ({"Get": "Execution.PipelineExecutionId"}, "local-1"),
        ({"Get": "Steps.Split.ProcessingOutputConfig.Outputs['test'].S3Output.S3Uri"}, "s3://b/test"),
        ({"Get": 'Steps.Split.ProcessingOutputConfig.Outputs["train"].S3Output.S3Uri'}, "s3://b/train"),
        ({"Get": "Steps.Split.ProcessingOutputConfig.Outputs[0].S3Output.S3Uri"}, "s3://b/train"),
        ({"Get": "Steps.Tune.TrainingJobSummaries[0].TrainingJobName"}, "best"),
        (
            {"Std:Join": {"On": "/", "Values": ["s3:/", {"Get": "Parameters.Prefix"}, 3, {"Get": "Parameters.Flag"}]}},
            "s3://raw//3/true",
        ),
        (
            {
                "Std:JsonGet": {
                    "PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Evaluation"},
                    "Path": "metrics.auc.value",
                }
            },
            0.93,
        ),
        ({"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Evaluation"}, "Path": "runs[0].n"}}, 7),
        ({"A": [{"Get": "Parameters.Count"}, {"B": {"Get": "Execution.PipelineName"}}]}, {"A": [2, {"B": "p"}]}),
    ],
)
def test_expressions_evaluate_to_what_they_read(expression: dict[str, Any], expected: Any) -> None:
    assert evaluate(expression, SCOPE) == expected


def test_current_date_time_is_read_when_evaluated() -> None:
    assert evaluate({"Get": "Execution.CurrentDateTime"}, SCOPE).startswith("20")


AUC = {"Std:JsonGet": {"PropertyFile": {"Get": "Steps.Evaluate.PropertyFiles.Evaluation"}, "Path": "metrics.auc.value"}}
THRESHOLD = {"Get": "Parameters.Threshold"}


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"Type": "Equals", "LeftValue": {"Get": "Parameters.Count"}, "RightValue": 2}, True),
        ({"Type": "Equals", "LeftValue": {"Get": "Parameters.Count"}, "RightValue": 3}, False),
        ({"Type": "GreaterThan", "LeftValue": AUC, "RightValue": THRESHOLD}, True),
        ({"Type": "GreaterThan", "LeftValue": AUC, "RightValue": 0.93}, False),
        ({"Type": "GreaterThanOrEqualTo", "LeftValue": AUC, "RightValue": 0.93}, True),
        ({"Type": "GreaterThanOrEqualTo", "LeftValue": AUC, "RightValue": 0.94}, False),
        ({"Type": "LessThan", "LeftValue": THRESHOLD, "RightValue": AUC}, True),
        ({"Type": "LessThan", "LeftValue": AUC, "RightValue": 0.93}, False),
        ({"Type": "LessThanOrEqualTo", "LeftValue": AUC, "RightValue": 0.93}, True),
        ({"Type": "LessThanOrEqualTo", "LeftValue": AUC, "RightValue": 0.92}, False),
        (
            {"Type": "In", "QueryValue": {"Get": "Parameters.Prefix"}, "Values": ["x/", {"Get": "Parameters.Prefix"}]},
            True,
        ),
        ({"Type": "In", "QueryValue": {"Get": "Parameters.Prefix"}, "Values": ["x/", "y/"]}, False),
        ({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 1}}, False),
        ({"Type": "Not", "Condition": {"Type": "Equals", "LeftValue": 1, "RightValue": 2}}, True),
        (
            {
                "Type": "Or",
                "Conditions": [
                    {"Type": "Equals", "LeftValue": 1, "RightValue": 2},
                    {"Type": "GreaterThan", "LeftValue": AUC, "RightValue": THRESHOLD},
                ],
            },
            True,
        ),
        ({"Type": "Or", "Conditions": [{"Type": "Equals", "LeftValue": 1, "RightValue": 2}]}, False),
    ],
)
def test_each_condition_operator(condition: dict[str, Any], expected: bool) -> None:
    assert evaluate_condition(condition, SCOPE) is expected


# Scheduling -----------------------------------------------------------------------------------------------------------


def test_independent_steps_overlap_and_a_dependent_waits_for_what_it_reads_and_depends_on(tmp_path: Path) -> None:
    calls: Calls = []
    spec = definition(
        processing(
            "Last",
            arguments={"Input": {"Get": "Steps.A.ProcessingOutputConfig.Outputs['out'].S3Output.S3Uri"}},
            DependsOn=["B"],
        ),
        processing("A", {"out": "s3://a/out"}),
        processing("B"),
    )
    execution = run(spec, tmp_path, runners_for(calls, sleep=0.3))
    assert execution.status == "Succeeded", execution.table()
    times = {name: (start, end) for name, start, end in calls}
    assert times["A"][0] < times["B"][1] and times["B"][0] < times["A"][1], "A and B did not run at the same time"
    assert times["Last"][0] >= max(times["A"][1], times["B"][1])
    assert '"Input": "s3://a/out"' in execution.step("Last").produced
    assert [s.name for s in execution.steps] == ["Last", "A", "B"]  # definition order
    assert all(s.duration is not None and s.duration >= 0.3 for s in execution.steps)


def test_parallel_one_runs_one_step_at_a_time(tmp_path: Path) -> None:
    calls: Calls = []
    execution = run(definition(processing("A"), processing("B")), tmp_path, runners_for(calls, sleep=0.1), parallel=1)
    assert execution.status == "Succeeded"
    (_, _, first_end), (_, second_start, _) = sorted(calls, key=lambda c: c[1])
    assert second_start >= first_end


def condition_pipeline(threshold: float) -> dict[str, Any]:
    return definition(
        {**processing("Evaluate", {"evaluation": "s3://e"}), "PropertyFiles": [{"PropertyFileName": "Evaluation"}]},
        {
            "Name": "Check",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [{"Type": "GreaterThanOrEqualTo", "LeftValue": AUC, "RightValue": THRESHOLD}],
                "IfSteps": [{"Name": "Register", "Type": "RegisterModel", "Arguments": {}}],
                "ElseSteps": [
                    {
                        "Name": "Missed",
                        "Type": "Fail",
                        "Arguments": {
                            "ErrorMessage": {"Std:Join": {"On": " ", "Values": ["auc", AUC, "<", THRESHOLD]}}
                        },
                    }
                ],
            },
        },
        params=[{"Name": "Threshold", "Type": "Float", "DefaultValue": threshold}],
    )


def test_a_condition_that_holds_runs_the_if_branch_and_skips_the_else_branch(tmp_path: Path) -> None:
    calls: Calls = []
    files = {"Evaluation": {"metrics": {"auc": {"value": 0.93}}}}
    execution = run(condition_pipeline(0.9), tmp_path, runners_for(calls, files=files))
    assert execution.status == "Succeeded", execution.table()
    assert [(s.name, s.status) for s in execution.steps] == [
        ("Evaluate", "Succeeded"),
        ("Check", "Succeeded"),
        ("Register", "Succeeded"),
        ("Missed", "Skipped"),
    ]


def test_a_condition_that_fails_reports_the_fail_steps_message(tmp_path: Path) -> None:
    calls: Calls = []
    events: list[tuple[str, str, str]] = []
    files = {"Evaluation": {"metrics": {"auc": {"value": 0.93}}}}
    execution = run(condition_pipeline(0.95), tmp_path, runners_for(calls, files=files), events=events)
    assert execution.status == "Failed"
    assert execution.failure_message == "step Missed failed: auc 0.93 < 0.95"
    assert execution.step("Missed").status == "Failed"
    assert execution.step("Register").status == "Skipped"
    assert [name for name, *_ in calls] == ["Evaluate"]
    assert ("Missed", "Failed", "auc 0.93 < 0.95") in events
    assert "auc 0.93 < 0.95" in execution.table()


def test_a_step_that_needs_a_step_of_the_branch_not_taken_is_skipped_too(tmp_path: Path) -> None:
    calls: Calls = []
    spec = definition(
        {
            "Name": "Check",
            "Type": "Condition",
            "Arguments": {
                "Conditions": [{"Type": "Equals", "LeftValue": {"Get": "Parameters.Go"}, "RightValue": True}],
                "IfSteps": [processing("Publish")],
                "ElseSteps": [],
            },
        },
        processing("After", DependsOn=["Publish"]),
        params=[{"Name": "Go", "Type": "Boolean", "DefaultValue": False}],
    )
    execution = run(spec, tmp_path, runners_for(calls))
    assert execution.status == "Succeeded", execution.table()
    assert [(s.name, s.status) for s in execution.steps] == [
        ("Check", "Succeeded"),
        ("Publish", "Skipped"),
        ("After", "Skipped"),
    ]
    assert calls == []
    assert run(spec, tmp_path / "go", runners_for(calls), overrides={"Go": "true"}).status == "Succeeded"
    assert [name for name, *_ in calls] == ["Publish", "After"]


def chain() -> dict[str, Any]:
    """Train (no runner given in some tests) <- Tune (reads it) <- Register (DependsOn Tune); Other is independent."""
    return definition(
        {"Name": "Train", "Type": "Training", "Arguments": {}},
        {
            "Name": "Tune",
            "Type": "Tuning",
            "Arguments": {"Model": {"Get": "Steps.Train.ModelArtifacts.S3ModelArtifacts"}},
        },
        {"Name": "Register", "Type": "RegisterModel", "Arguments": {}, "DependsOn": ["Tune"]},
        processing("Other"),
    )


def test_a_step_with_no_runner_is_not_run_locally_and_its_dependents_are_not_started(tmp_path: Path) -> None:
    calls: Calls = []
    runners = runners_for(calls)
    del runners["Training"]
    execution = run(chain(), tmp_path, runners)
    assert execution.status == "NotRunLocally"
    assert [(s.name, s.status) for s in execution.steps] == [
        ("Train", "NotRunLocally"),
        ("Tune", "NotStarted"),
        ("Register", "NotStarted"),
        ("Other", "Succeeded"),
    ]
    assert execution.step("Train").failure_reason == "no local runner for Training steps"
    assert execution.step("Tune").failure_reason == "needs Train (NotRunLocally)"
    assert "Train: no local runner for Training steps" in execution.failure_message
    assert [name for name, *_ in calls] == ["Other"]


def test_a_runner_raising_not_run_locally_gives_its_reason(tmp_path: Path) -> None:
    calls: Calls = []

    def needs_image(step: dict[str, Any], context: StepContext) -> StepResult:
        raise NotRunLocally("needs image 1234.dkr.ecr.xx.amazonaws.com/linear-learner:1")

    execution = run(chain(), tmp_path, {**runners_for(calls), "Training": needs_image})
    assert execution.status == "NotRunLocally"
    assert execution.step("Train").failure_reason == "needs image 1234.dkr.ecr.xx.amazonaws.com/linear-learner:1"
    assert execution.step("Register").status == "NotStarted"
    assert "linear-learner:1" in execution.table()


def test_a_runner_that_raises_fails_its_step_and_the_execution(tmp_path: Path) -> None:
    calls: Calls = []

    def broken(step: dict[str, Any], context: StepContext) -> StepResult:
        raise RuntimeError("training job exited with status 1")

    execution = run(chain(), tmp_path, {**runners_for(calls), "Training": broken}, parallel=1)
    assert execution.status == "Failed"
    assert execution.failure_message == "step Train failed: training job exited with status 1"
    assert [(s.name, s.status) for s in execution.steps] == [
        ("Train", "Failed"),
        ("Tune", "NotStarted"),
        ("Register", "NotStarted"),
        ("Other", "NotStarted"),  # nothing new starts once a step failed
    ]


def test_a_property_the_runner_did_not_fill_fails_the_step_that_reads_it(tmp_path: Path) -> None:
    def empty(step: dict[str, Any], context: StepContext) -> StepResult:
        return StepResult(properties={"ProcessingJobName": "a-job"})

    spec = definition(processing("A"), processing("B", arguments={"X": {"Get": "Steps.A.ProcessingOutputConfig"}}))
    execution = run(spec, tmp_path, {"Processing": empty})
    assert execution.status == "Failed"
    assert execution.failure_message == (
        """step B failed: {"Get": "Steps.A.ProcessingOutputConfig"}: the result of step A: """
        "no 'ProcessingOutputConfig' at the top of 'ProcessingOutputConfig' (has ProcessingJobName)"
    )


def test_each_step_gets_a_fresh_folder_and_its_log_lines_reach_on_event(tmp_path: Path) -> None:
    folders: list[Path] = []
    lock = threading.Lock()

    def runner(step: dict[str, Any], context: StepContext) -> StepResult:
        with lock:
            folders.append(context.workdir)
        assert context.workdir.is_dir() and not any(context.workdir.iterdir())
        context.log(f"hello from {step['Name']}")
        return StepResult(properties={}, property_files={})

    events: list[tuple[str, str, str]] = []
    run(definition(processing("A"), processing("B")), tmp_path, {"Processing": runner}, events=events)
    assert len(set(folders)) == 2
    assert ("A", "Executing", "hello from A") in events and ("B", "Succeeded", "") in events


# Bad inputs: each stops before any runner is called -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "overrides", "message"),
    [
        ("{not json", {}, "pipeline definition: not JSON"),
        ('{"Version": "2020-12-01"}', {}, "pipeline definition: missing Steps"),
        (definition(processing("A"), {"Name": "X", "Type": "Teleport"}), {}, "step X: type 'Teleport' is not"),
        (
            definition(
                processing("A"),
                {
                    "Name": "Evaluate",
                    "Type": "Processing",
                    "Arguments": {"M": {"Get": "Steps.Trian.ModelArtifacts.S3ModelArtifacts"}},
                },
            ),
            {},
            """step Evaluate: {"Get": "Steps.Trian.ModelArtifacts.S3ModelArtifacts"}: no step named 'Trian'""",
        ),
        (
            definition(
                {"Name": "Train", "Type": "Training", "Arguments": {}},
                {"Name": "Evaluate", "Type": "Processing", "Arguments": {"M": {"Get": "Steps.Train.ModelArtefacts"}}},
            ),
            {},
            """step Evaluate: {"Get": "Steps.Train.ModelArtefacts"}: """
            "Training step 'Train' has no property 'ModelArtefacts'",
        ),
        (
            definition(
                processing("Split", {"train": "s3://t"}),
                processing(
                    "Train",
                    arguments={"In": {"Get": "Steps.Split.ProcessingOutputConfig.Outputs['tran'].S3Output.S3Uri"}},
                ),
            ),
            {},
            'step Train: {"Get": "Steps.Split.ProcessingOutputConfig.Outputs[\'tran\'].S3Output.S3Uri"}: '
            "step 'Split' has no output 'tran' (outputs: train)",
        ),
        (
            definition(
                processing("Evaluate"),
                {
                    "Name": "Check",
                    "Type": "Condition",
                    "Arguments": {"Conditions": [{"Type": "GreaterThan", "LeftValue": AUC, "RightValue": 1}]},
                },
            ),
            {},
            """step Check: {"Get": "Steps.Evaluate.PropertyFiles.Evaluation"}: """
            "step 'Evaluate' declares no property file 'Evaluation'",
        ),
        (
            definition(
                processing("A", arguments={"X": {"Get": "Steps.B.ProcessingJobName"}}),
                processing("B", DependsOn=["A"]),
            ),
            {},
            """step B: DependsOn 'A': a cycle: A ({"Get": "Steps.B.ProcessingJobName"}) -> B (DependsOn 'A') -> A""",
        ),
        (definition(processing("A", DependsOn=["Z"])), {}, "step A: DependsOn 'Z': no step named 'Z'"),
        (
            definition(processing("A", arguments={"X": {"Get": "Parameters.Missing"}})),
            {},
            """step A: {"Get": "Parameters.Missing"}: no parameter named 'Missing'""",
        ),
        (
            definition(processing("A"), params=[{"Name": "Count", "Type": "Integer", "DefaultValue": 1}]),
            {"Cuont": "2"},
            "parameter Cuont: unknown; the parameters are Count",
        ),
        (
            definition(processing("A"), params=[{"Name": "Count", "Type": "Integer", "DefaultValue": 1}]),
            {"Count": "abc"},
            "parameter Count: 'abc' is not an Integer",
        ),
    ],
)
def test_bad_input_stops_before_any_step_runs(
    spec: dict[str, Any] | str, overrides: dict[str, str], message: str, tmp_path: Path
) -> None:
    calls: Calls = []
    text = spec if isinstance(spec, str) else json.dumps(spec)
    with pytest.raises(DefinitionError) as raised:
        loaded = load_definition(text)
        execute(
            loaded,
            parameters=parameters(loaded, overrides),
            runners=runners_for(calls),
            pipeline_name="p",
            execution_id="local-1",
            workdir=tmp_path,
        )
    assert message in str(raised.value)
    assert calls == []
    assert not any(tmp_path.iterdir())


def test_every_problem_is_reported_at_once() -> None:
    spec = definition(
        processing("A", arguments={"X": {"Get": "Steps.Nope.ProcessingJobName"}, "Y": {"Get": "Execution.Nope"}}),
        {"Name": "A", "Type": "Processing", "Arguments": {}},
    )
    with pytest.raises(DefinitionError) as raised:
        validate(spec)
    assert str(raised.value).splitlines() == [
        "step A: the name is used by more than one step",
        """step A: {"Get": "Steps.Nope.ProcessingJobName"}: no step named 'Nope'""",
        """step A: {"Get": "Execution.Nope"}: no execution variable 'Nope' (one of PipelineExecutionId, """
        "PipelineExecutionArn, PipelineName, StartDateTime, CurrentDateTime)",
    ]


@pytest.mark.parametrize(
    ("kind", "raw", "value"),
    [
        ("String", "x", "x"),
        ("Integer", " 3", 3),
        ("Float", "0.5", 0.5),
        ("Boolean", "True", True),
        ("Boolean", "false", False),
    ],
)
def test_overrides_are_typed_by_the_parameter_type(kind: str, raw: str, value: Any) -> None:
    spec = definition(params=[{"Name": "P", "Type": kind}, {"Name": "D", "Type": "String", "DefaultValue": "d"}])
    assert parameters(spec, {"P": raw}) == {"P": value, "D": "d"}


def test_a_wrong_boolean_and_a_missing_value_are_refused() -> None:
    spec = definition(params=[{"Name": "P", "Type": "Boolean"}])
    with pytest.raises(DefinitionError, match="parameter P: 'yes' is not a Boolean \\(true or false\\)"):
        parameters(spec, {"P": "yes"})
    with pytest.raises(DefinitionError, match="parameter P: has no default value"):
        parameters(spec, {})


# The real dev definition ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def dev_definition() -> dict[str, Any]:
    built = build(
        load_stage("dev").pipelines[0], pipeline_name="smplat-dev-sample", jobs=JobNames("smplat-dev"), subnet_count=2
    )
    return load_definition(json.dumps(built))


def test_the_dev_definition_validates(dev_definition: dict[str, Any]) -> None:
    graph = validate(dev_definition)
    assert list(graph.steps) == [
        "Split",
        "Train",
        "Baseline",
        "Tune",
        "Evaluate",
        "CheckQuality",
        "Publish",
        "Register-RegisterModel",
        "Model-CreateModel",
        "Transform",
        "QualityBarMissed",
    ]
    assert {e.needs for e in graph.needs["Evaluate"]} == {"Tune", "Split"}
    assert {e.needs for e in graph.needs["Baseline"]} == {"Split"}  # beside Train
    assert {e.needs for e in graph.needs["Register-RegisterModel"]} == {"Publish", "Baseline", "CheckQuality"}
    assert {e.needs for e in graph.needs["Model-CreateModel"]} == {"Register-RegisterModel", "CheckQuality"}
    assert {e.needs for e in graph.needs["Transform"]} == {"Model-CreateModel", "CheckQuality"}


@pytest.mark.parametrize(("auc", "status"), [(0.95, "Succeeded"), (0.5, "Failed")])
def test_the_dev_definition_runs_against_contract_shaped_results(
    dev_definition: dict[str, Any], auc: float, status: str, tmp_path: Path
) -> None:
    calls: Calls = []
    files = {"Evaluation": {"binary_classification_metrics": {"auc": {"value": auc}}}}
    execution = run(dev_definition, tmp_path, runners_for(calls, files=files))
    assert execution.status == status, execution.table()
    train = execution.step("Train").produced
    assert '"S3Uri": "s3://placeholder-data-bucket/train/sample/local-1"' in train
    assert (
        "s3://placeholder-artifacts-bucket/pipelines/sample/models/Tune-best/output/model.tar.gz"
        in execution.step("Evaluate").produced
    )
    ran = [name for name, *_ in calls]
    # Baseline runs beside Train, Tune and Evaluate: only its place after Split is fixed.
    assert [n for n in ran[:5] if n != "Baseline"] == ["Split", "Train", "Tune", "Evaluate"]
    assert set(ran[:5]) == {"Split", "Train", "Baseline", "Tune", "Evaluate"} and ran.index("Baseline") > 0
    if status == "Succeeded":
        assert ran[5:] == ["Publish", "Register-RegisterModel", "Model-CreateModel", "Transform"]
        assert '"ModelName": "Model-CreateModel-model"' in execution.step("Transform").produced
        assert execution.step("QualityBarMissed").status == "Skipped"
    else:
        assert execution.failure_message == (
            "step QualityBarMissed failed: auc on the test channel is 0.5 ; the model is registered only when it is "
            "at least 0.9"
        )
        skipped = ("Publish", "Register-RegisterModel", "Model-CreateModel", "Transform")
        assert {execution.step(n).status for n in skipped} == {"Skipped"}


# A scoring definition (the examples stage's nightly) --------------------------------------------------------------


def test_a_scoring_definition_validates_and_runs_with_the_package_it_is_given(tmp_path: Path) -> None:
    (nightly,) = load_stage("examples").scoring
    built = build_scoring(
        nightly, pipeline_name="smplat-examples-nightly", jobs=JobNames("smplat-examples"), subnet_count=2
    )
    loaded = load_definition(json.dumps(built))
    graph = validate(loaded)
    assert {e.needs for e in graph.needs["Transform"]} == {"Model-CreateModel"}
    with pytest.raises(
        DefinitionError, match=r"^parameter ModelPackageArn: has no default value; give one \(String\)$"
    ):
        parameters(loaded, {})
    calls: Calls = []
    package = "arn:aws:sagemaker:xx:0:model-package/smplat-examples/3"
    execution = run(built, tmp_path, runners_for(calls), overrides={"ModelPackageArn": package})
    assert execution.status == "Succeeded", execution.table()
    assert [name for name, *_ in calls] == ["Model-CreateModel", "Transform"]
    assert f'"ModelPackageName": "{package}"' in execution.step("Model-CreateModel").produced
