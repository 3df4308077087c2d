"""Runs a pipeline's Processing, Training, Tuning, RegisterModel, Model and Transform steps on this machine
against the local AWS."""

from __future__ import annotations

import importlib.util
import itertools
import json
import math
import os
import random
import re
import shlex
import subprocess
import sys
import tarfile
import threading
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from local_aws.deploy import client
from local_aws.moto_server import ACCOUNT, LocalAws
from local_aws.pipeline_types import DefinitionError, NotRunLocally, StepContext, StepResult, StepRunner
from model_code.contract import MODEL_FILE
from model_code.tuning import worse_than_median

PROCESSING = "/opt/ml/processing"
PROCESSING_CODE = "/tmp/code"  # where the platform's processing entrypoints unpack their code bundle
OPT_ML = "/opt/ml/"
# An image's repository names its framework; the step runs here when that framework imports here.
FRAMEWORK_MODULES = {
    "sagemaker-scikit-learn": "sklearn",
    "sagemaker-xgboost": "xgboost",
    "pytorch-training": "torch",
    "tensorflow-training": "tensorflow",
    "mxnet-training": "mxnet",
    "sagemaker-chainer": "chainer",
}
# The image's interpreter, as a word of a command (argv[0] or inside `sh -c` strings): run by this one.
PYTHON_WORD = re.compile(r"(?<![^\s;&|(])python3?(?=[\s;&|)]|$)")
TAIL_LINES = 30
REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
# The transform's records go to the platform's serving container (model_code/serve.py), which serves
# model_code's model file; the options are CreateTransformJob's, as `model_code.lifecycle transform` flags.
TRANSFORM_FLAGS = {
    "--content-type": ("TransformInput", "ContentType"),
    "--split-type": ("TransformInput", "SplitType"),
    "--accept": ("TransformOutput", "Accept"),
    "--assemble-with": ("TransformOutput", "AssembleWith"),
    "--batch-strategy": ("", "BatchStrategy"),
    "--max-payload-mb": ("", "MaxPayloadInMB"),
    "--input-filter": ("DataProcessing", "InputFilter"),
    "--join-source": ("DataProcessing", "JoinSource"),
    "--output-filter": ("DataProcessing", "OutputFilter"),
}


def runners(aws: LocalAws) -> dict[str, StepRunner]:
    """The step runners by step Type, each working against `aws` (S3 and SageMaker through boto3)."""
    steps = _Steps(aws)
    return {
        "Processing": steps.processing,
        "Training": steps.training,
        "Tuning": steps.tuning,
        "RegisterModel": steps.register_model,
        "Model": steps.model,
        "Transform": steps.transform,
    }


@dataclass
class _Run:
    exit_code: int
    lines: list[str]
    stopped: bool = False  # by the caller's on_line (early stopping)
    timed_out: bool = False

    @property
    def text(self) -> str:
        return "\n".join(self.lines)

    def tail(self) -> str:
        return "\n".join(self.lines[-TAIL_LINES:])


@dataclass
class _Trial:
    number: int
    name: str
    hyperparameters: dict[str, str]  # the tuned ones
    status: str = "InProgress"
    objective: float | None = None
    curve: list[float] = field(default_factory=list)
    model_uri: str | None = None
    failure: str = ""


class _Steps:
    def __init__(self, aws: LocalAws) -> None:
        self.aws = aws
        # Clients are thread-safe; creating them is not (boto3's default session), so once, here.
        self.s3 = client(aws, "s3")
        self.sagemaker = client(aws, "sagemaker")

    # Processing -----------------------------------------------------------------------------------

    def processing(self, step: dict[str, Any], context: StepContext) -> StepResult:
        args = step["Arguments"]
        app = args["AppSpecification"]
        entrypoint = [str(a) for a in app.get("ContainerEntrypoint") or []]
        # Without an entrypoint the image runs its own program: only the image can.
        self._require_image(app["ImageUri"], script=bool(entrypoint))
        job_name = _job_name(args.get("ProcessingJobName"), step["Name"], context)
        base = context.workdir / "opt_ml_processing"
        code = context.workdir / "code"
        base.mkdir(parents=True, exist_ok=True)
        count = args.get("ProcessingResources", {}).get("ClusterConfig", {}).get("InstanceCount", 1)
        if count != 1:
            context.log(f"{job_name}: {count} instances asked; runs as one here, with every input")
        for item in args.get("ProcessingInputs", []):
            source = item.get("S3Input")
            if source is None:
                raise NotRunLocally(f"needs a dataset definition (input {item.get('InputName')})")
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise NotRunLocally(f"needs a {source['S3DataType']} input ({item.get('InputName')})")
            self._download(source["S3Uri"], _local(source["LocalPath"], base, PROCESSING))
        outputs: dict[str, dict[str, Any]] = {}
        for item in args.get("ProcessingOutputConfig", {}).get("Outputs", []):
            if "S3Output" not in item:
                raise NotRunLocally(f"needs a feature store output ({item.get('OutputName')})")
            folder = _local(item["S3Output"]["LocalPath"], base, PROCESSING)
            folder.mkdir(parents=True, exist_ok=True)
            outputs[item["OutputName"]] = item
        command = [
            _local_command(a, {PROCESSING: str(base), PROCESSING_CODE: str(code)}) for a in app["ContainerEntrypoint"]
        ]
        command += [_local_command(str(a), {PROCESSING: str(base)}) for a in app.get("ContainerArguments") or []]
        env = self.aws.env() | {str(k): str(v) for k, v in (args.get("Environment") or {}).items()}
        env |= {"SM_PROCESSING_BASE_DIR": str(base), "PYTHONUNBUFFERED": "1"}
        context.log(f"{job_name}: {shlex.join(command)}")
        run = _run(command, cwd=context.workdir, env=env, log=context.log, timeout=_max_runtime(args))
        if run.exit_code != 0:
            reason = "ran out of its MaxRuntimeInSeconds" if run.timed_out else f"exited with {run.exit_code}"
            raise RuntimeError(f"processing job {job_name} {reason}:\n{run.tail()}")
        for item in outputs.values():
            s3_output = item["S3Output"]
            self._upload(_local(s3_output["LocalPath"], base, PROCESSING), s3_output["S3Uri"])
        property_files: dict[str, Any] = {}
        for spec in step.get("PropertyFiles", []):
            if spec["OutputName"] not in outputs:
                raise DefinitionError(
                    f"step {step['Name']}: property file {spec['PropertyFileName']}: no output {spec['OutputName']!r}"
                )
            path = _local(outputs[spec["OutputName"]]["S3Output"]["LocalPath"], base, PROCESSING) / spec["FilePath"]
            if not path.is_file():
                raise RuntimeError(
                    f"processing job {job_name}: {spec['FilePath']} (property file {spec['PropertyFileName']}) "
                    "was not written"
                )
            property_files[spec["PropertyFileName"]] = json.loads(path.read_text())
        properties = {
            "ProcessingJobName": job_name,
            "ProcessingOutputConfig": {
                "Outputs": {
                    name: {"OutputName": name, "S3Output": dict(item["S3Output"])} for name, item in outputs.items()
                }
            },
        }
        produced = ", ".join(item["S3Output"]["S3Uri"] for item in outputs.values())
        return StepResult(properties, property_files, produced)

    # Training -------------------------------------------------------------------------------------

    def training(self, step: dict[str, Any], context: StepContext) -> StepResult:
        args = step["Arguments"]
        hyperparameters = {str(k): str(v) for k, v in (args.get("HyperParameters") or {}).items()}
        self._require_algorithm(args["AlgorithmSpecification"], hyperparameters)
        job_name = _job_name(args.get("TrainingJobName"), step["Name"], context)
        data = context.workdir / "data"
        channels = self._download_channels(args, data)
        run, model = self._train(job_name, args, hyperparameters, channels, data, context.workdir / "job", context.log)
        if run.exit_code != 0 or model is None:
            reason = "ran out of its MaxRuntimeInSeconds" if run.timed_out else f"exited with {run.exit_code}"
            raise RuntimeError(f"training job {job_name} {reason}:\n{run.tail()}")
        checkpoints = args.get("CheckpointConfig", {}).get("S3Uri")
        if checkpoints:
            self._upload(context.workdir / "job" / "opt_ml" / "checkpoints", checkpoints)
        uri = self._upload_model(model, args, job_name)
        metrics = _final_metrics(run.text, args["AlgorithmSpecification"].get("MetricDefinitions", []))
        properties = {
            "TrainingJobName": job_name,
            "ModelArtifacts": {"S3ModelArtifacts": uri},
            "FinalMetricDataList": [{"MetricName": name, "Value": value} for name, value in metrics.items()],
        }
        return StepResult(properties, {}, uri)

    # Tuning ---------------------------------------------------------------------------------------

    def tuning(self, step: dict[str, Any], context: StepContext) -> StepResult:
        args = step["Arguments"]
        if "TrainingJobDefinitions" in args:
            raise NotRunLocally("needs several training job definitions in one tuning job")
        definition = args["TrainingJobDefinition"]
        static = {str(k): str(v) for k, v in (definition.get("StaticHyperParameters") or {}).items()}
        self._require_algorithm(definition["AlgorithmSpecification"], static)
        config = args["HyperParameterTuningJobConfig"]
        objective = config["HyperParameterTuningJobObjective"]
        pattern = next(
            (
                m["Regex"]
                for m in definition["AlgorithmSpecification"].get("MetricDefinitions", [])
                if m["Name"] == objective["MetricName"]
            ),
            None,
        )
        if pattern is None:
            raise DefinitionError(
                f"step {step['Name']}: the objective {objective['MetricName']} has no MetricDefinitions regex"
            )
        objective_regex = re.compile(pattern)
        maximize = objective["Type"] == "Maximize"
        sign = 1.0 if maximize else -1.0
        tuning_name = _job_name(args.get("HyperParameterTuningJobName"), step["Name"], context)
        plan = _plan(config, step["Name"])
        parallel = int(config.get("ResourceLimits", {}).get("MaxParallelTrainingJobs") or 1)
        early_stopping = config.get("TrainingJobEarlyStoppingType") == "Auto"
        threads = max(1, (os.cpu_count() or 1) // parallel)
        trials = [
            _Trial(n, f"{tuning_name}-{n:03d}-{uuid.uuid4().hex[:8]}", hps) for n, hps in enumerate(plan, start=1)
        ]
        context.log(f"{tuning_name}: {len(trials)} trials, {parallel} at a time, strategy {config.get('Strategy')}")
        data = context.workdir / "data"
        channels = self._download_channels(definition, data)
        finished: list[_Trial] = []
        lock = threading.Lock()

        def should_stop(trial: _Trial, line: str) -> bool:
            # model_code/tuning.py's rule: worse than the median of completed trials at the same point.
            for match in objective_regex.finditer(line):
                value = _number(match)
                if value is not None:
                    trial.curve.append(value)
            if not early_stopping:
                return False
            with lock:
                completed = [t.curve for t in finished if t.status == "Completed"]
            return worse_than_median(trial.curve, completed, maximize=maximize)

        def run_trial(trial: _Trial) -> None:
            hps = static | trial.hyperparameters | {"sagemaker_tuning_job_name": json.dumps(tuning_name)}
            run, model = self._train(
                trial.name,
                definition,
                hps,
                channels,
                data,
                context.workdir / f"trial-{trial.number:03d}",
                lambda line: context.log(f"[{trial.number:03d}] {line}"),
                on_line=lambda line: should_stop(trial, line),
                threads=threads,
            )
            values = [v for m in objective_regex.finditer(run.text) if (v := _number(m)) is not None]
            trial.objective = values[-1] if values else None
            if run.stopped:
                trial.status = "Stopped"
            elif run.exit_code != 0 or model is None:
                trial.status, trial.failure = "Failed", run.tail()
            else:
                trial.status = "Completed"
                trial.model_uri = self._upload_model(model, definition, trial.name)
            context.log(f"{trial.name}: {trial.status} {objective['MetricName']}={trial.objective}")
            with lock:
                finished.append(trial)

        with ThreadPoolExecutor(max_workers=parallel) as pool:
            list(pool.map(run_trial, trials))
        ranked = sorted(
            (t for t in trials if t.model_uri is not None and t.objective is not None),
            key=lambda t: (-sign * (t.objective or 0.0), t.number),
        )
        if not ranked:
            failures = "\n".join(f"{t.name}: {t.status}\n{t.failure}" for t in trials)
            raise RuntimeError(f"tuning job {tuning_name}: no training job completed with its objective\n{failures}")
        ranked += [t for t in trials if t not in ranked]

        def summary(trial: _Trial) -> dict[str, Any]:
            found: dict[str, Any] = {"TrainingJobName": trial.name, "TrainingJobStatus": trial.status}
            found["TunedHyperParameters"] = trial.hyperparameters
            if trial.objective is not None:
                metric = {"MetricName": objective["MetricName"], "Value": trial.objective, "Type": objective["Type"]}
                found["FinalHyperParameterTuningJobObjectiveMetric"] = metric
            return found

        summaries = [summary(t) for t in ranked]
        best = summaries[0]
        properties = {
            "HyperParameterTuningJobName": tuning_name,
            "BestTrainingJob": best,
            "TrainingJobSummaries": summaries,
        }
        produced = (
            f"best {best['TrainingJobName']} {objective['MetricName']}={ranked[0].objective}: {ranked[0].model_uri}"
        )
        return StepResult(properties, {}, produced)

    # RegisterModel --------------------------------------------------------------------------------

    def register_model(self, step: dict[str, Any], context: StepContext) -> StepResult:
        args = dict(step["Arguments"])
        group = args.get("ModelPackageGroupName")
        if group:
            try:
                self.sagemaker.describe_model_package_group(ModelPackageGroupName=group)
            except ClientError:
                # The stack creates the group, but moto's CloudFormation has no model package groups.
                context.log(f"model package group {group} does not exist in the local AWS: creating it")
                self.sagemaker.create_model_package_group(ModelPackageGroupName=group)
        arn = str(self.sagemaker.create_model_package(**args)["ModelPackageArn"])
        context.log(f"registered {arn} ({args.get('ModelApprovalStatus', 'PendingManualApproval')})")
        return StepResult({"ModelPackageArn": arn}, {}, arn)

    # Model ----------------------------------------------------------------------------------------

    def model(self, step: dict[str, Any], context: StepContext) -> StepResult:
        """CreateModel in the local AWS (from a package: its container), after SageMaker's own check that the
        model data exists."""
        args = dict(step["Arguments"])
        if "Containers" in args or "PrimaryContainer" not in args:
            raise NotRunLocally("needs a model of several containers (an inference pipeline)")
        container = args["PrimaryContainer"]
        if container.get("ModelPackageName"):
            # What SageMaker does with a package: its inference container's image and model data.
            package = self.sagemaker.describe_model_package(ModelPackageName=container["ModelPackageName"])
            if "InferenceSpecification" not in package:
                raise NotRunLocally(f"needs model package {container['ModelPackageName']} (an algorithm's)")
            (source, *more) = package["InferenceSpecification"]["Containers"]
            if more:
                raise NotRunLocally(f"needs model package {container['ModelPackageName']} (several containers)")
            container = {k: source[k] for k in ("Image", "ModelDataUrl", "Environment") if k in source}
            args["PrimaryContainer"] = container
        data = container.get("ModelDataUrl")
        if data:
            bucket, key = _split(data)
            try:
                self.s3.head_object(Bucket=bucket, Key=key)
            except ClientError:
                raise RuntimeError(f"Could not find model data at {data}") from None
        args["ModelName"] = _job_name(args.get("ModelName"), step["Name"], context)
        arn = str(self.sagemaker.create_model(**args)["ModelArn"])
        context.log(f"created model {args['ModelName']} ({container.get('Image')}, {data})")
        return StepResult({"ModelName": args["ModelName"], "ModelArn": arn}, {}, arn)

    # Transform ------------------------------------------------------------------------------------

    def transform(self, step: dict[str, Any], context: StepContext) -> StepResult:
        """The model's data served by the platform's serving container here, every object under the input
        prefix sent to it as SageMaker batch transform does (`python -m model_code.lifecycle transform`)."""
        args = step["Arguments"]
        job_name = _job_name(args.get("TransformJobName"), step["Name"], context)
        described = self.sagemaker.describe_model(ModelName=args["ModelName"])
        container = described.get("PrimaryContainer") or {}
        data = container.get("ModelDataUrl")
        if not data:
            raise NotRunLocally(f"needs image {container.get('Image')} (its model has no model data)")
        archive = context.workdir / "model.tar.gz"
        bucket, key = _split(data)
        self.s3.download_file(bucket, key, str(archive))
        with tarfile.open(archive) as tar:
            if MODEL_FILE not in [name.removeprefix("./") for name in tar.getnames()]:
                # Only the image the model names knows how to serve anything else.
                raise NotRunLocally(f"needs image {container.get('Image')} (no {MODEL_FILE} in {data})")
        source = args["TransformInput"]["DataSource"]["S3DataSource"]
        if source.get("S3DataType", "S3Prefix") != "S3Prefix":
            raise NotRunLocally(f"needs a {source['S3DataType']} input")
        count = args.get("TransformResources", {}).get("InstanceCount", 1)
        if count != 1:
            context.log(f"{job_name}: {count} instances asked; runs as one here, with every object")
        output = str(args["TransformOutput"]["S3OutputPath"])
        command = [
            sys.executable,
            "-m",
            "model_code.lifecycle",
            "transform",
            "--model",
            str(archive),
            "--input",
            str(source["S3Uri"]),
            "--output",
            output,
            "--endpoint-url",
            self.aws.endpoint,
        ]
        for flag, (section, name) in TRANSFORM_FLAGS.items():
            holder = args.get(section, {}) if section else args
            if holder.get(name) is not None:
                command += [flag, str(holder[name])]
        context.log(f"{job_name}: {shlex.join(command)}")
        env = self.aws.env() | {"PYTHONUNBUFFERED": "1", "OMP_NUM_THREADS": "1"}
        # The platform's serving container is this repository's model_code/: run from the repository root.
        run = _run(command, cwd=REPOSITORY_ROOT, env=env, log=context.log, timeout=None)  # no MaxRuntime
        if run.exit_code != 0:
            raise RuntimeError(f"transform job {job_name} exited with {run.exit_code}:\n{run.tail()}")
        properties = {
            "TransformJobName": job_name,
            "ModelName": args["ModelName"],
            "TransformOutput": dict(args["TransformOutput"]),
        }
        return StepResult(properties, {}, output)

    # Shared ---------------------------------------------------------------------------------------

    def _require_image(self, uri: str, *, script: bool) -> None:
        registry, _, rest = uri.partition("/")
        repository = re.split(r"[:@]", rest, maxsplit=1)[0]
        module = FRAMEWORK_MODULES.get(repository)
        # The platform's own repositories (the local AWS's account) hold images only docker could run.
        if (
            registry.split(".")[0] == ACCOUNT
            or module is None
            or not script
            or importlib.util.find_spec(module) is None
        ):
            raise NotRunLocally(f"needs image {uri}")

    def _require_algorithm(self, spec: Mapping[str, Any], hyperparameters: Mapping[str, str]) -> None:
        if spec.get("AlgorithmName"):
            raise NotRunLocally(f"needs algorithm {spec['AlgorithmName']}")
        # Script mode names its program; without one, the image runs its built-in algorithm.
        self._require_image(spec["TrainingImage"], script="sagemaker_program" in hyperparameters)
        if spec.get("TrainingInputMode", "File") == "Pipe":
            raise NotRunLocally("needs Pipe input mode")

    def _download_channels(self, args: Mapping[str, Any], data: Path) -> dict[str, dict[str, Any]]:
        channels: dict[str, dict[str, Any]] = {}
        for channel in args.get("InputDataConfig", []):
            source = channel["DataSource"].get("S3DataSource")
            if source is None:
                raise NotRunLocally(f"needs a file system channel ({channel['ChannelName']})")
            if source.get("S3DataType", "S3Prefix") != "S3Prefix":
                raise NotRunLocally(f"needs a {source['S3DataType']} channel ({channel['ChannelName']})")
            self._download(source["S3Uri"], data / channel["ChannelName"])
            channels[channel["ChannelName"]] = channel
        return channels

    def _train(
        self,
        job_name: str,
        definition: Mapping[str, Any],
        hyperparameters: Mapping[str, str],
        channels: Mapping[str, Mapping[str, Any]],
        data: Path,
        job_dir: Path,
        log: Callable[[str], None],
        *,
        on_line: Callable[[str], bool] | None = None,
        threads: int | None = None,
    ) -> tuple[_Run, Path | None]:
        """One training job through the real SageMaker training toolkit, in <job_dir>/opt_ml laid out as
        SageMaker lays out /opt/ml (as model_code/local_training.py does, from the job's own channels
        and code bundle); returns the run and the packed model (None unless it succeeded)."""
        base = job_dir / "opt_ml"
        config = base / "input" / "config"
        config.mkdir(parents=True)
        for folder in ("model", "output", "checkpoints", "input/data"):
            (base / folder).mkdir(parents=True, exist_ok=True)
        for name in channels:
            (base / "input" / "data" / name).symlink_to((data / name).resolve())
        hps = dict(hyperparameters)
        hps["sagemaker_submit_directory"] = json.dumps(str(self._unpack_code(hps, base)))
        (config / "hyperparameters.json").write_text(json.dumps(hps, indent=2))
        mode = definition["AlgorithmSpecification"].get("TrainingInputMode", "File")
        input_config = {
            name: {
                **({"ContentType": c["ContentType"]} if "ContentType" in c else {}),
                "TrainingInputMode": c.get("InputMode", mode),
                "S3DistributionType": c["DataSource"]["S3DataSource"].get("S3DataDistributionType", "FullyReplicated"),
                "RecordWrapperType": c.get("RecordWrapperType", "None"),
            }
            for name, c in channels.items()
        }
        (config / "inputdataconfig.json").write_text(json.dumps(input_config, indent=2))
        # "localhost": the toolkit waits until every host name resolves, and algo-1 does not here.
        resources = {"current_host": "localhost", "hosts": ["localhost"], "network_interface_name": "lo"}
        (config / "resourceconfig.json").write_text(json.dumps(resources))
        env = self.aws.env() | {str(k): str(v) for k, v in (definition.get("Environment") or {}).items()}
        env |= {"SAGEMAKER_BASE_DIR": str(base), "PYTHONUNBUFFERED": "1", "TRAINING_JOB_NAME": job_name}
        if threads:
            env["OMP_NUM_THREADS"] = str(threads)
        log(f"{job_name}: training through the SageMaker training toolkit in {base}")
        toolkit = Path(sys.executable).parent / "train"
        run = _run([str(toolkit)], cwd=job_dir, env=env, log=log, timeout=_max_runtime(definition), on_line=on_line)
        model_dir = base / "model"
        if run.exit_code != 0 or run.stopped or not any(model_dir.iterdir()):
            return run, None
        artifact = job_dir / "model.tar.gz"
        with tarfile.open(artifact, "w:gz") as tar:
            for item in sorted(model_dir.iterdir()):
                tar.add(item, arcname=item.name)
        return run, artifact

    def _unpack_code(self, hyperparameters: Mapping[str, str], base: Path) -> Path:
        """The code bundle (`sagemaker_submit_directory`: a path under /opt/ml, or an S3 URI) unpacked
        into <base>/code, the toolkit's code folder."""
        if "sagemaker_submit_directory" not in hyperparameters:
            raise NotRunLocally("needs the code inside its image (no sagemaker_submit_directory)")
        where = str(json.loads(hyperparameters["sagemaker_submit_directory"]))
        code = base / "code"
        if where.startswith("s3://"):
            archive = base.parent / "sourcedir.tar.gz"
            bucket, key = _split(where)
            self.s3.download_file(bucket, key, str(archive))
        elif where.startswith(OPT_ML):
            archive = base / where.removeprefix(OPT_ML)
        else:
            raise NotRunLocally(f"needs its code at {where}")
        with tarfile.open(archive, "r:*") as tar:
            tar.extractall(code, filter="data")
        if (code / "requirements.txt").exists() or (code / "setup.py").exists():
            # The toolkit would pip-install them into this interpreter.
            raise NotRunLocally("needs its requirements installed (the code bundle has requirements.txt or setup.py)")
        return code

    def _upload_model(self, artifact: Path, definition: Mapping[str, Any], job_name: str) -> str:
        uri = f"{definition['OutputDataConfig']['S3OutputPath'].rstrip('/')}/{job_name}/output/model.tar.gz"
        bucket, key = _split(uri)
        self.s3.upload_file(str(artifact), bucket, key)
        return uri

    def _download(self, uri: str, folder: Path) -> None:
        """Every object under the prefix `uri`, at its key relative to the prefix (an object whose key is
        the prefix itself: by its file name), as SageMaker downloads an S3Prefix input."""
        bucket, prefix = _split(uri)
        folder.mkdir(parents=True, exist_ok=True)
        found = 0
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                if key.endswith("/"):
                    continue
                relative = key[len(prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
                target = folder / relative
                target.parent.mkdir(parents=True, exist_ok=True)
                self.s3.download_file(bucket, key, str(target))
                found += 1
        if not found:
            raise RuntimeError(f"{uri}: no objects under this prefix")

    def _upload(self, folder: Path, uri: str) -> None:
        bucket, prefix = _split(uri)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = "/".join(part for part in (prefix.rstrip("/"), path.relative_to(folder).as_posix()) if part)
            self.s3.upload_file(str(path), bucket, key)


def _plan(config: Mapping[str, Any], step_name: str) -> list[dict[str, str]]:
    """The tuned hyperparameters of each trial. Grid: every combination of the categorical values.
    Random: seeded draws. Bayesian and Hyperband are approximated by the same seeded random draws (the
    model-guided choice and Hyperband's brackets are not reproduced); early stopping is separate."""
    ranges = config.get("ParameterRanges", {})
    categorical = [(r["Name"], [str(v) for v in r["Values"]]) for r in ranges.get("CategoricalParameterRanges", [])]
    numeric = [(r, "integer") for r in ranges.get("IntegerParameterRanges", [])]
    numeric += [(r, "continuous") for r in ranges.get("ContinuousParameterRanges", [])]
    limits = config.get("ResourceLimits", {})
    maximum = limits.get("MaxNumberOfTrainingJobs")
    if config.get("Strategy") == "Grid":
        if numeric:
            names = ", ".join(r["Name"] for r, _ in numeric)
            raise DefinitionError(f"step {step_name}: Grid search takes categorical ranges only, not {names}")
        grid = [
            dict(zip([n for n, _ in categorical], values, strict=True))
            for values in itertools.product(*[v for _, v in categorical])
        ]
        return grid[: int(maximum)] if maximum else grid
    if not maximum:
        raise DefinitionError(
            f"step {step_name}: ResourceLimits.MaxNumberOfTrainingJobs is required for {config.get('Strategy')}"
        )
    rng = random.Random(config.get("RandomSeed", 0))
    plan = []
    for _ in range(int(maximum)):
        values = {name: rng.choice(choices) for name, choices in categorical}
        values |= {r["Name"]: _draw(r, kind, rng) for r, kind in numeric}
        plan.append(values)
    return plan


def _draw(spec: Mapping[str, Any], kind: str, rng: random.Random) -> str:
    low, high = float(spec["MinValue"]), float(spec["MaxValue"])
    scaling = spec.get("ScalingType", "Auto")
    if scaling == "Auto":  # SageMaker picks the scale; a range over orders of magnitude is searched in log scale
        scaling = "Logarithmic" if low > 0 and high / low >= 100 else "Linear"
    if scaling == "Logarithmic":
        value = math.exp(rng.uniform(math.log(low), math.log(high)))
    elif scaling == "ReverseLogarithmic":  # for 0 <= x < 1: dense near 1
        value = 1 - math.exp(rng.uniform(math.log(1 - high), math.log(1 - low)))
    else:
        value = rng.uniform(low, high)
    if kind == "integer":
        return str(min(int(high), max(int(low), round(value))))
    return f"{min(high, max(low, value)):.6g}"


def _final_metrics(text: str, definitions: list[Mapping[str, str]]) -> dict[str, float]:
    """The last value of each metric in the job's output, as SageMaker reports FinalMetricDataList."""
    found = {}
    for definition in definitions:
        values = [v for m in re.finditer(definition["Regex"], text) if (v := _number(m)) is not None]
        if values:
            found[definition["Name"]] = values[-1]
    return found


def _number(match: re.Match[str]) -> float | None:
    try:
        return float(match.group(1) if match.re.groups else match.group(0))
    except ValueError:
        return None


def _run(
    command: list[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    log: Callable[[str], None],
    timeout: float | None,
    on_line: Callable[[str], bool] | None = None,
) -> _Run:
    """Run `command`, each output line to `log`; `on_line` may return True to stop it."""
    process = subprocess.Popen(
        command, cwd=cwd, env=dict(env), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
    )
    result = _Run(0, [])

    def expire() -> None:
        result.timed_out = True
        process.kill()

    timer = threading.Timer(timeout, expire) if timeout else None
    if timer:
        timer.start()
    try:
        assert process.stdout is not None
        for raw in process.stdout:
            line = raw.rstrip("\n")
            result.lines.append(line)
            log(line)
            if on_line and not result.stopped and on_line(line):
                result.stopped = True
                process.terminate()
        result.exit_code = process.wait()
    finally:
        if timer:
            timer.cancel()
    return result


def _job_name(prefix: object, step_name: str, context: StepContext) -> str:
    """`<prefix>-<execution id>-<suffix>`: the definition's prefix (the step's name when it has none)."""
    start = str(prefix) if prefix else re.sub(r"[^A-Za-z0-9-]", "-", step_name).lower()
    return f"{start}-{context.execution_id}-{uuid.uuid4().hex[:6]}"


def _max_runtime(args: Mapping[str, Any]) -> float | None:
    seconds = args.get("StoppingCondition", {}).get("MaxRuntimeInSeconds")
    return float(seconds) if seconds else None


def _local(path: str, base: Path, root: str) -> Path:
    if path != root and not path.startswith(root + "/"):
        raise NotRunLocally(f"needs the local path {path} (outside {root})")
    return base / path.removeprefix(root).lstrip("/")


def _local_command(argument: str, folders: Mapping[str, str]) -> str:
    for container, local in folders.items():
        argument = argument.replace(container, local)
    return PYTHON_WORD.sub(lambda _: shlex.quote(sys.executable), argument)


def _split(uri: str) -> tuple[str, str]:
    if not uri.startswith("s3://"):
        raise ValueError(f"{uri!r} is not an S3 URI")
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    return bucket, key
