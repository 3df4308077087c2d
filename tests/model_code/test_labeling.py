"""The Ground Truth launcher: the region table from botocore's SageMaker model, input manifests,
CreateLabelingJob requests checked against the API model (botocore's Stubber), progress, the
output conversion, and every bad input with its message."""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber
from moto import mock_aws

from model_code import labeling
from model_code.labeling import (
    TASK_TYPES,
    JobSpec,
    LabelingError,
    StageParameters,
    build_manifest,
    convert_output_manifest,
    dataset_csv,
    lambda_table,
    start_labeling_job,
    task_arns,
    task_type,
    wait_for_job,
)
from model_code.lifecycle import main, parser
from naming import kebab

BUCKET = "smplat-dev-data"
PREFIX = "/smplat/dev"
ROLE = "arn:aws:iam::111122223333:role/smplat-dev-labeling/LabelingRole"
KEY = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TEAM = "arn:aws:sagemaker:us-east-1:111122223333:workteam/private-crowd/reviewers"
# Typed here on purpose (the module derives them): the accounts of Ground Truth's Lambdas in the
# two regions the requests are checked for, and the account of the named-entity UI.
ACCOUNTS = {"us-east-1": "432418664414", "eu-west-1": "568282634449"}
UI_ACCOUNT = "394669845002"
FUNCTIONS = {
    "image-classification": "ImageMultiClass",
    "image-classification-multilabel": "ImageMultiClassMultiLabel",
    "bounding-box": "BoundingBox",
    "semantic-segmentation": "SemanticSegmentation",
    "text-classification": "TextMultiClass",
    "text-classification-multilabel": "TextMultiClassMultiLabel",
    "named-entity-recognition": "NamedEntityRecognition",
}


# --- the region table -----------------------------------------------------------------------------


def test_every_region_of_the_model_has_every_task_with_well_formed_arns() -> None:
    table = lambda_table()
    assert {"us-east-1", "eu-west-1"} <= table.keys() and len(table) >= 10
    assert set(FUNCTIONS) == set(TASK_TYPES) and {t.function for t in TASK_TYPES.values()} == set(FUNCTIONS.values())
    for region, tasks in table.items():
        for task in TASK_TYPES.values():
            assert task.function in tasks, f"{region} lacks {task.function}"
            arns = task_arns(region, task)
            for kind, arn in (("PRE", arns.pre_human_task_lambda), ("ACS", arns.annotation_consolidation_lambda)):
                assert re.fullmatch(rf"arn:aws:lambda:{region}:\d{{12}}:function:{kind}-{task.function}", arn), arn
            if task.ui_arn:
                assert arns.human_task_ui == (
                    f"arn:aws:sagemaker:{region}:{UI_ACCOUNT}:human-task-ui/NamedEntityRecognition"
                )


def test_a_malformed_or_missing_arn_leaves_the_task_out_of_the_region(monkeypatch: pytest.MonkeyPatch) -> None:
    real = labeling._documentation

    def damaged(shape: str, member: str) -> str:
        text = real(shape, member)
        # a malformed account id in the pre-annotation ARN of one region and task
        return text.replace(
            "us-east-1:432418664414:function:PRE-BoundingBox", "us-east-1:4324:function:PRE-BoundingBox"
        )

    monkeypatch.setattr(labeling, "_documentation", damaged)
    lambda_table.cache_clear()
    try:
        assert "BoundingBox" not in lambda_table()["us-east-1"]
        with pytest.raises(LabelingError, match="lists no BoundingBox Lambda ARNs for us-east-1"):
            task_arns("us-east-1", task_type("bounding-box"))
    finally:
        lambda_table.cache_clear()


def test_a_region_without_ground_truth_lists_the_regions_that_have_it() -> None:
    with pytest.raises(LabelingError) as err:
        task_arns("sa-east-1", task_type("bounding-box"))
    assert "SageMaker Ground Truth is not available in region 'sa-east-1'" in str(err.value)
    assert "regions with Ground Truth: ap-northeast-1, " in str(err.value) and "eu-west-1" in str(err.value)


def test_an_unsupported_task_type_lists_the_supported_ones() -> None:
    with pytest.raises(
        LabelingError, match=r"unsupported task type 'video-tracking'; supported: image-classification, "
    ):
        task_type("video-tracking")


def test_a_templated_task_has_its_template_and_the_named_entity_task_uses_the_ui_arn() -> None:
    for task in TASK_TYPES.values():
        assert task.template.is_file() != task.ui_arn, task.name
        if not task.ui_arn:
            assert "task.input.taskObject" in task.template.read_text()


# --- stage values, S3 and SSM through moto ---------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, Any]]:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        s3 = boto3.client("s3", region_name="us-east-1")
        ssm = boto3.client("ssm", region_name="us-east-1")
        s3.create_bucket(Bucket=BUCKET)
        values = {
            "labeling-role-arn": ROLE,
            "key-arn": KEY,
            "data-bucket-name": BUCKET,
            "labeling-manifest-prefix": f"s3://{BUCKET}/labeling/manifests/",
            "labeling-output-prefix": "labeling/output",  # a bare prefix is in the data bucket
            "labeling-work-team-reviewers-arn": TEAM,
            "labeling-work-team-night-shift-arn": TEAM.replace("reviewers", "night-shift"),
        }
        for name, value in values.items():
            ssm.put_parameter(Name=f"{PREFIX}/{name}", Value=value, Type="String")
        yield {"s3": s3, "ssm": ssm, "params": StageParameters(ssm, "smplat", "dev")}


def _spec(task: str, **changes: Any) -> JobSpec:
    values: dict[str, Any] = {
        "name": "pets-1",
        "task": task_type(task),
        "manifest_uri": f"s3://{BUCKET}/labeling/manifests/pets.manifest",
        "labels": ("cat", "dog"),
        "team": "reviewers",
        "title": "Pets",
        "description": "Which pet is it?",
        "keywords": ("pets", "images"),
        "workers_per_object": 3,
        "task_time_limit": 120,
        "task_lifetime": 3600,
    }
    values.update(changes)
    return JobSpec(**values)


@pytest.mark.parametrize("region", ["us-east-1", "eu-west-1"])
@pytest.mark.parametrize("task", sorted(FUNCTIONS))
def test_the_create_labeling_job_request_per_task_and_region(aws: dict[str, Any], task: str, region: str) -> None:
    function, account = FUNCTIONS[task], ACCOUNTS[region]
    attribute = "pets-1-ref" if task == "semantic-segmentation" else "pets-1"
    if task == "named-entity-recognition":
        ui = {"HumanTaskUiArn": f"arn:aws:sagemaker:{region}:{UI_ACCOUNT}:human-task-ui/NamedEntityRecognition"}
    else:
        ui = {"UiTemplateS3Uri": f"s3://{BUCKET}/labeling/templates/{task}.liquid.html"}
    expected = {
        "LabelingJobName": "pets-1",
        "LabelAttributeName": attribute,
        "InputConfig": {
            "DataSource": {"S3DataSource": {"ManifestS3Uri": f"s3://{BUCKET}/labeling/manifests/pets.manifest"}}
        },
        "OutputConfig": {"S3OutputPath": f"s3://{BUCKET}/labeling/output/", "KmsKeyId": KEY},
        "RoleArn": ROLE,
        "LabelCategoryConfigS3Uri": f"s3://{BUCKET}/labeling/categories/pets-1.json",
        "StoppingConditions": {"MaxPercentageOfInputDatasetLabeled": 100},
        "HumanTaskConfig": {
            "WorkteamArn": TEAM,
            "UiConfig": ui,
            "PreHumanTaskLambdaArn": f"arn:aws:lambda:{region}:{account}:function:PRE-{function}",
            "TaskKeywords": ["pets", "images"],
            "TaskTitle": "Pets",
            "TaskDescription": "Which pet is it?",
            "NumberOfHumanWorkersPerDataObject": 3,
            "TaskTimeLimitInSeconds": 120,
            "TaskAvailabilityLifetimeInSeconds": 3600,
            "AnnotationConsolidationConfig": {
                "AnnotationConsolidationLambdaArn": f"arn:aws:lambda:{region}:{account}:function:ACS-{function}"
            },
        },
    }
    sagemaker = boto3.client("sagemaker", region_name=region)
    arn = f"arn:aws:sagemaker:{region}:111122223333:labeling-job/pets-1"
    with Stubber(sagemaker) as stub:
        stub.add_response("create_labeling_job", {"LabelingJobArn": arn}, expected_params=expected)
        assert start_labeling_job(sagemaker, aws["s3"], aws["params"], _spec(task), region=region) == arn
        stub.assert_no_pending_responses()
    categories = json.loads(aws["s3"].get_object(Bucket=BUCKET, Key="labeling/categories/pets-1.json")["Body"].read())
    assert categories == {"document-version": "2018-11-28", "labels": [{"label": "cat"}, {"label": "dog"}]}
    if "UiTemplateS3Uri" in ui:
        body = aws["s3"].get_object(Bucket=BUCKET, Key=f"labeling/templates/{task}.liquid.html")["Body"].read()
        assert body == task_type(task).template.read_bytes()


def test_a_stop_after_n_objects_is_a_stopping_condition_the_model_accepts() -> None:
    from botocore.validate import validate_parameters

    request = labeling.labeling_job_request(
        _spec("bounding-box", max_labeled_objects=50),
        region="us-east-1",
        role_arn=ROLE,
        key_arn=KEY,
        work_team_arn=TEAM,
        output_uri="s3://b/o/",
        categories_uri="s3://b/c.json",
        template_uri="s3://b/t.html",
    )
    assert request["StoppingConditions"] == {
        "MaxPercentageOfInputDatasetLabeled": 100,
        "MaxHumanLabeledObjectCount": 50,
    }
    model = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    validate_parameters(request, model.meta.service_model.operation_model("CreateLabelingJob").input_shape)


def test_a_work_team_the_stage_does_not_declare_lists_the_declared_ones(aws: dict[str, Any]) -> None:
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sagemaker), pytest.raises(LabelingError) as err:
        start_labeling_job(sagemaker, aws["s3"], aws["params"], _spec("bounding-box", team="blue"), region="us-east-1")
    assert str(err.value) == (
        "work team 'blue' is not declared by stage 'dev' (no SSM parameter /smplat/dev/labeling-work-team-blue-arn); "
        "declared work teams: night-shift, reviewers"
    )
    assert kebab(labeling.work_team_output("night-shift")) == "labeling-work-team-night-shift-arn"
    # nothing was uploaded before the error
    assert "Contents" not in aws["s3"].list_objects_v2(Bucket=BUCKET, Prefix="labeling/")


def test_a_missing_stage_parameter_names_it(aws: dict[str, Any]) -> None:
    aws["ssm"].delete_parameter(Name=f"{PREFIX}/labeling-role-arn")
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    with (
        Stubber(sagemaker),
        pytest.raises(LabelingError, match="SSM parameter /smplat/dev/labeling-role-arn not found"),
    ):
        start_labeling_job(sagemaker, aws["s3"], aws["params"], _spec("bounding-box"), region="us-east-1")


def test_bad_labels_are_refused() -> None:
    for labels in ((), ("cat", "cat"), ("cat", " ")):
        with pytest.raises(LabelingError, match="give one or more distinct, non-empty labels"):
            labeling.label_categories(labels)


# --- input manifests ----------------------------------------------------------------------------


def _manifest(aws: dict[str, Any], name: str) -> list[dict[str, str]]:
    body = aws["s3"].get_object(Bucket=BUCKET, Key=f"labeling/manifests/{name}.manifest")["Body"].read().decode()
    return [json.loads(line) for line in body.splitlines()]


def test_an_image_manifest_has_one_source_ref_per_image(aws: dict[str, Any]) -> None:
    for key in ("raw/pets/b.PNG", "raw/pets/a.jpg", "raw/pets/notes.txt", "raw/pets/sub/c.jpeg", "raw/other/d.jpg"):
        aws["s3"].put_object(Bucket=BUCKET, Key=key, Body=b"x")
    uri = build_manifest(
        aws["s3"], aws["params"], source_uri=f"s3://{BUCKET}/raw/pets/", task=task_type("bounding-box"), name="pets"
    )
    assert uri == f"s3://{BUCKET}/labeling/manifests/pets.manifest"
    assert _manifest(aws, "pets") == [
        {"source-ref": f"s3://{BUCKET}/raw/pets/a.jpg"},
        {"source-ref": f"s3://{BUCKET}/raw/pets/b.PNG"},
        {"source-ref": f"s3://{BUCKET}/raw/pets/sub/c.jpeg"},
    ]


def test_a_text_manifest_has_one_source_per_non_blank_line(aws: dict[str, Any]) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/reviews/a.txt", Body=b"great product\n\n  too slow  \n")
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/reviews/b.txt", Body="ça marche".encode())
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/reviews/c.jpg", Body=b"x")
    build_manifest(
        aws["s3"],
        aws["params"],
        source_uri=f"s3://{BUCKET}/raw/reviews",
        task=task_type("text-classification"),
        name="reviews",
    )
    assert _manifest(aws, "reviews") == [{"source": "great product"}, {"source": "too slow"}, {"source": "ça marche"}]


def test_an_empty_prefix_is_an_error(aws: dict[str, Any]) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/pets/notes.txt", Body=b"x")
    with pytest.raises(LabelingError, match=rf"no images \(.*\) under s3://{BUCKET}/raw/pets/ \(1 objects\)"):
        build_manifest(
            aws["s3"], aws["params"], source_uri=f"s3://{BUCKET}/raw/pets/", task=task_type("bounding-box"), name="x"
        )
    with pytest.raises(LabelingError, match=rf"no text lines .* under s3://{BUCKET}/raw/none/ \(0 objects\)"):
        build_manifest(
            aws["s3"],
            aws["params"],
            source_uri=f"s3://{BUCKET}/raw/none/",
            task=task_type("text-classification"),
            name="x",
        )
    with pytest.raises(LabelingError, match="'raw/pets' is not an S3 URI"):
        build_manifest(aws["s3"], aws["params"], source_uri="raw/pets", task=task_type("bounding-box"), name="x")


# --- progress --------------------------------------------------------------------------------------


def _describe(status: str, labeled: int, failed: int, unlabeled: int) -> dict[str, Any]:
    return {
        "LabelingJobStatus": status,
        "LabelCounters": {
            "TotalLabeled": labeled,
            "HumanLabeled": labeled,
            "MachineLabeled": 0,
            "FailedNonRetryableError": failed,
            "Unlabeled": unlabeled,
        },
        "CreationTime": "2026-01-01T00:00:00Z",
        "LastModifiedTime": "2026-01-01T00:00:00Z",
        "JobReferenceCode": "ref",
        "LabelingJobName": "pets-1",
        "LabelingJobArn": "arn:aws:sagemaker:us-east-1:111122223333:labeling-job/pets-1",
        "LabelAttributeName": "pets",
        "InputConfig": {"DataSource": {"S3DataSource": {"ManifestS3Uri": "s3://b/in.manifest"}}},
        "OutputConfig": {"S3OutputPath": "s3://b/out/"},
        "RoleArn": ROLE,
        "HumanTaskConfig": {
            "WorkteamArn": TEAM,
            "UiConfig": {"UiTemplateS3Uri": "s3://b/t.html"},
            "TaskTitle": "t",
            "TaskDescription": "d",
            "NumberOfHumanWorkersPerDataObject": 1,
            "TaskTimeLimitInSeconds": 60,
        },
        "LabelingJobOutput": {
            "OutputDatasetS3Uri": f"s3://{BUCKET}/labeling/output/pets-1/manifests/output/output.manifest"
        },
    }


def test_waiting_polls_the_counters_until_the_job_finishes() -> None:
    sagemaker = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    seen: list[tuple[str, int, int]] = []
    sleeps: list[float] = []
    with Stubber(sagemaker) as stub:
        for reading in (("InProgress", 0, 0, 4), ("InProgress", 2, 1, 1), ("Completed", 3, 1, 0)):
            stub.add_response(
                "describe_labeling_job", _describe(*reading), expected_params={"LabelingJobName": "pets-1"}
            )
        final = wait_for_job(
            sagemaker,
            "pets-1",
            poll_seconds=5,
            sleep=sleeps.append,
            on_progress=lambda p: seen.append((p.status, p.labeled + p.failed, p.total)),
        )
    assert seen == [("InProgress", 0, 4), ("InProgress", 3, 4), ("Completed", 4, 4)]
    assert sleeps == [5, 5] and final.status == "Completed"


# --- output conversion -----------------------------------------------------------------------------


def _line(task: str, source: str, label: Any, **metadata: Any) -> str:
    t = task_type(task)
    return json.dumps({t.source_key: source, "pets": label, "pets-metadata": {"type": t.output_type, **metadata}})


OUTPUTS = {
    "image-classification": (1, "1"),
    "text-classification": (0, "0"),
    "image-classification-multilabel": ([2, 0], "0;2"),
    "text-classification-multilabel": ([1], "1"),
    "bounding-box": (
        {
            "image_size": [{"width": 10, "height": 10, "depth": 3}],
            "annotations": [{"class_id": 0, "left": 1, "top": 2, "width": 3, "height": 4}],
        },
        '[{"class_id": 0, "height": 4, "left": 1, "top": 2, "width": 3}]',
    ),
    "semantic-segmentation": ("s3://b/labeling/output/masks/1.png", "s3://b/labeling/output/masks/1.png"),
    "named-entity-recognition": (
        {
            "annotations": {
                "entities": [{"startOffset": 0, "endOffset": 5, "label": "person"}],
                "labels": [{"label": "person"}],
            }
        },
        '[{"endOffset": 5, "label": "person", "startOffset": 0}]',
    ),
}


@pytest.mark.parametrize("task", sorted(OUTPUTS))
def test_each_task_types_output_becomes_one_row_per_object(task: str) -> None:
    label, expected = OUTPUTS[task]
    conversion = convert_output_manifest(
        [_line(task, "obj-1", label, **{"job-name": "labeling-job/pets-1"})], task_type(task)
    )
    assert conversion.rows == [("obj-1", expected)]


def test_objects_not_labeled_or_failed_are_counted_and_kept_apart(tmp_path: Path) -> None:
    task = "image-classification"
    lines = [
        _line(task, "s3://b/1.jpg", 1),
        json.dumps({"source-ref": "s3://b/2.jpg"}),  # never labeled
        json.dumps(
            {
                "source-ref": "s3://b/3.jpg",
                "pets-metadata": {"type": "groundtruth/image-classification", "failure-reason": "ClientError: timeout"},
            }
        ),
        "",
        _line(task, "s3://b/4.jpg", 0),
    ]
    manifest = tmp_path / "output.manifest"
    manifest.write_text("\n".join(lines) + "\n")
    out = tmp_path / "raw" / "pets.csv"
    assert main(["label", "convert", "--task", task, "--manifest", str(manifest), "--out", str(out)]) == 0
    with out.open() as handle:
        assert list(csv.reader(handle)) == [["source-ref", "label"], ["s3://b/1.jpg", "1"], ["s3://b/4.jpg", "0"]]
    with (tmp_path / "raw" / "pets.unlabeled.csv").open() as handle:
        assert list(csv.reader(handle)) == [
            ["source-ref", "status", "reason"],
            ["s3://b/2.jpg", "not labeled", "no annotation"],
            ["s3://b/3.jpg", "failed", "ClientError: timeout"],
        ]
    conversion = convert_output_manifest(lines, task_type(task))
    assert conversion.summary() == "2 labeled, 1 not labeled, 1 failed"
    assert dataset_csv(conversion).splitlines()[0] == "source-ref,label"


def test_a_line_that_is_not_json_is_named() -> None:
    lines = [_line("text-classification", "fine", 0), "{not json"]
    with pytest.raises(LabelingError, match=r"output manifest line 2 is not JSON \(Expecting property name"):
        convert_output_manifest(lines, task_type("text-classification"))
    with pytest.raises(LabelingError, match="output manifest line 1 is not a JSON object"):
        convert_output_manifest(["[1, 2]"], task_type("text-classification"))


def test_a_line_without_source_is_named() -> None:
    lines = [_line("text-classification", "fine", 0), json.dumps({"pets": 0})]
    with pytest.raises(LabelingError, match=r"^output manifest line 2 lacks 'source'$"):
        convert_output_manifest(lines, task_type("text-classification"))
    with pytest.raises(LabelingError, match=r"line 1 lacks 'source-ref' \(it has 'source': a image task's"):
        convert_output_manifest(lines[:1], task_type("image-classification"))


def test_an_output_of_a_different_task_type_is_refused() -> None:
    lines = [_line("bounding-box", "s3://b/1.jpg", OUTPUTS["bounding-box"][0])]
    with pytest.raises(LabelingError) as err:
        convert_output_manifest(lines, task_type("image-classification"))
    assert str(err.value) == (
        "output manifest line 1 is a groundtruth/object-detection result, not image-classification "
        "(groundtruth/image-classification): is this the output of a different task type?"
    )


def test_a_label_attribute_that_is_not_the_jobs_is_named() -> None:
    lines = [_line("bounding-box", "s3://b/1.jpg", OUTPUTS["bounding-box"][0])]
    with pytest.raises(LabelingError, match=r"^output manifest line 1 has the labels \['pets'\], not 'cats'$"):
        convert_output_manifest(lines, task_type("bounding-box"), "cats")


def test_a_label_of_the_wrong_shape_is_named() -> None:
    with pytest.raises(LabelingError, match="output manifest line 1: 'pets' is not a bounding-box label: 3"):
        convert_output_manifest([_line("bounding-box", "s3://b/1.jpg", 3)], task_type("bounding-box"))


def test_a_finished_jobs_output_converts_from_s3(
    aws: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    key = "labeling/output/pets-1/manifests/output/output.manifest"
    aws["s3"].put_object(
        Bucket=BUCKET, Key=key, Body=(_line("image-classification", "s3://b/1.jpg", 1) + "\n").encode()
    )
    sagemaker = boto3.client("sagemaker", region_name="us-east-1")
    with Stubber(sagemaker) as stub:
        stub.add_response(
            "describe_labeling_job", _describe("Completed", 1, 0, 0), expected_params={"LabelingJobName": "pets-1"}
        )
        manifest, attribute = labeling.finished_job_output(sagemaker, "pets-1")
        stub.add_response("describe_labeling_job", _describe("InProgress", 1, 0, 3))
        with pytest.raises(LabelingError, match="labeling job pets-1 is InProgress, not finished"):
            labeling.finished_job_output(sagemaker, "pets-1")
    text = labeling.read_text(aws["s3"], manifest)
    conversion = convert_output_manifest(text.splitlines(), task_type("image-classification"), attribute)
    labeling.write_text(aws["s3"], f"s3://{BUCKET}/raw/pets.csv", dataset_csv(conversion))
    body = aws["s3"].get_object(Bucket=BUCKET, Key="raw/pets.csv")["Body"].read().decode()
    assert body == "source-ref,label\ns3://b/1.jpg,1\n"


# --- the command line ------------------------------------------------------------------------------


def test_cli_bad_input_is_a_message_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = tmp_path / "output.manifest"
    manifest.write_text("oops\n")
    assert (
        main(
            [
                "label",
                "convert",
                "--task",
                "text-classification",
                "--manifest",
                str(manifest),
                "--out",
                str(tmp_path / "o.csv"),
            ]
        )
        == 2
    )
    assert "label convert failed: output manifest line 1 is not JSON" in capsys.readouterr().err
    assert main(["label", "convert", "--task", "text-classification", "--out", str(tmp_path / "o.csv")]) == 2
    assert "give either --job-name (a finished job) or --manifest" in capsys.readouterr().err
    assert (
        main(
            [
                "label",
                "convert",
                "--task",
                "text-classification",
                "--manifest",
                str(tmp_path / "none"),
                "--out",
                "o.csv",
            ]
        )
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(
            [
                "label",
                "start",
                "--task",
                "video-tracking",
                "--job-name",
                "j",
                "--manifest",
                "s3://b/m",
                "--labels",
                "a",
                "--team",
                "t",
            ]
        )
    assert exit_.value.code == 2 and "invalid choice: 'video-tracking'" in capsys.readouterr().err


def test_cli_start_in_a_region_without_ground_truth(aws: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    args = [
        "--task",
        "bounding-box",
        "--job-name",
        "j",
        "--manifest",
        "s3://b/m",
        "--labels",
        "a",
        "--team",
        "reviewers",
    ]
    assert main(["label", "start", "--region", "sa-east-1", *args]) == 2
    assert (
        "label start failed: SageMaker Ground Truth is not available in region 'sa-east-1'" in capsys.readouterr().err
    )


def test_cli_manifest_and_status(aws: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    aws["s3"].put_object(Bucket=BUCKET, Key="raw/pets/a.jpg", Body=b"x")
    source = f"s3://{BUCKET}/raw/pets/"
    assert main(["label", "manifest", "--task", "image-classification", "--source", source, "--name", "pets"]) == 0
    assert capsys.readouterr().out.strip() == f"s3://{BUCKET}/labeling/manifests/pets.manifest"
    assert (
        main(
            ["label", "manifest", "--task", "image-classification", "--source", f"s3://{BUCKET}/raw/x/", "--name", "x"]
        )
        == 2
    )
    assert "label manifest failed: no images" in capsys.readouterr().err


def test_cli_wait_shows_the_counters_and_fails_unless_completed(capsys: pytest.CaptureFixture[str]) -> None:
    import argparse

    from model_code.lifecycle import _follow

    sagemaker = boto3.client("sagemaker", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    args = argparse.Namespace(job_name="pets-1", poll=0)
    with Stubber(sagemaker) as stub:
        stub.add_response("describe_labeling_job", _describe("InProgress", 1, 0, 2))
        stub.add_response("describe_labeling_job", _describe("Completed", 2, 1, 0))
        assert _follow(sagemaker, args) == 0
        stub.add_response("describe_labeling_job", _describe("Failed", 0, 3, 0))
        assert _follow(sagemaker, args) == 2
    assert capsys.readouterr().out.splitlines() == [
        "pets-1: Completed, 2 labeled, 1 failed",
        "pets-1: Failed, 0 labeled, 3 failed",
    ]
    start = parser().parse_args(
        [
            "label",
            "start",
            "--task",
            "bounding-box",
            "--job-name",
            "j",
            "--manifest",
            "s3://b/m",
            "--labels",
            "a",
            "--team",
            "t",
            "--workers",
            "0",
        ]
    )
    assert start.workers_per_object == 0 and not hasattr(start, "workers")
