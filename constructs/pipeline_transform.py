"""The batch transform steps of a pipeline definition, with the SageMaker Python SDK v2 offline: a Model step
(CreateModel: a model in the platform's subnets, network-isolated) and a Transform step over a prefix of
the data bucket, encrypted with the platform key. Training pipelines end with them; scoring pipelines are
them. CDK values enter as the placeholders of constructs/pipeline_sdk.py."""

from __future__ import annotations

import json
from typing import Any

from config.scoring import ScoringConfig
from config.transform import TransformConfig
from constructs.pipeline_sdk import (
    ARTIFACTS_BUCKET,
    DATA_BUCKET,
    JOB_ROLE,
    KEY,
    SECURITY_GROUP,
    JobNames,
    finish,
    quiet_sdk,
    retry_policies,
    subnets,
)
from constructs.pipeline_sdk import session as sdk_session

MODEL_STEP, TRANSFORM_STEP = "Model", "Transform"
PACKAGE_IMAGE = "placeholder-package-image"  # never in a definition: the Model step names the package


def transform_steps(
    transform: TransformConfig,
    *,
    entry: str,
    model_data: Any,
    image_uri: str,
    session: Any,
    jobs: JobNames,
    subnet_count: int,
    retries: list[Any],
    job_retries: list[Any],
    depends_on: list[Any] | None = None,
) -> list[Any]:
    """[the Model step, the Transform step]: `model_data` (an S3 URI or a pipeline expression) served by
    `image_uri`, as the job role, scoring `s3://<data>/<input_prefix>` into
    `s3://<artifacts>/pipelines/<entry>/transform/<execution>/` (one `<object>.out` per input object)."""
    from sagemaker.model import Model
    from sagemaker.transformer import Transformer
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.functions import Join
    from sagemaker.workflow.model_step import ModelStep
    from sagemaker.workflow.steps import TransformStep

    where = dict(
        role=JOB_ROLE,
        # The model's containers run in the platform's subnets, with no network access of their own.
        vpc_config={"Subnets": subnets(subnet_count), "SecurityGroupIds": [SECURITY_GROUP]},
        enable_network_isolation=True,
        name=jobs.prefix,  # a prefix: SageMaker Pipelines appends a suffix per execution
        sagemaker_session=session,
    )
    model = Model(image_uri=image_uri, model_data=model_data, **where)
    create = ModelStep(
        MODEL_STEP,
        step_args=model.create(instance_type=transform.instance_type),
        retry_policies=retries,
        depends_on=depends_on,
    )
    transformer = Transformer(
        model_name=create.properties.ModelName,
        instance_count=transform.instance_count,
        instance_type=transform.instance_type,
        strategy=transform.batch_strategy,
        assemble_with=transform.assemble_with,
        output_path=Join(
            on="/",
            values=[
                f"s3://{ARTIFACTS_BUCKET}/pipelines/{entry}/transform",
                ExecutionVariables.PIPELINE_EXECUTION_ID,
            ],
        ),
        output_kms_key=KEY,
        volume_kms_key=KEY,
        accept=transform.accept,
        max_concurrent_transforms=transform.max_concurrent_transforms,
        max_payload=transform.max_payload_mb,
        base_transform_job_name=jobs.prefix,
        sagemaker_session=session,
    )
    score = TransformStep(
        TRANSFORM_STEP,
        step_args=transformer.transform(
            data=f"s3://{DATA_BUCKET}/{transform.input_prefix}",
            data_type="S3Prefix",
            content_type=transform.content_type,
            split_type=transform.split_type,
            input_filter=transform.input_filter,
            output_filter=transform.output_filter,
            join_source=transform.join_source,
        ),
        retry_policies=job_retries,
    )
    return [create, score]


def build_scoring(config: ScoringConfig, *, pipeline_name: str, jobs: JobNames, subnet_count: int) -> dict[str, Any]:
    """The definition (a dict, with placeholders) of a scoring pipeline: parameter `ModelPackageArn` (a
    version of the stage's registry), a Model step from that package, a Transform step (`config.transform`)."""
    quiet_sdk()
    from sagemaker.workflow.parameters import ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig

    session = sdk_session()
    package = ParameterString("ModelPackageArn")  # no default: the runbook passes the latest approved one
    retries, job_retries = retry_policies()
    steps = transform_steps(
        config.transform,
        entry=config.name,
        model_data=None,
        image_uri=PACKAGE_IMAGE,  # replaced by the package below: the SDK's ModelPackage takes no parameter
        session=session,
        jobs=jobs,
        subnet_count=subnet_count,
        retries=retries,
        job_retries=job_retries,
    )
    pipeline = Pipeline(
        pipeline_name,
        parameters=[package],
        steps=steps,
        sagemaker_session=session,
        pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=True),
    )
    definition: dict[str, Any] = json.loads(pipeline.definition())
    finish(definition, marketplace_algorithm=None)
    (model,) = [step for step in definition["Steps"] if step["Type"] == "Model"]
    # The package brings its image and model data (CreateModel with ModelPackageName).
    model["Arguments"]["PrimaryContainer"] = {"ModelPackageName": {"Get": f"Parameters.{package.name}"}}
    return definition
