"""Builds a training pipeline's definition with the SageMaker Python SDK v2, offline, at synth: split ->
train (and, beside it, a data-quality baseline of the train channel) -> tune -> evaluate -> condition ->
publish -> register (-> transform), or fail. CDK values enter as the placeholders of constructs/pipeline_sdk.py."""

from __future__ import annotations

import json
from typing import Any

from config.algorithms import MarketplaceAlgorithm, ScriptAlgorithm
from config.pipelines import SINGLE_INSTANCE_FRAMEWORKS, PipelineConfig
from constructs.pipeline_sdk import (
    ARTIFACTS_BUCKET,
    CODE,
    CODE_BUCKET,
    DATA_BUCKET,
    JOB_ROLE,
    KEY,
    PROCESSING,
    PUBLISHER_ROLE,
    SECURITY_GROUP,
    JobNames,
    code_key,
    finish,
    image,
    quiet_sdk,
    retry_policies,
    subnets,
)
from constructs.pipeline_sdk import session as sdk_session
from constructs.pipeline_transform import transform_steps
from model_code.contract import (
    CHANNELS,
    CSV,
    EVALUATION_FILE,
    EVALUATION_METRICS_BY_NAME,
    METRICS,
    TEST,
    TRAIN,
    VALIDATION,
)

# Model Monitor's file names (model_code/monitor.py writes them; the registry publishes them).
BASELINE_STATISTICS, BASELINE_CONSTRAINTS = "statistics.json", "constraints.json"


def build(config: PipelineConfig, *, pipeline_name: str, jobs: JobNames, subnet_count: int) -> dict[str, Any]:
    """The definition (a dict) of one pipeline entry, with placeholders; code bundle n is
    `placeholder-code-key<n>`: 0 the entry point's folder, 1 the split's, 2 the evaluation's, 3 model_code/
    (the baselining step's)."""
    quiet_sdk()
    from sagemaker import chainer, estimator, mxnet, pytorch, sklearn, tensorflow, xgboost
    from sagemaker.drift_check_baselines import DriftCheckBaselines
    from sagemaker.inputs import TrainingInput
    from sagemaker.model_metrics import MetricsSource, ModelMetrics
    from sagemaker.network import NetworkConfig
    from sagemaker.processing import ProcessingInput, ProcessingOutput, Processor
    from sagemaker.tuner import (
        CategoricalParameter,
        ContinuousParameter,
        HyperparameterTuner,
        IntegerParameter,
        WarmStartConfig,
        WarmStartTypes,
    )
    from sagemaker.workflow.condition_step import ConditionStep
    from sagemaker.workflow.conditions import ConditionGreaterThanOrEqualTo, ConditionLessThanOrEqualTo
    from sagemaker.workflow.execution_variables import ExecutionVariables
    from sagemaker.workflow.fail_step import FailStep
    from sagemaker.workflow.functions import Join, JsonGet
    from sagemaker.workflow.parameters import ParameterFloat, ParameterInteger, ParameterString
    from sagemaker.workflow.pipeline import Pipeline
    from sagemaker.workflow.pipeline_definition_config import PipelineDefinitionConfig
    from sagemaker.workflow.properties import PropertyFile
    from sagemaker.workflow.step_collections import RegisterModel
    from sagemaker.workflow.steps import CacheConfig, ProcessingStep, TrainingStep, TuningStep

    session = sdk_session()
    resources, evaluation = config.resources, config.evaluation
    split_type = ParameterString("SplitInstanceType", default_value=config.split.instance_type)
    split_count = ParameterInteger("SplitInstanceCount", default_value=config.split.instance_count)
    train_type = ParameterString("TrainInstanceType", default_value=resources.instance_type)
    single = isinstance(config.algorithm, ScriptAlgorithm) and config.algorithm.framework in SINGLE_INSTANCE_FRAMEWORKS
    # Sources that cannot distribute train on one instance, not on a count a run could change.
    train_count: Any = 1 if single else ParameterInteger("TrainInstanceCount", default_value=resources.instance_count)
    evaluation_type = ParameterString("EvaluationInstanceType", default_value=evaluation.instance_type)
    threshold = ParameterFloat("Threshold", default_value=evaluation.threshold)
    input_prefix = ParameterString("InputPrefix", default_value=config.raw_prefix)
    parameters = [input_prefix, split_type, split_count, train_type, train_count, evaluation_type, threshold]
    parameters = [p for p in parameters if not isinstance(p, int)]

    retries, job_retries = retry_policies()
    cache = CacheConfig(enable_caching=True, expire_after="P30D")
    network = NetworkConfig(
        enable_network_isolation=True,
        security_group_ids=[SECURITY_GROUP],
        subnets=subnets(subnet_count),
        encrypt_inter_container_traffic=True,
    )
    common: dict[str, Any] = dict(role=JOB_ROLE, sagemaker_session=session, volume_kms_key=KEY, output_kms_key=KEY)

    def own_uri(*parts: Any) -> Any:
        return Join(on="/", values=[f"s3://{ARTIFACTS_BUCKET}/pipelines/{config.name}", *parts])

    def code_input(n: int) -> Any:
        return ProcessingInput(
            source=f"s3://{CODE_BUCKET}/{code_key(n)}", destination=f"{CODE}/{n}", input_name=f"code{n}"
        )

    def script_processor(
        kind: str, instance_type: Any, count: Any, n: int, script: str, arguments: list[str], role: str = JOB_ROLE
    ) -> Any:
        # What the SDK's FrameworkProcessor does, without uploading its runner script at synth: unpack the
        # code bundle (a processing input is copied, not unpacked) and run the script from its root.
        run = (
            f"mkdir -p /tmp/code && tar -xzf {CODE}/{n}/* -C /tmp/code && cd /tmp/code "
            f'&& PYTHONPATH=/tmp/code exec python3 {script} "$@"'
        )
        return Processor(
            **{**common, "role": role},
            image_uri=image(kind),
            instance_type=instance_type,
            instance_count=count,
            entrypoint=["/bin/sh", "-c", run, "sh", *arguments],
            network_config=network,
            base_job_name=jobs.prefix,
            max_runtime_in_seconds=resources.max_runtime_minutes * 60,
        )

    # Split: raw/<prefix> -> train/, validation/, test/ under <channel>/<pipeline>/<execution>/.
    split_arguments = [
        "--fractions",
        ",".join(str(f) for f in config.split.fractions),
        "--seed",
        str(config.split.seed),
    ]
    raw = ProcessingInput(
        source=Join(on="", values=[f"s3://{DATA_BUCKET}/", input_prefix]),
        destination=f"{PROCESSING}/input/raw",
        input_name="raw",
    )
    channels = [
        ProcessingOutput(
            output_name=c,
            source=f"{PROCESSING}/output/{c}",
            destination=Join(
                on="/", values=[f"s3://{DATA_BUCKET}/{c}/{config.name}", ExecutionVariables.PIPELINE_EXECUTION_ID]
            ),
        )
        for c in CHANNELS
    ]
    if config.split.engine == "spark":
        from sagemaker.spark.processing import PySparkProcessor

        spark = PySparkProcessor(
            **common,
            framework_version="3.5",
            image_uri=image("split"),
            instance_type=split_type,
            instance_count=split_count,
            network_config=network,
            base_job_name=jobs.prefix,
            max_runtime_in_seconds=resources.max_runtime_minutes * 60,
        )
        split_args = spark.run(
            submit_app=f"s3://{CODE_BUCKET}/placeholder-code-key1.py",  # the script itself: model_code/spark/split.py
            inputs=[raw],
            outputs=channels,
            arguments=["--input", f"{PROCESSING}/input/raw", "--output", f"{PROCESSING}/output", *split_arguments],
        )
    else:
        splitter = script_processor("split", split_type, split_count, 1, "model_code/split.py", split_arguments)
        split_args = splitter.run(inputs=[raw, code_input(1)], outputs=channels)
    split = ProcessingStep("Split", step_args=split_args, cache_config=cache, retry_policies=job_retries)
    outputs = split.properties.ProcessingOutputConfig.Outputs

    # Train: the entry's algorithm on the train and validation channels.
    algorithm = config.algorithm
    sharded = resources.instance_count > 1
    estimator_args: dict[str, Any] = dict(
        **common,
        instance_type=train_type,
        instance_count=train_count,
        volume_size=resources.volume_size_gb,
        max_run=resources.max_runtime_minutes * 60,
        use_spot_instances=resources.spot,
        max_wait=resources.max_wait * 60 if resources.max_wait else None,
        checkpoint_s3_uri=own_uri("checkpoints", ExecutionVariables.PIPELINE_EXECUTION_ID) if resources.spot else None,
        output_path=f"s3://{ARTIFACTS_BUCKET}/pipelines/{config.name}/models",
        subnets=subnets(subnet_count),
        security_group_ids=[SECURITY_GROUP],
        enable_network_isolation=True,
        encrypt_inter_container_traffic=True,
        disable_profiler=True,
        debugger_hook_config=False,
        base_job_name=jobs.prefix,
        hyperparameters={k: str(v).lower() if isinstance(v, bool) else v for k, v in config.hyperparameters.items()},
        image_uri=image("train"),
    )
    if config.uses_model_code_metrics:
        estimator_args["metric_definitions"] = [{"Name": m.name, "Regex": m.regex} for m in METRICS]
    if isinstance(algorithm, ScriptAlgorithm):
        frameworks = {
            "pytorch": pytorch.PyTorch,
            "tensorflow": tensorflow.TensorFlow,
            "sklearn": sklearn.SKLearn,
            "xgboost": xgboost.XGBoost,
            "mxnet": mxnet.MXNet,
            "chainer": chainer.Chainer,
        }
        if algorithm.framework == "tensorflow":
            # The SDK's default model_dir is an S3 path named after a timestamped job (and an isolated
            # job cannot reach S3): the local model directory, uploaded by SageMaker, instead.
            estimator_args["model_dir"] = "/opt/ml/model"
        model = frameworks[algorithm.framework](
            entry_point=algorithm.entry_point,
            source_dir=f"s3://{CODE_BUCKET}/{code_key(0)}",
            framework_version=algorithm.version,
            py_version=algorithm.python or ("py3" if algorithm.framework in ("xgboost", "sklearn") else None),
            code_location=f"s3://{ARTIFACTS_BUCKET}/pipelines/{config.name}/code",
            **estimator_args,
        )
    else:
        model = estimator.Estimator(**estimator_args)
    inputs = {
        TRAIN: TrainingInput(
            outputs[TRAIN].S3Output.S3Uri,
            content_type=CSV,
            distribution="ShardedByS3Key" if sharded else "FullyReplicated",
        ),
        VALIDATION: TrainingInput(outputs[VALIDATION].S3Output.S3Uri, content_type=CSV),
    }
    train = TrainingStep("Train", step_args=model.fit(inputs), cache_config=cache, retry_policies=job_retries)
    trained = train.properties.ModelArtifacts.S3ModelArtifacts

    # Baseline, beside Train: Model Monitor's statistics.json and constraints.json of the train channel,
    # published with the package (ModelDataQuality) for the platform's drift monitoring.
    baseliner = script_processor(
        "baseline",
        split_type,
        1,
        3,
        "model_code/monitor.py",
        ["baseline", "--input", f"{PROCESSING}/train", "--output", f"{PROCESSING}/baseline"],
    )
    baseline = ProcessingStep(
        "Baseline",
        step_args=baseliner.run(
            inputs=[
                ProcessingInput(
                    source=outputs[TRAIN].S3Output.S3Uri, destination=f"{PROCESSING}/train", input_name="train"
                ),
                code_input(3),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="baseline",
                    source=f"{PROCESSING}/baseline",
                    destination=own_uri("baseline", ExecutionVariables.PIPELINE_EXECUTION_ID),
                )
            ],
        ),
        cache_config=cache,
        retry_policies=job_retries,
    )
    baseline_uri = baseline.properties.ProcessingOutputConfig.Outputs["baseline"].S3Output.S3Uri

    def baseline_file(name: str) -> Any:
        return MetricsSource(s3_uri=Join(on="/", values=[baseline_uri, name]), content_type="application/json")

    steps: list[Any] = [split, train, baseline]

    tuning = config.tuning
    if tuning is not None:
        ranges: dict[str, Any] = {}
        for name, r in config.tuning_ranges.items():
            if r.type == "categorical":
                ranges[name] = CategoricalParameter(list(r.values))
            else:
                kind = IntegerParameter if r.type == "integer" else ContinuousParameter
                low, high = (int(r.min), int(r.max)) if r.type == "integer" else (r.min, r.max)  # type: ignore[arg-type]
                ranges[name] = kind(low, high, scaling_type=r.scaling)
        warm = tuning.warm_start
        tuner = HyperparameterTuner(
            model,
            tuning.objective,
            ranges,
            metric_definitions=estimator_args.get("metric_definitions"),
            strategy=tuning.strategy,
            objective_type="Maximize" if tuning.maximized else "Minimize",
            max_jobs=_grid_size(config) if tuning.strategy == "Grid" else tuning.max_jobs,
            max_parallel_jobs=tuning.max_parallel_jobs,
            early_stopping_type="Auto" if tuning.early_stopping else "Off",
            base_tuning_job_name=jobs.tuning,
            warm_start_config=WarmStartConfig(WarmStartTypes(warm.type), parents=set(warm.parents)) if warm else None,
        )
        # After the single training job: a broken entry point fails once, before the tuning jobs start.
        tune = TuningStep(
            "Tune", step_args=tuner.fit(inputs), depends_on=[train], cache_config=cache, retry_policies=job_retries
        )
        trained = tune.get_top_model_s3_uri(
            top_k=0, s3_bucket=ARTIFACTS_BUCKET, prefix=f"pipelines/{config.name}/models"
        )
        steps.append(tune)

    # Evaluate on the test channel; the condition reads evaluation.json through a property file.
    report = PropertyFile(name="Evaluation", output_name="evaluation", path=EVALUATION_FILE)
    evaluation_uri = own_uri("evaluation", ExecutionVariables.PIPELINE_EXECUTION_ID)
    evaluator = script_processor("evaluate", evaluation_type, 1, 2, evaluation.script, config.evaluation_arguments)
    evaluate = ProcessingStep(
        "Evaluate",
        step_args=evaluator.run(
            inputs=[
                ProcessingInput(source=trained, destination=f"{PROCESSING}/model", input_name="model"),
                ProcessingInput(
                    source=outputs[TEST].S3Output.S3Uri, destination=f"{PROCESSING}/test", input_name="test"
                ),
                code_input(2),
            ],
            outputs=[
                ProcessingOutput(
                    output_name="evaluation", source=f"{PROCESSING}/evaluation", destination=evaluation_uri
                )
            ],
        ),
        property_files=[report],
        retry_policies=job_retries,
    )
    steps.append(evaluate)

    # Publish (as the model publisher, the only writer of models/, which endpoints serve), then register.
    published = Join(
        on="/", values=[f"s3://{ARTIFACTS_BUCKET}/models/{config.name}", ExecutionVariables.PIPELINE_EXECUTION_ID]
    )
    copier = Processor(
        **{**common, "role": PUBLISHER_ROLE},
        image_uri=image("split"),
        instance_type="ml.t3.medium",
        instance_count=1,
        entrypoint=["/bin/sh", "-c", f"cp {PROCESSING}/model/model.tar.gz {PROCESSING}/published/"],
        network_config=network,
        base_job_name=jobs.prefix,
        max_runtime_in_seconds=600,
    )
    publish = ProcessingStep(
        "Publish",
        step_args=copier.run(
            inputs=[ProcessingInput(source=trained, destination=f"{PROCESSING}/model", input_name="model")],
            outputs=[ProcessingOutput(output_name="model", source=f"{PROCESSING}/published", destination=published)],
        ),
        retry_policies=job_retries,
    )
    metric = EVALUATION_METRICS_BY_NAME[evaluation.metric]
    register = RegisterModel(
        "Register",
        estimator=model,
        model_data=Join(on="/", values=[published, "model.tar.gz"]),
        image_uri=image("serve"),
        content_types=[CSV],
        response_types=[CSV],
        inference_instances=list(config.inference_instance_types),
        transform_instances=list(config.inference_instance_types),
        model_package_group_name=_group(pipeline_name, config.name),
        approval_status="PendingManualApproval",
        model_metrics=ModelMetrics(
            model_statistics=MetricsSource(
                s3_uri=Join(on="/", values=[evaluation_uri, EVALUATION_FILE]), content_type="application/json"
            ),
            model_data_statistics=baseline_file(BASELINE_STATISTICS),
            model_data_constraints=baseline_file(BASELINE_CONSTRAINTS),
        ),
        drift_check_baselines=DriftCheckBaselines(
            model_data_statistics=baseline_file(BASELINE_STATISTICS),
            model_data_constraints=baseline_file(BASELINE_CONSTRAINTS),
        ),
        depends_on=[publish],
    )
    value = JsonGet(step_name=evaluate.name, property_file=report, json_path=metric.json_path)
    passes = (ConditionGreaterThanOrEqualTo if metric.maximize else ConditionLessThanOrEqualTo)(
        left=value, right=threshold
    )
    bound = "at least" if metric.maximize else "at most"
    fail = FailStep(
        "QualityBarMissed",
        error_message=Join(
            on=" ",
            values=[
                f"{metric.name} on the test channel is",
                value,
                f"; the model is registered only when it is {bound}",
                threshold,
            ],
        ),
    )
    passed: list[Any] = [publish, register]
    if config.transform is not None:
        # Last, with the model just registered: score the entry's transform prefix.
        passed += transform_steps(
            config.transform,
            entry=config.name,
            model_data=Join(on="/", values=[published, "model.tar.gz"]),
            image_uri=image("serve"),
            session=session,
            jobs=jobs,
            subnet_count=subnet_count,
            retries=retries,
            job_retries=job_retries,
            depends_on=[register],
        )
    steps.append(ConditionStep("CheckQuality", conditions=[passes], if_steps=passed, else_steps=[fail]))

    pipeline = Pipeline(
        pipeline_name,
        parameters=parameters,
        steps=steps,
        sagemaker_session=session,
        pipeline_definition_config=PipelineDefinitionConfig(use_custom_job_prefix=True),
    )
    definition: dict[str, Any] = json.loads(pipeline.definition())
    finish(
        definition,
        marketplace_algorithm=algorithm.algorithm_arn if isinstance(algorithm, MarketplaceAlgorithm) else None,
    )
    return definition


def _group(pipeline_name: str, entry: str) -> str:
    return pipeline_name.removesuffix(f"-{entry}")  # `<project>-<stage>`: the stage's model package group


def _grid_size(config: PipelineConfig) -> int:
    """Grid search runs every combination of its categorical ranges: that many jobs."""
    size = 1
    for searched in config.tuning_ranges.values():
        size *= len(searched.values)
    return size
