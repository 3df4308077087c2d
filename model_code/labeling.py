"""Ground Truth labeling launcher: builds input manifests from raw data, starts labeling jobs for
the built-in task types with the stage's published role, key and work teams, follows their
progress, and turns a finished job's output manifest into the raw dataset CSV.

Never typed by hand: the pre-annotation and consolidation Lambda ARNs of every region and task come
from the SageMaker service model installed with boto3 (its documentation lists them), and every
name and ARN of the platform from the stage's SSM parameters (`/<project>/<stage>/...`).
"""

from __future__ import annotations

import csv
import io
import json
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from model_code.contract import LABEL_COLUMN, LABELING_PREFIX
from naming import StageNames, pascal

TEMPLATES = Path(__file__).resolve().parent / "labeling_templates"
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".gif", ".tif", ".tiff")
TEXT_EXTENSIONS = (".txt",)

# Output IDs (kebab-cased into SSM names by naming.StageNames.parameter) of the published values.
ROLE_ARN = "LabelingRoleArn"
MANIFEST_PREFIX = "LabelingManifestPrefix"
OUTPUT_PREFIX = "LabelingOutputPrefix"
KEY_ARN = "KeyArn"
DATA_BUCKET_NAME = "DataBucketName"
FINISHED = ("Completed", "Failed", "Stopped")


class LabelingError(Exception):
    """Bad input or a platform value that is missing: a message for the user, not a traceback."""


@dataclass(frozen=True)
class TaskType:
    """A built-in Ground Truth task type.

    name: the CLI name; function: the suffix of the PRE-/ACS- Lambda names; media: `image` objects
    (`source-ref`) or `text` lines (`source`); output_type: the `type` Ground Truth writes into each
    output line's metadata; ui_arn: the human task UI of tasks without a template of our own.
    """

    name: str
    function: str
    media: str
    output_type: str
    ui_arn: bool = False

    @property
    def source_key(self) -> str:
        return "source-ref" if self.media == "image" else "source"

    @property
    def template(self) -> Path:
        return TEMPLATES / f"{self.name}.liquid.html"


TASK_TYPES: dict[str, TaskType] = {
    t.name: t
    for t in (
        TaskType("image-classification", "ImageMultiClass", "image", "groundtruth/image-classification"),
        TaskType(
            "image-classification-multilabel",
            "ImageMultiClassMultiLabel",
            "image",
            "groundtruth/image-classification-multilabel",
        ),
        TaskType("bounding-box", "BoundingBox", "image", "groundtruth/object-detection"),
        TaskType("semantic-segmentation", "SemanticSegmentation", "image", "groundtruth/semantic-segmentation"),
        TaskType("text-classification", "TextMultiClass", "text", "groundtruth/text-classification"),
        TaskType(
            "text-classification-multilabel",
            "TextMultiClassMultiLabel",
            "text",
            "groundtruth/text-classification-multilabel",
        ),
        TaskType(
            "named-entity-recognition",
            "NamedEntityRecognition",
            "text",
            "groundtruth/named-entity-recognition",
            ui_arn=True,
        ),
    )
}


def task_type(name: str) -> TaskType:
    try:
        return TASK_TYPES[name]
    except KeyError:
        raise LabelingError(f"unsupported task type {name!r}; supported: {', '.join(TASK_TYPES)}") from None


# --- the region table, from the SageMaker service model -------------------------------------------

_LAMBDA_ARN = re.compile(r"arn:aws:lambda:([a-z0-9-]+):(\d{12}):function:(PRE|ACS)-([A-Za-z0-9]+)")
_UI_ARN = re.compile(r"arn:aws:sagemaker:(?:aws-region|region):(\d{12}):human-task-ui/([A-Za-z0-9]+)")


@dataclass(frozen=True)
class TaskArns:
    pre_human_task_lambda: str
    annotation_consolidation_lambda: str
    human_task_ui: str | None = None


def _documentation(shape: str, member: str) -> str:
    import botocore.session

    model = botocore.session.get_session().get_service_model("sagemaker")
    return str(model.shape_for(shape).members[member].documentation)


@lru_cache(maxsize=1)
def lambda_table() -> dict[str, dict[str, TaskArns]]:
    """region -> task function (`ImageMultiClass`, ...) -> its ARNs, for every pair that has both the
    pre-annotation and the consolidation Lambda in botocore's SageMaker model."""
    found: dict[tuple[str, str], dict[str, str]] = {}
    for shape, member in (
        ("HumanTaskConfig", "PreHumanTaskLambdaArn"),
        ("AnnotationConsolidationConfig", "AnnotationConsolidationLambdaArn"),
    ):
        for match in _LAMBDA_ARN.finditer(_documentation(shape, member)):
            region, _, kind, function = match.groups()
            found.setdefault((region, function), {})[kind] = match.group(0)
    ui = {m.group(2): m.group(0) for m in _UI_ARN.finditer(_documentation("UiConfig", "HumanTaskUiArn"))}
    table: dict[str, dict[str, TaskArns]] = {}
    for (region, function), arns in sorted(found.items()):
        if {"PRE", "ACS"} <= arns.keys():
            template = ui.get(function)
            table.setdefault(region, {})[function] = TaskArns(
                arns["PRE"],
                arns["ACS"],
                re.sub(r":(?:aws-region|region):", f":{region}:", template) if template else None,
            )
    return table


def task_arns(region: str, task: TaskType) -> TaskArns:
    """The Lambda (and UI) ARNs of `task` in `region`, or a LabelingError listing the regions."""
    table = lambda_table()
    if region not in table:
        raise LabelingError(
            f"SageMaker Ground Truth is not available in region {region!r}; regions with Ground Truth: "
            + ", ".join(sorted(table))
        )
    arns = table[region].get(task.function)
    if arns is None:
        raise LabelingError(f"botocore's SageMaker model lists no {task.function} Lambda ARNs for {region}")
    if task.ui_arn and arns.human_task_ui is None:
        raise LabelingError(f"botocore's SageMaker model lists no human task UI ARN for {task.function}")
    return arns


# --- the stage's published values ---------------------------------------------------------------


@dataclass
class StageParameters:
    """Reads `/<project>/<stage>/<output-id>` SSM parameters (the names naming.py gives them)."""

    ssm: Any
    project: str
    stage: str
    _cache: dict[str, str] = field(default_factory=dict)

    @property
    def names(self) -> StageNames:
        return StageNames(self.project, self.stage)

    def get(self, output_id: str) -> str:
        name = self.names.parameter(output_id)
        if name not in self._cache:
            try:
                self._cache[name] = self.ssm.get_parameter(Name=name)["Parameter"]["Value"]
            except self.ssm.exceptions.ParameterNotFound:
                raise LabelingError(
                    f"SSM parameter {name} not found: is the stage {self.stage!r} of {self.project!r} deployed "
                    "with its labeling section?"
                ) from None
        return self._cache[name]

    def work_team_arn(self, team: str) -> str:
        name = self.names.parameter(work_team_output(team))
        try:
            return str(self.ssm.get_parameter(Name=name)["Parameter"]["Value"])
        except self.ssm.exceptions.ParameterNotFound:
            declared = self.declared_teams()
            raise LabelingError(
                f"work team {team!r} is not declared by stage {self.stage!r} (no SSM parameter {name}); "
                f"declared work teams: {', '.join(declared) if declared else 'none'}"
            ) from None

    def declared_teams(self) -> list[str]:
        prefix = self.names.parameter_prefix + "/"
        pattern = re.compile(re.escape(prefix) + r"labeling-work-team-(.+)-arn$")
        teams: list[str] = []
        for page in self.ssm.get_paginator("get_parameters_by_path").paginate(Path=self.names.parameter_prefix):
            for parameter in page["Parameters"]:
                match = pattern.match(parameter["Name"])
                if match:
                    teams.append(match.group(1))
        return sorted(teams)

    def labeling_root(self) -> str:
        """`s3://<data bucket>/labeling/`, where templates and label categories go."""
        bucket, _ = split_s3_uri(self.prefix_uri(MANIFEST_PREFIX))
        return f"s3://{bucket}/{LABELING_PREFIX}/"

    def prefix_uri(self, output_id: str) -> str:
        """A published prefix as an S3 URI ending in `/` (a bare key prefix is in the data bucket)."""
        value = self.get(output_id)
        if not value.startswith("s3://"):
            value = f"s3://{self.get(DATA_BUCKET_NAME)}/{value.lstrip('/')}"
        return value if value.endswith("/") else value + "/"


def work_team_output(team: str) -> str:
    """The output ID of a work team's ARN: `blue-team` -> `LabelingWorkTeamBlueTeamArn`."""
    return f"LabelingWorkTeam{pascal(team)}Arn"


# --- S3 helpers ----------------------------------------------------------------------------------


def split_s3_uri(uri: str) -> tuple[str, str]:
    match = re.fullmatch(r"s3://([^/]+)/?(.*)", uri)
    if not match:
        raise LabelingError(f"{uri!r} is not an S3 URI (s3://bucket/prefix)")
    return match.group(1), match.group(2)


def _keys(s3: Any, uri: str) -> list[str]:
    bucket, prefix = split_s3_uri(uri)
    keys: list[str] = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(o["Key"] for o in page.get("Contents", []) if not o["Key"].endswith("/"))
    return sorted(keys)


def _put(s3: Any, uri: str, body: bytes, content_type: str) -> str:
    bucket, key = split_s3_uri(uri)
    s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType=content_type)
    return uri


# --- input manifests ------------------------------------------------------------------------------


def manifest_objects(s3: Any, source_uri: str, task: TaskType) -> list[dict[str, str]]:
    """One manifest object per image under `source_uri` (`source-ref`), or per non-blank line of
    its text files (`source`)."""
    bucket, _ = split_s3_uri(source_uri)
    keys = _keys(s3, source_uri)
    if task.media == "image":
        objects = [{"source-ref": f"s3://{bucket}/{k}"} for k in keys if k.lower().endswith(IMAGE_EXTENSIONS)]
        what = f"images ({', '.join(IMAGE_EXTENSIONS)})"
    else:
        objects = []
        for key in keys:
            if key.lower().endswith(TEXT_EXTENSIONS):
                text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8")
                objects.extend({"source": line.strip()} for line in text.splitlines() if line.strip())
        what = f"text lines (in {', '.join(TEXT_EXTENSIONS)} files)"
    if not objects:
        raise LabelingError(f"no {what} under {source_uri} ({len(keys)} objects): nothing to label")
    return objects


def build_manifest(s3: Any, params: StageParameters, *, source_uri: str, task: TaskType, name: str) -> str:
    """Writes the input manifest of `source_uri` to `<manifest prefix><name>.manifest`; its URI."""
    objects = manifest_objects(s3, source_uri, task)
    body = "".join(json.dumps(o) + "\n" for o in objects).encode()
    return _put(s3, f"{params.prefix_uri(MANIFEST_PREFIX)}{name}.manifest", body, "application/jsonlines")


# --- labeling jobs --------------------------------------------------------------------------------


@dataclass(frozen=True)
class JobSpec:
    """What a user chooses for one labeling job (everything else comes from the stage)."""

    name: str
    task: TaskType
    manifest_uri: str
    labels: tuple[str, ...]
    team: str
    title: str
    description: str
    keywords: tuple[str, ...] = ("labeling",)
    workers_per_object: int = 1
    task_time_limit: int = 300
    task_lifetime: int = 86400
    max_labeled_objects: int | None = None

    @property
    def label_attribute(self) -> str:
        # Ground Truth requires the attribute of semantic segmentation jobs to end in `-ref` (the
        # output is an S3 reference to the mask).
        return f"{self.name}-ref" if self.task.function == "SemanticSegmentation" else self.name


def label_categories(labels: Iterable[str]) -> dict[str, Any]:
    labels = list(labels)
    if not labels or len(set(labels)) != len(labels) or not all(label.strip() for label in labels):
        raise LabelingError(f"labels {labels}: give one or more distinct, non-empty labels")
    return {"document-version": "2018-11-28", "labels": [{"label": label} for label in labels]}


def labeling_job_request(
    spec: JobSpec,
    *,
    region: str,
    role_arn: str,
    key_arn: str,
    work_team_arn: str,
    output_uri: str,
    categories_uri: str,
    template_uri: str | None,
) -> dict[str, Any]:
    """The CreateLabelingJob request of `spec` with the stage's values and the region's ARNs."""
    arns = task_arns(region, spec.task)
    if spec.task.ui_arn:
        ui: dict[str, str] = {"HumanTaskUiArn": str(arns.human_task_ui)}
    else:
        if template_uri is None:
            raise LabelingError(f"task {spec.task.name} needs a UI template")
        ui = {"UiTemplateS3Uri": template_uri}
    stopping: dict[str, int] = {"MaxPercentageOfInputDatasetLabeled": 100}
    if spec.max_labeled_objects:
        stopping["MaxHumanLabeledObjectCount"] = spec.max_labeled_objects
    return {
        "LabelingJobName": spec.name,
        "LabelAttributeName": spec.label_attribute,
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": spec.manifest_uri}}},
        "OutputConfig": {"S3OutputPath": output_uri, "KmsKeyId": key_arn},
        "RoleArn": role_arn,
        "LabelCategoryConfigS3Uri": categories_uri,
        "StoppingConditions": stopping,
        "HumanTaskConfig": {
            "WorkteamArn": work_team_arn,
            "UiConfig": ui,
            "PreHumanTaskLambdaArn": arns.pre_human_task_lambda,
            "TaskKeywords": list(spec.keywords),
            "TaskTitle": spec.title,
            "TaskDescription": spec.description,
            "NumberOfHumanWorkersPerDataObject": spec.workers_per_object,
            "TaskTimeLimitInSeconds": spec.task_time_limit,
            "TaskAvailabilityLifetimeInSeconds": spec.task_lifetime,
            "AnnotationConsolidationConfig": {"AnnotationConsolidationLambdaArn": arns.annotation_consolidation_lambda},
        },
    }


def start_labeling_job(sagemaker: Any, s3: Any, params: StageParameters, spec: JobSpec, *, region: str) -> str:
    """Uploads the label categories (and the task's UI template) under `labeling/`, starts the
    job and returns its ARN. Every failure that the inputs can explain is checked first."""
    task_arns(region, spec.task)  # a region without Ground Truth fails before any upload
    categories = label_categories(spec.labels)
    team_arn = params.work_team_arn(spec.team)
    role_arn, key_arn = params.get(ROLE_ARN), params.get(KEY_ARN)
    output_uri = params.prefix_uri(OUTPUT_PREFIX)
    root = params.labeling_root()
    categories_uri = _put(s3, f"{root}categories/{spec.name}.json", json.dumps(categories).encode(), "application/json")
    template_uri = None
    if not spec.task.ui_arn:
        template_uri = _put(
            s3, f"{root}templates/{spec.task.template.name}", spec.task.template.read_bytes(), "text/html"
        )
    request = labeling_job_request(
        spec,
        region=region,
        role_arn=role_arn,
        key_arn=key_arn,
        work_team_arn=team_arn,
        output_uri=output_uri,
        categories_uri=categories_uri,
        template_uri=template_uri,
    )
    return str(sagemaker.create_labeling_job(**request)["LabelingJobArn"])


@dataclass(frozen=True)
class Progress:
    status: str
    labeled: int
    failed: int
    unlabeled: int

    @property
    def total(self) -> int:
        return self.labeled + self.failed + self.unlabeled


def job_progress(sagemaker: Any, name: str) -> Progress:
    job = sagemaker.describe_labeling_job(LabelingJobName=name)
    counters = job["LabelCounters"]
    return Progress(
        job["LabelingJobStatus"],
        counters.get("TotalLabeled", 0),
        counters.get("FailedNonRetryableError", 0),
        counters.get("Unlabeled", 0),
    )


def wait_for_job(
    sagemaker: Any,
    name: str,
    *,
    poll_seconds: float = 30,
    sleep: Callable[[float], None] = time.sleep,
    on_progress: Callable[[Progress], None] | None = None,
) -> Progress:
    """Polls DescribeLabelingJob until the job has finished, reporting each reading."""
    while True:
        progress = job_progress(sagemaker, name)
        if on_progress:
            on_progress(progress)
        if progress.status in FINISHED:
            return progress
        sleep(poll_seconds)


# --- output conversion -----------------------------------------------------------------------------


@dataclass
class Conversion:
    """The rows of a converted output manifest and the objects that got no label (with why)."""

    source_key: str
    rows: list[tuple[str, str]] = field(default_factory=list)
    unlabeled: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)

    def summary(self) -> str:
        return f"{len(self.rows)} labeled, {len(self.unlabeled)} not labeled, {len(self.failed)} failed"


def _label_value(task: TaskType, value: Any) -> str:
    if task.function in ("ImageMultiClass", "TextMultiClass"):
        return str(int(value))
    if task.function in ("ImageMultiClassMultiLabel", "TextMultiClassMultiLabel"):
        return ";".join(str(int(v)) for v in sorted(value))
    if task.function == "BoundingBox":
        return json.dumps(value["annotations"], sort_keys=True)
    if task.function == "SemanticSegmentation":
        return str(value)  # the S3 URI of the mask
    return json.dumps(value["annotations"]["entities"], sort_keys=True)


def convert_output_manifest(lines: Iterable[str], task: TaskType, attribute: str | None = None) -> Conversion:
    """One row (source, label) per labeled object of an output manifest; objects without a label
    are kept apart as not labeled (no annotation at all) or failed (metadata with a failure)."""
    conversion = Conversion(task.source_key)
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        try:
            line = json.loads(raw)
        except json.JSONDecodeError as err:
            raise LabelingError(f"output manifest line {number} is not JSON ({err.msg}): {raw.strip()[:80]}") from None
        if not isinstance(line, dict):
            raise LabelingError(f"output manifest line {number} is not a JSON object: {raw.strip()[:80]}")
        source = line.get(task.source_key)
        if not isinstance(source, str):
            other = "source" if task.source_key == "source-ref" else "source-ref"
            hint = f" (it has {other!r}: a {task.media} task's objects have {task.source_key!r})"
            hint = hint if other in line else ""
            raise LabelingError(f"output manifest line {number} lacks {task.source_key!r}{hint}")
        if attribute is None:
            found = [k[: -len("-metadata")] for k in line if k.endswith("-metadata")]
            if len(found) > 1:
                raise LabelingError(f"output manifest line {number} has several labels {found}: name one")
            attribute = found[0] if found else None
        others = [k[: -len("-metadata")] for k in line if k.endswith("-metadata") and k != f"{attribute}-metadata"]
        if others:
            raise LabelingError(f"output manifest line {number} has the labels {others}, not {attribute!r}")
        metadata = line.get(f"{attribute}-metadata") if attribute else None
        if metadata is None:
            conversion.unlabeled.append((source, "no annotation"))
            continue
        kind = metadata.get("type")
        if kind is not None and kind != task.output_type:
            raise LabelingError(
                f"output manifest line {number} is a {kind} result, not {task.name} ({task.output_type}): "
                "is this the output of a different task type?"
            )
        if "failure-reason" in metadata or attribute not in line:
            conversion.failed.append((source, str(metadata.get("failure-reason", "no label in the output"))))
            continue
        try:
            conversion.rows.append((source, _label_value(task, line[attribute])))
        except (KeyError, TypeError, ValueError):
            raise LabelingError(
                f"output manifest line {number}: {attribute!r} is not a {task.name} label: {line[attribute]!r}"
            ) from None
    return conversion


def dataset_csv(conversion: Conversion) -> str:
    """The raw dataset (header `source(-ref),label`) that the split step reads."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([conversion.source_key, LABEL_COLUMN])
    writer.writerows(conversion.rows)
    return out.getvalue()


def unlabeled_csv(conversion: Conversion) -> str:
    """The objects without a label and why (`not labeled: ...` or `failed: ...`)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([conversion.source_key, "status", "reason"])
    writer.writerows((s, "not labeled", r) for s, r in conversion.unlabeled)
    writer.writerows((s, "failed", r) for s, r in conversion.failed)
    return out.getvalue()


def read_text(s3: Any, location: str) -> str:
    if location.startswith("s3://"):
        bucket, key = split_s3_uri(location)
        return str(s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode("utf-8"))
    path = Path(location)
    if not path.is_file():
        raise LabelingError(f"{location}: no such file")
    return path.read_text()


def write_text(s3: Any, location: str, text: str) -> str:
    if location.startswith("s3://"):
        return _put(s3, location, text.encode(), "text/csv")
    path = Path(location)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return str(path)


def finished_job_output(sagemaker: Any, name: str) -> tuple[str, str]:
    """(output manifest URI, label attribute) of a completed job."""
    job = sagemaker.describe_labeling_job(LabelingJobName=name)
    # A stopped job also writes the output manifest of what was labeled until then.
    if job["LabelingJobStatus"] not in ("Completed", "Stopped"):
        raise LabelingError(f"labeling job {name} is {job['LabelingJobStatus']}, not finished (Completed or Stopped)")
    return job["LabelingJobOutput"]["OutputDatasetS3Uri"], job["LabelAttributeName"]
