"""Bootstraps the local AWS and deploys a stage into it with the real CDK CLI."""

from __future__ import annotations

import subprocess
from pathlib import Path

import boto3

from local_aws.moto_server import REGION, LocalAws

ROOT = Path(__file__).resolve().parent.parent


def client(aws: LocalAws, service: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        service,
        endpoint_url=aws.endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
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
