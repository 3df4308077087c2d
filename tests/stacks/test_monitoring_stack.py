"""The monitoring stack of the dev and prod stages: the drift-check pipeline as SageMaker receives it, its
roles' reach (evaluated against the rendered policies), the runbook and schedule that start it, and the
metric filters behind the endpoint's drift alarms."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.conftest import SynthesizedStage
from tests.pipeline_definitions import invalid_steps
from tests.policies import ACCOUNT, REGION, Principal, Renderer, Request, bucket_policy, decide, role_principal

ENDPOINTS = {"dev": "smplat-dev-sample", "prod": "smplat-prod-fraud-scoring"}
ARTIFACTS = "arn:aws:s3:::artifactsbucket88671897"


def only(stage: SynthesizedStage, type_name: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = stage.resources("monitoring", type_name).items()
    return logical_id, resource


def definition(stage: SynthesizedStage) -> dict[str, Any]:
    _, pipeline = only(stage, "AWS::SageMaker::Pipeline")
    body = pipeline["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    return dict(json.loads(Renderer(stage.templates).render(body, "monitoring")))


def role(stage: SynthesizedStage, kind: str) -> Principal:
    (logical_id,) = [i for i in stage.resources("monitoring", "AWS::IAM::Role") if kind in i]
    return role_principal(Renderer(stage.templates), "monitoring", logical_id)


def test_the_check_is_one_isolated_encrypted_processing_job_in_the_platform(each_stage: SynthesizedStage) -> None:
    found = definition(each_stage)
    assert invalid_steps(found) == {}
    assert [p["Name"] for p in found["Parameters"]] == ["CaptureManifest", "BaselineStatistics", "BaselineConstraints"]
    (step,) = found["Steps"]
    arguments = step["Arguments"]
    key = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/PlatformKey1C4A1A63"
    # A prefix of its own, which IAM scopes: notebooks may not start or stop the checks.
    assert arguments["ProcessingJobName"] == f"smplat-{each_stage.name}-monitor"
    assert arguments["ProcessingResources"]["ClusterConfig"]["VolumeKmsKeyId"] == key
    assert arguments["ProcessingOutputConfig"]["KmsKeyId"] == key
    network = arguments["NetworkConfig"]
    assert network["EnableNetworkIsolation"] is True
    assert network["VpcConfig"]["SecurityGroupIds"] == ["sg-networkjobsecuritygroup21d3477a"]
    assert len(network["VpcConfig"]["Subnets"]) == {"dev": 2, "prod": 3}[each_stage.name]
    window, statistics, constraints, code = arguments["ProcessingInputs"]
    assert (window["S3Input"]["S3DataType"], window["S3Input"]["S3Uri"]) == (
        "ManifestFile",
        {"Get": "Parameters.CaptureManifest"},
    )
    assert statistics["S3Input"]["S3Uri"] == {"Get": "Parameters.BaselineStatistics"}
    assert constraints["S3Input"]["S3Uri"] == {"Get": "Parameters.BaselineConstraints"}
    assert code["S3Input"]["S3Uri"].startswith(f"s3://cdk-hnb659fds-assets-{ACCOUNT}-{REGION}/")  # model_code/
    (report,) = arguments["ProcessingOutputConfig"]["Outputs"]
    endpoint = ENDPOINTS[each_stage.name]
    assert report["S3Output"]["S3Uri"]["Std:Join"]["Values"] == [
        f"s3://artifactsbucket88671897/monitoring/{endpoint}/reports/",
        {"Get": "Execution.PipelineExecutionId"},
    ]
    command = arguments["AppSpecification"]["ContainerEntrypoint"][2]
    assert (
        f"python3 model_code/monitor.py check --capture /opt/ml/processing/input/data-capture/{endpoint}/ " in command
    )
    assert f"--endpoint {endpoint}" in command
    # dev delivers ground truth: passed to the check only when the window brought some.
    truth = 'if [ -d /opt/ml/processing/input/ground-truth/sample/ ]; then set -- "$@" --ground-truth'
    assert (truth in command) == (each_stage.name == "dev")


def test_the_job_role_reads_only_its_endpoints_window_and_writes_only_its_reports(
    stages: dict[str, SynthesizedStage],
) -> None:
    stage = stages["dev"]
    job = role(stage, "JobRole")
    policy = bucket_policy(Renderer(stage.templates), "data", "ArtifactsBucket88671897")
    own, other = "data-capture/smplat-dev-sample/primary/2026/12/02/09/a.jsonl", "data-capture/smplat-dev-x/a.jsonl"
    assert decide(Request(job, "s3:GetObject", f"{ARTIFACTS}/{own}"), policy) == "Allow"
    assert decide(Request(job, "s3:GetObject", f"{ARTIFACTS}/{other}"), policy) != "Allow"
    assert decide(Request(job, "s3:GetObject", f"{ARTIFACTS}/ground-truth/sample/2026/a.jsonl"), policy) == "Allow"
    baseline = f"{ARTIFACTS}/models/sample/baseline/statistics.json"
    assert decide(Request(job, "s3:GetObject", baseline, {"s3:ResourceAccount": ACCOUNT}), policy) == "Allow"
    # A bucket of the same name in another account (names are global) is not the stage's.
    assert decide(Request(job, "s3:GetObject", baseline, {"s3:ResourceAccount": "210987654321"}), policy) != "Allow"
    assert decide(Request(job, "s3:GetObject", f"{ARTIFACTS}/models/sample/model.tar.gz"), policy) != "Allow"
    report = f"{ARTIFACTS}/monitoring/smplat-dev-sample/reports/exec-1/constraint_violations.json"
    assert decide(Request(job, "s3:PutObject", report), policy) == "Allow"
    assert decide(Request(job, "s3:PutObject", f"{ARTIFACTS}/jobs/x"), policy) != "Allow"
    # The bucket policy holds whatever a role's own policy grants: monitors write only monitoring/, and
    # nothing else writes there (a forged manifest or report).
    everything = {"Effect": "Allow", "Action": "s3:*", "Resource": "*"}
    monitor = Principal(f"arn:aws:iam::{ACCOUNT}:role/smplat-dev-monitoring/Any", (everything,))
    notebook = Principal(f"arn:aws:iam::{ACCOUNT}:role/smplat-dev-notebooks/Any", (everything,))
    administrator = Principal(f"arn:aws:iam::{ACCOUNT}:role/Administrator", (everything,))
    assert decide(Request(monitor, "s3:PutObject", f"{ARTIFACTS}/models/sample/model.tar.gz"), policy) == "Deny"
    assert decide(Request(administrator, "s3:PutObject", report), policy) == "Deny"
    assert decide(Request(administrator, "s3:PutObject", f"{ARTIFACTS}/ground-truth/sample/x.jsonl"), policy) == (
        "Allow"  # the team delivers ground truth
    )
    assert decide(Request(notebook, "s3:GetObject", f"{ARTIFACTS}/{own}"), policy) == "Deny"


def test_the_pipeline_role_creates_only_isolated_checks_inside_the_platform(
    stages: dict[str, SynthesizedStage],
) -> None:
    who = role(stages["dev"], "PipelineRole")
    inside = {
        "sagemaker:VpcSubnets": ["subnet-networkvpcprivatesubnet1subnet6dd86ae6"],
        "sagemaker:VpcSecurityGroupIds": ["sg-networkjobsecuritygroup21d3477a"],
        "sagemaker:VolumeKmsKey": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/PlatformKey1C4A1A63",
        "sagemaker:OutputKmsKey": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/PlatformKey1C4A1A63",
        "sagemaker:NetworkIsolation": "true",
    }
    job = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/smplat-dev-monitor-abc123"
    assert decide(Request(who, "sagemaker:CreateProcessingJob", job, inside)) == "Allow"
    other = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job/smplat-dev-abc123"
    assert decide(Request(who, "sagemaker:CreateProcessingJob", other, inside)) != "Allow"
    open_network = {**inside, "sagemaker:NetworkIsolation": "false"}
    assert decide(Request(who, "sagemaker:CreateProcessingJob", job, open_network)) != "Allow"
    assert decide(Request(who, "sagemaker:CreateTrainingJob", job.replace("processing", "training"), inside)) != (
        "Allow"
    )


def test_the_schedule_starts_the_runbook_which_starts_only_this_pipeline(each_stage: SynthesizedStage) -> None:
    renderer = Renderer(each_stage.templates)
    endpoint = ENDPOINTS[each_stage.name]
    _, rule = only(each_stage, "AWS::Events::Rule")
    assert rule["Properties"]["Name"] == f"{endpoint}-monitor-schedule"
    assert rule["Properties"]["ScheduleExpression"] == {"dev": "rate(1 hour)", "prod": "rate(6 hours)"}[each_stage.name]
    _, document = only(each_stage, "AWS::SSM::Document")
    step = document["Properties"]["Content"]["mainSteps"][0]
    payload = renderer.render(step["inputs"]["InputPayload"], "monitoring")
    assert payload | {"KeyArn": "", "ArtifactsBucket": ""} == {
        "ArtifactsBucket": "",
        "CapturePrefix": f"data-capture/{endpoint}/",
        "GroundTruthPrefix": "ground-truth/sample/" if each_stage.name == "dev" else "",
        "ManifestPrefix": f"monitoring/{endpoint}/manifests/",
        "WindowHours": {"dev": "1", "prod": "6"}[each_stage.name],
        "KeyArn": "",
        "PipelineName": f"{endpoint}-monitor",
        # dev: the stage file's baseline; prod: the one registered with the latest approved package.
        "BaselineStatistics": "s3://artifactsbucket88671897/models/sample/baseline/statistics.json"
        if each_stage.name == "dev"
        else "",
        "BaselineConstraints": "s3://artifactsbucket88671897/models/sample/baseline/constraints.json"
        if each_stage.name == "dev"
        else "",
        "ModelPackageArn": "",
        "PackageParameter": "" if each_stage.name == "dev" else "/smplat/prod/latest-approved-model-package",
    }
    runbook = role(each_stage, "RunbookRole")
    pipeline = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{endpoint}-monitor"
    assert decide(Request(runbook, "sagemaker:StartPipelineExecution", pipeline)) == "Allow"
    other = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/smplat-{each_stage.name}-sample"
    assert decide(Request(runbook, "sagemaker:StartPipelineExecution", other)) != "Allow"
    listing = {"s3:prefix": f"data-capture/{endpoint}/primary/2026/12/02/09/"}
    assert decide(Request(runbook, "s3:ListBucket", ARTIFACTS, listing)) == "Allow"
    assert decide(Request(runbook, "s3:ListBucket", ARTIFACTS, {"s3:prefix": "data-capture/"})) != "Allow"
    assert decide(Request(runbook, "s3:GetObject", f"{ARTIFACTS}/data-capture/{endpoint}/a.jsonl")) != "Allow"
    (trust,) = renderer.render(role_resource(each_stage, "TriggerRole")["AssumeRolePolicyDocument"], "monitoring")[
        "Statement"
    ]
    assert trust["Condition"]["StringEquals"]["aws:SourceArn"] == (
        f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{endpoint}-monitor-schedule"
    )


def role_resource(stage: SynthesizedStage, kind: str) -> dict[str, Any]:
    (found,) = [r["Properties"] for i, r in stage.resources("monitoring", "AWS::IAM::Role").items() if kind in i]
    return found


def test_the_runbook_starts_the_check_waits_for_it_and_publishes_its_reports_metrics(
    each_stage: SynthesizedStage,
) -> None:
    """The check has no network: the runbook puts the metric lines of its report (which only the check's
    role writes) into the platform's namespace, once the check has ended; an idle window ends early."""
    endpoint = ENDPOINTS[each_stage.name]
    _, document = only(each_stage, "AWS::SSM::Document")
    content = Renderer(each_stage.templates).render(document["Properties"]["Content"], "monitoring")
    assert content["assumeRole"].startswith(f"arn:aws:iam::{ACCOUNT}:role/smplat-{each_stage.name}-monitoring/")
    assert "parameters" not in content  # nobody can hand it another role or other inputs
    start, branch, idle, wait, publish = content["mainSteps"]
    assert [s["action"] for s in content["mainSteps"]] == [
        "aws:executeScript",
        "aws:branch",
        "aws:sleep",
        "aws:waitForAwsResourceProperty",
        "aws:executeScript",
    ]
    script = (Path(__file__).parents[2] / "ops" / "monitoring_window.py").read_text()
    assert (start["inputs"]["Handler"], start["inputs"]["Script"]) == ("start_check", script)
    assert branch["inputs"]["Choices"][0]["NextStep"] == "WaitForCheck" and idle["isEnd"] is True
    assert wait["inputs"]["DesiredValues"] == ["Succeeded", "Failed", "Stopped"]
    assert wait["timeoutSeconds"] == 60 * 60 + 1800  # the check's limit, and time to start and upload
    assert publish["inputs"]["Handler"] == "publish_metrics"
    assert publish["inputs"]["InputPayload"] | {"ArtifactsBucket": ""} == {
        "PipelineExecutionArn": "{{ StartCheck.PipelineExecutionArn }}",
        "ArtifactsBucket": "",
        "ReportsPrefix": f"monitoring/{endpoint}/reports/",
        "EndpointName": endpoint,
        "Namespace": "smplat/Monitoring",
    }
    runbook = role(each_stage, "RunbookRole")
    own = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/{endpoint}-monitor/execution/abc"
    other = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline/smplat-{each_stage.name}-sample/execution/abc"
    assert decide(Request(runbook, "sagemaker:DescribePipelineExecution", own)) == "Allow"
    assert decide(Request(runbook, "sagemaker:DescribePipelineExecution", other)) != "Allow"
    reports = f"{ARTIFACTS}/monitoring/{endpoint}/reports/abc"
    assert decide(Request(runbook, "s3:GetObject", f"{reports}/metrics.jsonl")) == "Allow"
    assert decide(Request(runbook, "s3:GetObject", f"{reports}/statistics.json")) != "Allow"
    own_namespace = {"cloudwatch:namespace": "smplat/Monitoring"}
    assert decide(Request(runbook, "cloudwatch:PutMetricData", "*", own_namespace)) == "Allow"
    aws_namespace = {"cloudwatch:namespace": "AWS/SageMaker"}
    assert decide(Request(runbook, "cloudwatch:PutMetricData", "*", aws_namespace)) != "Allow"
    # No metric filters: anyone's job could print lines that look like a check's.
    assert each_stage.resources("monitoring", "AWS::Logs::MetricFilter") == {}


def test_outputs_are_published_with_exports_and_parameters(each_stage: SynthesizedStage) -> None:
    outputs = each_stage.templates["monitoring"]["Outputs"]
    entry = {"dev": "Sample", "prod": "FraudScoring"}[each_stage.name]
    kebab = {"dev": "sample", "prod": "fraud-scoring"}[each_stage.name]
    expected = {
        "MonitoringNamespace": "monitoring-namespace",
        f"Monitor{entry}PipelineName": f"monitor-{kebab}-pipeline-name",
        f"Monitor{entry}ScheduleRuleName": f"monitor-{kebab}-schedule-rule-name",
        f"Monitor{entry}RunbookName": f"monitor-{kebab}-runbook-name",
        f"Monitor{entry}ReportsUri": f"monitor-{kebab}-reports-uri",
    } | ({"MonitorSampleGroundTruthUri": "monitor-sample-ground-truth-uri"} if each_stage.name == "dev" else {})
    assert set(outputs) == set(expected)
    for output_id in expected:
        assert outputs[output_id]["Export"] == {"Name": f"smplat-{each_stage.name}-{output_id}"}
    parameters = {p["Properties"]["Name"] for p in each_stage.resources("monitoring", "AWS::SSM::Parameter").values()}
    assert parameters == {f"/smplat/{each_stage.name}/{name}" for name in expected.values()}


def test_notebooks_may_neither_start_nor_stop_the_checks(stages: dict[str, SynthesizedStage]) -> None:
    """A stopped check reports nothing and a replayed one reports an old window: either hides drift."""
    stage = stages["dev"]
    (notebook_role,) = list(stage.resources("notebooks", "AWS::IAM::Role"))
    who = role_principal(Renderer(stage.templates), "notebooks", notebook_role)
    pipelines = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:pipeline"
    jobs = f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:processing-job"
    assert decide(Request(who, "sagemaker:StartPipelineExecution", f"{pipelines}/smplat-dev-sample")) == "Allow"
    assert decide(Request(who, "sagemaker:StartPipelineExecution", f"{pipelines}/smplat-dev-sample-monitor")) == "Deny"
    assert decide(Request(who, "sagemaker:StopProcessingJob", f"{jobs}/smplat-dev-abc")) == "Allow"
    assert decide(Request(who, "sagemaker:StopProcessingJob", f"{jobs}/smplat-dev-monitor-abc")) == "Deny"


def test_traffic_without_a_reported_check_alarms(stages: dict[str, SynthesizedStage]) -> None:
    """A failed, stopped or never-started check reports nothing, and missing data never alarms: this alarm
    does, when the endpoint served requests two windows running and no check reported."""
    alarms = stages["dev"].resources("endpoints", "AWS::CloudWatch::Alarm").values()
    (alarm,) = [
        a["Properties"] for a in alarms if a["Properties"]["AlarmName"] == "smplat-dev-sample-drift-check-missing"
    ]
    assert (alarm["EvaluationPeriods"], alarm["DatapointsToAlarm"], alarm["Threshold"]) == (2, 2, 1)
    metrics = {m["Id"]: m for m in alarm["Metrics"]}
    expression = next(m for m in metrics.values() if "Expression" in m)
    assert expression["Expression"] == "IF((FILL(invocations0, 0)) > 0 AND FILL(records, 0) == 0, 1, 0)"
    records = metrics["records"]["MetricStat"]
    assert (records["Metric"]["Namespace"], records["Metric"]["MetricName"], records["Period"]) == (
        "smplat/Monitoring",
        "Records",
        3600,
    )
    assert metrics["invocations0"]["MetricStat"]["Metric"]["MetricName"] == "Invocations"
