"""The two documents of an endpoint's drift check, as plain data (constructs/drift_monitor.py deploys them):
the SageMaker Pipeline definition, one isolated processing job running `model_code/monitor.py check`;
and the SSM Automation runbook that starts it on a window of capture files, waits for it and publishes the
metrics of its report (the scripts: ops/monitoring_window.py)."""

from __future__ import annotations

import inspect
import shlex
from collections.abc import Sequence
from typing import Any

from config.monitoring import MonitoringConfig
from ops import monitoring_window

PROCESSING = "/opt/ml/processing"


def check_definition(
    *,
    endpoint_name: str,
    config: MonitoringConfig,
    capture_prefix: str,
    truth: str | None,
    job_prefix: str,
    key_arn: str,
    image_uri: str,
    role_arn: str,
    code_uri: str,
    reports_uri: str,
    security_group_id: str,
    subnet_ids: Sequence[str],
) -> dict[str, Any]:
    """The pipeline: parameters `CaptureManifest`, `BaselineStatistics`, `BaselineConstraints`; one step,
    `CheckDrift`, writing its report under `reports_uri` + the execution's ID."""
    # The baseline inputs are single files under folders of their own; the glob finds them by any name.
    # Stage-file values are quoted: they become part of a shell command.
    check = (
        f"--capture {shlex.quote(f'{PROCESSING}/input/{capture_prefix}')} "
        f"--statistics {PROCESSING}/baseline/statistics/*.json "
        f"--constraints {PROCESSING}/baseline/constraints/*.json --output {PROCESSING}/report "
        f"--endpoint {shlex.quote(endpoint_name)}"
    )
    # Ground truth is optional per window: passed only when the manifest brought some.
    truth_folder = shlex.quote(f"{PROCESSING}/input/{truth}")
    quality = (
        f'if [ -d {truth_folder} ]; then set -- "$@" --ground-truth {truth_folder} '
        f"--problem-type {shlex.quote(config.model_quality.problem_type)}; fi; "
        if config.model_quality and truth
        else ""
    )
    run = (
        f"set -e; mkdir -p /tmp/code; tar -xzf {PROCESSING}/code/* -C /tmp/code; cd /tmp/code; {quality}"
        f'PYTHONPATH=/tmp/code exec python3 model_code/monitor.py check {check} "$@"'
    )

    def s3_input(name: str, uri: object, local: str, kind: str = "S3Prefix") -> dict[str, object]:
        return {
            "InputName": name,
            "AppManaged": False,
            "S3Input": {
                "S3Uri": uri,
                "LocalPath": local,
                "S3DataType": kind,
                "S3InputMode": "File",
                "S3DataDistributionType": "FullyReplicated",
            },
        }

    def parameter(name: str) -> dict[str, str]:
        return {"Get": f"Parameters.{name}"}

    return {
        "Version": "2020-12-01",
        "Parameters": [
            {"Name": "CaptureManifest", "Type": "String"},
            {"Name": "BaselineStatistics", "Type": "String"},
            {"Name": "BaselineConstraints", "Type": "String"},
        ],
        "Steps": [
            {
                "Name": "CheckDrift",
                "Type": "Processing",
                "Arguments": {
                    "ProcessingJobName": job_prefix,
                    "ProcessingResources": {
                        "ClusterConfig": {
                            "InstanceType": config.instance_type,
                            "InstanceCount": 1,
                            "VolumeSizeInGB": 30,
                            "VolumeKmsKeyId": key_arn,
                        }
                    },
                    "AppSpecification": {"ImageUri": image_uri, "ContainerEntrypoint": ["/bin/sh", "-c", run, "sh"]},
                    "RoleArn": role_arn,
                    "ProcessingInputs": [
                        s3_input("window", parameter("CaptureManifest"), f"{PROCESSING}/input", "ManifestFile"),
                        *(
                            s3_input(kind, parameter(f"Baseline{kind.title()}"), f"{PROCESSING}/baseline/{kind}")
                            for kind in ("statistics", "constraints")
                        ),
                        s3_input("code", code_uri, f"{PROCESSING}/code"),
                    ],
                    "ProcessingOutputConfig": {
                        "Outputs": [
                            {
                                "OutputName": "report",
                                "AppManaged": False,
                                "S3Output": {
                                    "S3Uri": {
                                        "Std:Join": {
                                            "On": "",
                                            "Values": [reports_uri, {"Get": "Execution.PipelineExecutionId"}],
                                        }
                                    },
                                    "LocalPath": f"{PROCESSING}/report",
                                    "S3UploadMode": "EndOfJob",
                                },
                            }
                        ],
                        "KmsKeyId": key_arn,
                    },
                    "NetworkConfig": {
                        "EnableNetworkIsolation": True,
                        "EnableInterContainerTrafficEncryption": True,
                        "VpcConfig": {"SecurityGroupIds": [security_group_id], "Subnets": list(subnet_ids)},
                    },
                    "StoppingCondition": {"MaxRuntimeInSeconds": config.max_runtime_minutes * 60},
                },
            }
        ],
    }


def runbook_content(
    *,
    endpoint_name: str,
    role_arn: str,
    max_runtime_minutes: int,
    start_inputs: dict[str, Any],
    publish_inputs: dict[str, Any],
) -> dict[str, Any]:
    """StartCheck (start_check with `start_inputs`); an idle window ends there; else WaitForCheck, then
    PublishMetrics (publish_metrics with `publish_inputs` and the execution StartCheck started)."""
    script = inspect.getsource(monitoring_window)
    return {
        "schemaVersion": "0.3",
        "description": f"Start a drift check of the traffic endpoint {endpoint_name} captured",
        # Fixed: whoever starts the runbook cannot hand it another role, nor other inputs.
        "assumeRole": role_arn,
        "mainSteps": [
            {
                "name": "StartCheck",
                "action": "aws:executeScript",
                "inputs": {
                    "Runtime": "python3.11",
                    "Handler": monitoring_window.HANDLER,
                    "Script": script,
                    "InputPayload": start_inputs,
                },
                "outputs": [
                    {"Name": "Started", "Selector": "$.Payload.Started", "Type": "Boolean"},
                    {"Name": "PipelineExecutionArn", "Selector": "$.Payload.PipelineExecutionArn", "Type": "String"},
                ],
            },
            {
                "name": "CheckStarted",
                "action": "aws:branch",
                "inputs": {
                    "Choices": [
                        {"NextStep": "WaitForCheck", "Variable": "{{ StartCheck.Started }}", "BooleanEquals": True}
                    ],
                    "Default": "NothingCaptured",
                },
            },
            {"name": "NothingCaptured", "action": "aws:sleep", "inputs": {"Duration": "PT0S"}, "isEnd": True},
            {
                "name": "WaitForCheck",
                "action": "aws:waitForAwsResourceProperty",
                # The check's own limit, and the time to start its instance and upload its report.
                "timeoutSeconds": max_runtime_minutes * 60 + 1800,
                "inputs": {
                    "Service": "sagemaker",
                    "Api": "DescribePipelineExecution",
                    "PipelineExecutionArn": "{{ StartCheck.PipelineExecutionArn }}",
                    "PropertySelector": "$.PipelineExecutionStatus",
                    "DesiredValues": ["Succeeded", "Failed", "Stopped"],
                },
            },
            {
                "name": "PublishMetrics",
                "action": "aws:executeScript",
                "inputs": {
                    "Runtime": "python3.11",
                    "Handler": monitoring_window.PUBLISH_HANDLER,
                    "Script": script,
                    "InputPayload": {"PipelineExecutionArn": "{{ StartCheck.PipelineExecutionArn }}", **publish_inputs},
                },
                "isEnd": True,
            },
        ],
    }
