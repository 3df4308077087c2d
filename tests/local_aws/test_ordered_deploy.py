"""`make deploy`'s ordered steps (ops/deploy.py) for the dev stage, against a fresh local AWS.

The first run has no serving image in ECR and no Docker engine: it deploys the platform stacks,
then stops with the commands to run, before training or the endpoints stack. Once the image is in
ECR (a manifest put with boto3, as moto stores them), the next run finds it, uploads the sample
model (the one the session trained, as the deploy would train it), and only then deploys the
endpoints stack."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pytest

from config import load_stage
from local_aws.deploy import client, put_image_manifest, stack_outputs, target
from local_aws.moto_server import LocalAws
from model_code.local_training import TrainingResult
from ops.deploy import DeployStopped, Event, OrderedDeploy, push_commands

pytestmark = pytest.mark.integration

# No engine answers here even where Docker runs (CI runners have one).
NO_DOCKER = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}
PLATFORM = [Event("synthesized", "dev")] + [
    Event("deployed", f"smplat-dev-{s}") for s in ("data", "network", "notebooks", "pipelines", "labeling")
]


@dataclass
class Run:
    events: list[Event]
    stopped: DeployStopped | None
    image: str  # the dev endpoint's image: <inference repository URI>:sample-1
    model: str  # the dev endpoint's model: s3://<artifacts bucket>/models/sample/model.tar.gz


def ordered_deploy(aws: LocalAws, work: Path, sample_model: Path) -> Run:
    deploy = OrderedDeploy(
        "dev", load_stage("dev"), target(aws, aws.env() | NO_DOCKER), work, sample_model=sample_model
    )
    stopped = None
    try:
        deploy.run()
    except DeployStopped as err:
        stopped = err
    data = stack_outputs(aws, "smplat-dev-data")
    return Run(
        deploy.events,
        stopped,
        f"{data['InferenceRepositoryUri']}:sample-1",
        f"s3://{data['ArtifactsBucketName']}/models/sample/model.tar.gz",
    )


@pytest.fixture(scope="module")
def sample_model(trained: TrainingResult) -> Path:
    """The session's trained sample model (the ordered deploy would train the same one)."""
    assert trained.model_artifact is not None
    return trained.model_artifact


@pytest.fixture(scope="module")
def without_image(aws: LocalAws, sample_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    return ordered_deploy(aws, tmp_path_factory.mktemp("deploy"), sample_model)


@pytest.fixture(scope="module")
def with_image(aws: LocalAws, without_image: Run, sample_model: Path, tmp_path_factory: pytest.TempPathFactory) -> Run:
    put_image_manifest(client(aws, "ecr"), without_image.image)  # what `docker push` would leave
    return ordered_deploy(aws, tmp_path_factory.mktemp("deploy"), sample_model)


def test_without_the_image_or_docker_it_stops_with_the_commands_before_the_endpoints(
    aws: LocalAws, without_image: Run
) -> None:
    assert without_image.events == [*PLATFORM, Event("image-missing", without_image.image)]
    assert without_image.stopped is not None
    message = str(without_image.stopped)
    assert "and no Docker engine answers here (" in message
    assert f"Endpoint 'sample' needs {without_image.image}: build model_code/container/Dockerfile.serving" in message
    commands = push_commands(without_image.image)
    assert commands[-1] == f"docker push {without_image.image}"
    for command in commands:
        assert f"\n  {command}\n" in message
    assert message.endswith("Then run `make deploy STAGE=dev` again.")
    assert "the endpoints stack (smplat-dev-endpoints) is not" in message
    # Stopped at the image: no endpoints stack, no endpoint, no model trained or uploaded.
    stacks = {s["StackName"] for s in client(aws, "cloudformation").describe_stacks()["Stacks"]}
    assert stacks == {
        "CDKToolkit",
        "smplat-dev-data",
        "smplat-dev-network",
        "smplat-dev-notebooks",
        "smplat-dev-pipelines",
        "smplat-dev-labeling",
    }
    assert client(aws, "sagemaker").list_endpoints()["Endpoints"] == []
    bucket = without_image.model.removeprefix("s3://").split("/", 1)[0]
    assert "Contents" not in client(aws, "s3").list_objects_v2(Bucket=bucket)


def test_with_the_image_it_uploads_the_model_before_the_endpoints_stack(
    aws: LocalAws, with_image: Run, sample_model: Path
) -> None:
    assert with_image.stopped is None
    assert with_image.events == [
        *PLATFORM,
        Event("image-found", with_image.image),
        Event("model-uploaded", with_image.model),
        # dev's monitoring reads the sample model's baseline beside it (computed from its train channel).
        *(
            Event("baseline-uploaded", with_image.model.replace("model.tar.gz", f"baseline/{name}.json"))
            for name in ("statistics", "constraints")
        ),
        Event("deployed", "smplat-dev-endpoints"),
        Event("deployed", "smplat-dev-monitoring"),
    ]
    cloudformation = client(aws, "cloudformation")
    created = {
        s["StackName"]: s["CreationTime"]
        for s in cloudformation.describe_stacks()["Stacks"]
        if s["StackName"] != "CDKToolkit"
    }
    assert sorted(created, key=created.__getitem__)[-2:] == ["smplat-dev-endpoints", "smplat-dev-monitoring"]
    bucket, key = with_image.model.removeprefix("s3://").split("/", 1)
    uploaded = client(aws, "s3").head_object(Bucket=bucket, Key=key)
    assert uploaded["ContentLength"] == sample_model.stat().st_size
    assert uploaded["LastModified"] <= created["smplat-dev-endpoints"]
    # The endpoint exists and serves that image and that model.
    sagemaker = client(aws, "sagemaker")
    (summary,) = sagemaker.list_endpoints()["Endpoints"]
    assert summary["EndpointStatus"] == "InService"
    config = sagemaker.describe_endpoint_config(
        EndpointConfigName=sagemaker.describe_endpoint(EndpointName=summary["EndpointName"])["EndpointConfigName"]
    )
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["PrimaryContainer"] == {"Image": with_image.image, "ModelDataUrl": with_image.model}
