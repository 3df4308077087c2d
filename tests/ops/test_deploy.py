"""The ordered deploy's choices that need no deploy: CLI options per target, the commands it
prints for a missing image, and what stops it before the endpoints (moto in-process)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from config import CONFIG_DIR, StageConfig, load_stage, parse_stage, yaml_core
from ops.deploy import DeployStopped, Event, OrderedDeploy, Target, aws_target, push_commands

REGION = "eu-west-1"  # the prod stage's


def aws_client(service: str) -> Any:
    return boto3.client(service, region_name=REGION)


@pytest.fixture
def mocked(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        yield


def test_a_real_account_keeps_the_cli_approval_prompt_unless_told_yes() -> None:
    assert Target(client=aws_client).deploy_options() == []
    assert Target(client=aws_client, approve=True).deploy_options() == ["--require-approval=never"]
    local = Target(client=aws_client, local_aws=True).deploy_options()
    assert "--method=direct" in local
    assert "--require-approval=never" in local


def test_the_push_commands_log_in_to_the_registry_of_the_image_and_build_the_serving_dockerfile() -> None:
    image = "123456789012.dkr.ecr.eu-west-1.amazonaws.com/smplat-prod-inference:3.0.1"
    assert push_commands(image) == [
        "aws ecr get-login-password --region eu-west-1 | docker login --username AWS --password-stdin "
        "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
        f"docker build -f model_code/container/Dockerfile.serving -t {image} model_code",
        f"docker push {image}",
    ]


def test_latest_approved_stops_until_a_package_is_approved(mocked: None, tmp_path: Path) -> None:
    deploy = OrderedDeploy("prod", load_stage("prod"), Target(client=aws_client), tmp_path, say=lambda _: None)
    with pytest.raises(DeployStopped) as stopped:
        deploy.check_models({"ArtifactsBucketName": "unused"})
    assert str(stopped.value).startswith(
        "Endpoint 'fraud-scoring' serves the latest approved package of the model registry smplat-prod, and none "
        "has been approved yet (/smplat/prod/latest-approved-model-package does not exist): a package must be "
        "approved first"
    )
    assert "the endpoints stack (smplat-prod-endpoints) is not" in str(stopped.value)
    assert deploy.events == [Event("package-missing", "/smplat/prod/latest-approved-model-package")]

    package = f"arn:aws:sagemaker:{REGION}:123456789012:model-package/smplat-prod/3"
    aws_client("ssm").put_parameter(Name="/smplat/prod/latest-approved-model-package", Value=package, Type="String")
    deploy.events.clear()
    deploy.check_models({"ArtifactsBucketName": "unused"})
    assert deploy.events == [Event("package-found", package)]


def prod_serving_an_artifact() -> StageConfig:
    """The prod stage with its endpoint serving a model.tar.gz and a platform image (3.0.1)."""
    raw = yaml_core.load((CONFIG_DIR / "prod.yaml").read_text()).data
    raw["endpoints"][0]["model"] = {
        "source": "artifact",
        "artifact_key": "models/fraud/v3/model.tar.gz",
        "image": {"repository": "inference", "tag": "3.0.1"},
    }
    raw["endpoints"][0].pop("monitoring")  # its baseline comes with registry packages only
    return parse_stage(raw, source="prod.yaml", stage="prod")


def test_a_missing_artifact_outside_a_sandbox_stops_naming_its_key(mocked: None, tmp_path: Path) -> None:
    config = prod_serving_an_artifact()
    aws_client("s3").create_bucket(Bucket="artifacts", CreateBucketConfiguration={"LocationConstraint": REGION})
    deploy = OrderedDeploy("prod", config, Target(client=aws_client), tmp_path, say=lambda _: None)
    with pytest.raises(DeployStopped) as stopped:
        deploy.check_models({"ArtifactsBucketName": "artifacts"})
    assert str(stopped.value).startswith(
        "Endpoint 'fraud-scoring' serves s3://artifacts/models/fraud/v3/model.tar.gz, which does not exist: upload "
        "the model.tar.gz there"
    )
    assert deploy.events == [Event("model-missing", "s3://artifacts/models/fraud/v3/model.tar.gz")]


def test_the_region_is_the_stages_else_the_clis(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "missing-config"))
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    with pytest.raises(DeployStopped, match=r"^no AWS region: .* set AWS_REGION"):
        aws_target(load_stage("dev"), approve=False)
    prod = aws_target(load_stage("prod"), approve=False)
    assert prod.env is not None and prod.env["AWS_REGION"] == "eu-west-1"
    monkeypatch.setenv("AWS_REGION", "eu-central-1")  # the CDK CLI reads it first; boto3 alone would not
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    target = aws_target(load_stage("dev"), approve=False)
    assert target.env is not None and target.env["AWS_DEFAULT_REGION"] == "eu-central-1"
    assert target.client("sts").meta.region_name == "eu-central-1"


class RecordingPublisher:
    """An image publisher that could publish, and records what it was asked to."""

    def __init__(self) -> None:
        self.published: list[str] = []

    def unavailable(self) -> str | None:
        return None

    def publish(self, image: str, ecr: Any) -> None:
        self.published.append(image)


def test_outside_a_sandbox_a_missing_image_is_never_built_from_the_sample(mocked: None, tmp_path: Path) -> None:
    # The tag names a release of the team's own image, and the repositories are tag-immutable: building the
    # sample serving image under it would take the tag for good.
    config = prod_serving_an_artifact()
    uri = aws_client("ecr").create_repository(repositoryName="smplat-prod-inference")["repository"]["repositoryUri"]
    publisher = RecordingPublisher()
    deploy = OrderedDeploy("prod", config, Target(client=aws_client), tmp_path, say=lambda _: None, publisher=publisher)
    with pytest.raises(DeployStopped) as stopped:
        deploy.check_images({"InferenceRepositoryUri": uri})
    assert str(stopped.value).startswith(
        "the endpoints need images that are not in ECR yet, and a stage with sandbox: false gets no sample image."
    )
    assert f"Endpoint 'fraud-scoring' needs {uri}:3.0.1" in str(stopped.value)
    assert publisher.published == []
    assert deploy.events == [Event("image-missing", f"{uri}:3.0.1")]
