"""The SageMaker Python SDK v2, offline, for building pipeline definitions at synth.

The SDK parses some values it is given (S3 URIs, role ARNs), so CDK tokens cannot go in. It gets
distinctive placeholder values instead, and `render` turns each into a `${Name}` variable of an
`Fn::Sub`, which CloudFormation fills with the stack's values at deploy time. The session asks AWS
for nothing (explicit region and bucket) and the SDK's telemetry is off.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sagemaker_images import import_sdk

# What the SDK sees, and the variable each becomes. The region is one too: the SDK writes its
# session's region into the hyperparameters, and an environment-agnostic stage knows it only at deploy.
REGION = "xx-placeholder-1"
PLACEHOLDERS = {
    REGION: "AWS::Region",
    "arn:aws:iam::000000000000:role/placeholder-job-role": "JobRoleArn",
    "arn:aws:iam::000000000000:role/placeholder-publisher-role": "PublisherRoleArn",
    "arn:aws:kms:xx:000000000000:key/placeholder-key": "KeyArn",
    "placeholder-data-bucket": "DataBucket",
    "placeholder-artifacts-bucket": "ArtifactsBucket",
    "placeholder-code-bucket": "CodeBucket",
    "sg-placeholder": "SecurityGroup",
    **{f"subnet-placeholder{n}": f"Subnet{n}" for n in range(6)},
    **{f"placeholder-code-key{n}.tar.gz": f"CodeKey{n}" for n in range(4)},
    "placeholder-code-key1.py": "CodeKey1",  # the spark split: a script
    **{
        f"000000000000.dkr.ecr.xx.amazonaws.com/placeholder-{image}:1": f"{image.title()}Image"
        for image in ("split", "train", "evaluate", "serve", "baseline")
    },
}
(JOB_ROLE, PUBLISHER_ROLE, KEY, DATA_BUCKET, ARTIFACTS_BUCKET, CODE_BUCKET, SECURITY_GROUP) = list(PLACEHOLDERS)[1:8]
CODE = "/opt/ml/processing/code"  # beside the inputs, never inside one
PROCESSING = "/opt/ml/processing"
# SageMaker reads a pipeline definition of at most 100 KB from the template (more needs S3).
MAX_DEFINITION_BYTES = 100_000


@dataclass(frozen=True)
class JobNames:
    """Prefixes of the jobs' names (SageMaker appends a suffix); IAM scopes job creation by them."""

    prefix: str  # `<project>-<stage>`

    @property
    def tuning(self) -> str:
        return self.prefix[:20]  # the SDK keeps at most 20 characters of a tuning job's prefix

    @property
    def log_streams(self) -> str:
        """The prefix of every job's log streams (named after the job; a tuning job's training jobs
        after the tuning job)."""
        return self.pattern("hyper-parameter-tuning-job").removesuffix("*")

    def pattern(self, kind: str) -> str:
        """The names of this kind of job (`training-job`, ...), as an IAM resource-name pattern."""
        prefix = self.tuning if kind == "hyper-parameter-tuning-job" else self.prefix
        return f"{prefix}-*" if prefix == self.prefix else f"{prefix}*"  # a cut prefix ends anywhere


def image(kind: str) -> str:
    return next(p for p, v in PLACEHOLDERS.items() if v == f"{kind.title()}Image")


def code_key(n: int) -> str:
    return f"placeholder-code-key{n}.tar.gz"


def subnets(count: int) -> list[str]:
    return [f"subnet-placeholder{n}" for n in range(count)]


def check_size(body: str, entry: str) -> None:
    """SageMaker takes a definition of at most 100 KB from the template; a bigger one would have to
    live in S3, where CloudFormation cannot fill in the stack's values."""
    size = len(body.encode())
    if size > MAX_DEFINITION_BYTES:
        raise ValueError(
            f"pipelines: {entry}: the definition is {size} bytes; CloudFormation passes at most "
            f"{MAX_DEFINITION_BYTES} inline (use fewer steps, ranges or hyperparameters)"
        )


def render(definition: dict[str, Any]) -> str:
    """The definition as the body of an `Fn::Sub`: each placeholder becomes its `${Name}`, and any
    other `${` is escaped as `${!` so that CloudFormation leaves it as written."""
    text = json.dumps(definition, sort_keys=True, separators=(",", ":")).replace("${", "${!")
    for placeholder, name in sorted(PLACEHOLDERS.items(), key=lambda item: -len(item[0])):
        text = text.replace(placeholder, "${" + name + "}")
    return text


def session() -> Any:
    import boto3
    from sagemaker.workflow.pipeline_context import PipelineSession

    # Explicit region and bucket: the SDK asks AWS for neither. No credentials are needed.
    return PipelineSession(
        boto_session=boto3.Session(region_name=REGION), default_bucket=ARTIFACTS_BUCKET, sagemaker_config=SDK_DEFAULTS
    )


def retry_policies() -> tuple[list[Any], list[Any]]:
    """(every step's, job steps') retry policies: throttling and service faults for every step, capacity and
    resource-limit errors for jobs too (spot interruptions themselves are resumed by managed spot training
    from the checkpoints)."""
    from sagemaker.workflow.retry import (
        SageMakerJobExceptionTypeEnum,
        SageMakerJobStepRetryPolicy,
        StepExceptionTypeEnum,
        StepRetryPolicy,
    )

    retries: list[Any] = [
        StepRetryPolicy(
            [StepExceptionTypeEnum.THROTTLING, StepExceptionTypeEnum.SERVICE_FAULT],
            max_attempts=5,
            backoff_rate=2.0,
            interval_seconds=5,
        )
    ]
    job_retries = [
        *retries,
        SageMakerJobStepRetryPolicy(
            [SageMakerJobExceptionTypeEnum.CAPACITY_ERROR, SageMakerJobExceptionTypeEnum.RESOURCE_LIMIT],
            max_attempts=3,
            backoff_rate=2.0,
            interval_seconds=60,
        ),
    ]
    return retries, job_retries


# The SDK's defaults config: telemetry off (otherwise the SDK calls home during synth).
SDK_DEFAULTS = {"SchemaVersion": "1.0", "SageMaker": {"PythonSDK": {"Modules": {"TelemetryOptOut": True}}}}


def quiet_sdk() -> None:
    """Import the SDK quietly, and validate its defaults config once."""
    import_sdk()
    import sagemaker.utils

    # The SDK re-validates its defaults config against its JSON schema on every lookup (0.2 s each, about
    # 30 per pipeline); ours is a constant, validated once here.
    if getattr(sagemaker.utils.validate_sagemaker_config, "__name__", "") != "_validated_once":
        sagemaker.utils.validate_sagemaker_config(SDK_DEFAULTS)

        def _validated_once(config: dict[str, Any] | None = None) -> None:
            if config != SDK_DEFAULTS:
                raise ValueError(f"unexpected SageMaker SDK defaults config: {config}")

        sagemaker.utils.validate_sagemaker_config = _validated_once


def finish(definition: dict[str, Any], *, marketplace_algorithm: str | None) -> None:
    """What the SDK gets wrong offline or cannot express, fixed in place: no experiments, no
    timestamps, the code bundle's real name, and a Marketplace algorithm by its ARN."""
    definition.pop("PipelineExperimentConfig", None)  # no experiments: no SageMaker Experiments API calls
    for step in _all_steps(definition["Steps"]):
        arguments = step.get("Arguments", {})
        for holder in (arguments, arguments.get("TrainingJobDefinition", {})):
            for key in ("HyperParameters", "StaticHyperParameters"):
                # The SDK writes a timestamped job name into the hyperparameters: synth would never repeat.
                holder.get(key, {}).pop("sagemaker_job_name", None)
                # The code channel holds the bundle under its asset key, not the SDK's `sourcedir.tar.gz`.
                if "sagemaker_submit_directory" in holder.get(key, {}):
                    holder[key]["sagemaker_submit_directory"] = json.dumps(f"/opt/ml/input/data/code/{code_key(0)}")
            if marketplace_algorithm and "AlgorithmSpecification" in holder:
                spec = holder["AlgorithmSpecification"]
                spec.pop("TrainingImage", None)
                spec.pop("MetricDefinitions", None)  # the algorithm defines its metrics
                spec["AlgorithmName"] = marketplace_algorithm
        if step["Type"] == "RegisterModel" and marketplace_algorithm:
            model_data = arguments["InferenceSpecification"]["Containers"][0]["ModelDataUrl"]
            arguments.pop("InferenceSpecification")
            arguments["SourceAlgorithmSpecification"] = {
                "SourceAlgorithms": [{"AlgorithmName": marketplace_algorithm, "ModelDataUrl": model_data}]
            }


def _all_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for step in steps:
        found.append(step)
        arguments = step.get("Arguments", {})
        found += _all_steps(arguments.get("IfSteps", []) + arguments.get("ElseSteps", []))
    return found
