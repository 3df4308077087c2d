"""The batch transform steps of a pipeline definition, with the SageMaker Python SDK v2 offline: a Model step
(CreateModel: a model in the platform's subnets, network-isolated) and a Transform step over a prefix of
the data bucket, encrypted with the platform key. Training pipelines end with them; scoring pipelines are
them. CDK values enter as the placeholders of constructs/pipeline_sdk.py."""

from __future__ import annotations

from typing import Any

from config.transform import TransformConfig
from constructs.pipeline_sdk import ARTIFACTS_BUCKET, DATA_BUCKET, JOB_ROLE, KEY, SECURITY_GROUP, JobNames, subnets

MODEL_STEP, TRANSFORM_STEP = "Model", "Transform"


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

    model = Model(
        image_uri=image_uri,
        model_data=model_data,
        role=JOB_ROLE,
        # The model's containers run in the platform's subnets, with no network access of their own.
        vpc_config={"Subnets": subnets(subnet_count), "SecurityGroupIds": [SECURITY_GROUP]},
        enable_network_isolation=True,
        name=jobs.prefix,  # a prefix: SageMaker Pipelines appends a suffix per execution
        sagemaker_session=session,
    )
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
