"""Bootstraps the local AWS and deploys a stage into it with the real CDK CLI: all stacks at once,
or in order as `make deploy` does (ops/deploy.py)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from functools import partial
from pathlib import Path
from typing import Any

import boto3

from config import load_stage
from local_aws.moto_server import REGION, LocalAws
from ops.deploy import Event, ImagePublisher, OrderedDeploy, Target, print_line

ROOT = Path(__file__).resolve().parent.parent


def client(aws: LocalAws, service: str, **credentials: str):  # type: ignore[no-untyped-def]
    """A boto3 client of the local AWS (any credentials do; `credentials` override the defaults)."""
    return boto3.client(
        service,
        endpoint_url=aws.endpoint,
        region_name=REGION,
        **{"aws_access_key_id": "testing", "aws_secret_access_key": "testing", **credentials},
    )


def bootstrap(aws: LocalAws) -> None:
    """Create the CDKToolkit stack from the CLI's own bootstrap template.

    Directly, not with `cdk bootstrap`: that deploys through a change set, and moto gives
    stacks created that way no outputs."""
    template = _cdk(["bootstrap", "--show-template"], aws).stdout
    cfn = client(aws, "cloudformation")
    cfn.create_stack(StackName="CDKToolkit", TemplateBody=template, Capabilities=["CAPABILITY_NAMED_IAM"])
    cfn.get_waiter("stack_create_complete").wait(StackName="CDKToolkit", WaiterConfig={"Delay": 1})


def deploy(aws: LocalAws, stage: str, *, config_dir: Path | None = None) -> subprocess.CompletedProcess[str]:
    """`cdk deploy '<stage>/*'` with the real CLI; raises with the CLI's output if it fails."""
    args = [
        "deploy",
        f"{stage}/*",
        "-c",
        f"stage={stage}",
        "-c",
        "local_aws=true",
        # Direct create/update: moto gives change-set stacks no outputs.
        "--method=direct",
        "--no-previous-parameters",
        "--require-approval=never",
        "--progress=events",
    ]
    if config_dir is not None:
        args += ["-c", f"config_dir={config_dir}"]
    return _cdk(args, aws)


def target(aws: LocalAws, env: Mapping[str, str] | None = None) -> Target:
    """The local AWS as a deploy target (`env`: the CLI's and docker's environment, default aws.env())."""
    return Target(client=partial(client, aws), env=aws.env() if env is None else env, local_aws=True)


def ordered_deploy(
    aws: LocalAws,
    stage: str,
    work: Path,
    *,
    publisher: ImagePublisher | None = None,
    env: Mapping[str, str] | None = None,
    say: Callable[[str], None] = print_line,
) -> list[Event]:
    """`make deploy`'s ordered steps against the local AWS; raises DeployStopped as they do."""
    deploy = OrderedDeploy(stage, load_stage(stage), target(aws, env), work, publisher=publisher, say=say)
    return deploy.run()


# moto's ECR stores manifests, not layers: this one names an empty image.
EMPTY_MANIFEST = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {
        "mediaType": "application/vnd.docker.container.image.v1+json",
        "size": 0,
        "digest": "sha256:" + "0" * 64,
    },
    "layers": [],
}


def put_image_manifest(ecr: Any, image: str) -> None:
    """Register `image` (`<repository URI>:<tag>`) in the local AWS's ECR, without Docker."""
    uri, tag = image.rsplit(":", 1)
    ecr.put_image(repositoryName=uri.split("/", 1)[1], imageTag=tag, imageManifest=json.dumps(EMPTY_MANIFEST))


class ManifestPublisher:
    """Publishes an image to the local AWS as a manifest only: it runs no container, and no Docker
    engine can push to it (moto does not serve the registry API)."""

    def unavailable(self) -> str | None:
        return None

    def publish(self, image: str, ecr: Any) -> None:
        print_line(f"  (the local AWS runs no containers: registering a manifest for {image} instead)")
        put_image_manifest(ecr, image)


def stack_outputs(aws: LocalAws, stack_name: str) -> dict[str, str]:
    stack = client(aws, "cloudformation").describe_stacks(StackName=stack_name)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}


def ssm_parameters(aws: LocalAws, prefix: str) -> dict[str, str]:
    pages = client(aws, "ssm").get_paginator("get_parameters_by_path").paginate(Path=prefix, Recursive=True)
    return {p["Name"]: p["Value"] for page in pages for p in page["Parameters"]}


def _cdk(args: list[str], aws: LocalAws) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        ["cdk", *args], cwd=ROOT, env=aws.env(), capture_output=True, text=True, timeout=600, check=False
    )
    if result.returncode != 0:
        raise RuntimeError(f"cdk {' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result
