"""The pieces behind a training pipeline: the SDK build (uncached), its rendering into Fn::Sub, the
code bundles, the images per region and the cache of what the SDK computed."""

from __future__ import annotations

import io
import json
import os
import tarfile
from pathlib import Path

import aws_cdk as cdk
import pytest

import sagemaker_images
from config import load_stage
from constructs.pipeline_definition import build
from constructs.pipeline_sdk import JobNames, check_size, render
from constructs.source_bundle import REPOSITORY_ROOT, sourcedir_tarball
from constructs.training_pipeline import PipelineImages


def test_the_sdk_builds_the_same_definition_twice() -> None:
    (entry,) = load_stage("dev").pipelines
    args = dict(pipeline_name="smplat-dev-sample", jobs=JobNames("smplat-dev"), subnet_count=2)
    first, second = build(entry, **args), build(entry, **args)  # type: ignore[arg-type]
    assert first == second and render(first) == render(second)


def test_rendering_turns_placeholders_into_variables_and_escapes_the_rest() -> None:
    definition = {
        "Role": "arn:aws:iam::000000000000:role/placeholder-job-role",
        "Uri": "s3://placeholder-artifacts-bucket/jobs/x",
        "Region": '"xx-placeholder-1"',
        "Literal": "${not-a-variable}",
    }
    assert json.loads(render(definition)) == {
        "Literal": "${!not-a-variable}",
        "Region": '"${AWS::Region}"',
        "Role": "${JobRoleArn}",
        "Uri": "s3://${ArtifactsBucket}/jobs/x",
    }


def test_a_definition_over_100_kb_is_refused_naming_the_pipeline() -> None:
    check_size("x" * 100_000, "sample")
    with pytest.raises(ValueError, match=r"^pipelines: sample: the definition is 100001 bytes; CloudFormation"):
        check_size("x" * 100_001, "sample")


def test_the_code_bundle_depends_on_the_code_only() -> None:
    first = sourcedir_tarball("model_code/frameworks/sklearn")
    script = REPOSITORY_ROOT / "model_code/frameworks/sklearn/train.py"
    stat = script.stat()
    try:
        os.utime(script, (stat.st_atime, stat.st_mtime + 3600))  # same code, another time
        assert sourcedir_tarball("model_code/frameworks/sklearn") == first
    finally:
        os.utime(script, (stat.st_atime, stat.st_mtime))
    with tarfile.open(fileobj=io.BytesIO(first)) as tar:
        members = tar.getmembers()
    assert [m.name for m in members] == ["model_code/frameworks/sklearn/train.py"]
    assert {(m.mtime, m.uid, m.gid, m.mode) for m in members} == {(0, 0, 0, 0o644)}
    assert first[4:8] == b"\0\0\0\0"  # no timestamp in the gzip header either


def test_the_sample_bundle_is_the_package_without_caches_or_the_image_build_files() -> None:
    with tarfile.open(fileobj=io.BytesIO(sourcedir_tarball("model_code"))) as tar:
        names = tar.getnames()
    assert {"model_code/train.py", "model_code/contract.py", "model_code/split.py", "model_code/evaluate.py"} <= set(
        names
    )
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc") or "/container/" in n]


def test_a_fixed_region_gets_literal_image_uris_and_an_agnostic_stage_a_mapping_of_every_region() -> None:
    app = cdk.App()
    fixed = PipelineImages(
        cdk.Stack(app, "Fixed", env=cdk.Environment(region="eu-west-1")), "Images", region="eu-west-1"
    )
    assert fixed.uri("xgboost", "3.0-5", None, "ml.m5.large", scope="training") == (
        "141502667606.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-xgboost:3.0-5"
    )
    stack = cdk.Stack(app, "Agnostic")
    agnostic = PipelineImages(stack, "Images", region=None)
    token = agnostic.uri("chainer", "5.0.0", "py3", "ml.p3.2xlarge", scope="training")
    assert cdk.Token.is_unresolved(token)
    template = app.synth().get_stack_by_name("Agnostic").template
    (mapping,) = template["Mappings"].values()
    assert len(mapping) == 25 == len(sagemaker_images.versions("chainer", "training")["5.0.0"].regions)
    assert mapping["eu-west-1"] == {
        "Uri": "520713654638.dkr.ecr.eu-west-1.amazonaws.com/sagemaker-chainer:5.0.0-gpu-py3"
    }


def test_what_the_sdk_computed_is_reused_for_the_same_inputs_and_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sagemaker_images, "CACHE", tmp_path)
    calls: list[int] = []

    def compute() -> dict[str, int]:
        calls.append(1)
        return {"value": len(calls)}

    code = tmp_path / "builder.py"
    code.write_text("version 1")
    assert sagemaker_images.sdk_cached("test", ["a"], compute, code=(code,)) == {"value": 1}
    assert sagemaker_images.sdk_cached("test", ["a"], compute, code=(code,)) == {"value": 1}  # reused
    assert sagemaker_images.sdk_cached("test", ["b"], compute, code=(code,)) == {"value": 2}  # other inputs
    code.write_text("version 2")
    assert sagemaker_images.sdk_cached("test", ["a"], compute, code=(code,)) == {"value": 3}  # other builder
    assert len(list(tmp_path.glob("test-*.json"))) == 3
