"""Runs a stage's training pipeline, as deployed to the local AWS, on this machine: the very definition the
pipelines stack gives SageMaker, its CloudFormation values resolved against the deployed stacks.

python -m local_aws.pipeline run --stage dev --pipeline sample --endpoint-url http://localhost:5000 \\
    [--assembly cdk.out] [--param Threshold=0.95 ...]
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
import threading
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from config import load_stage
from local_aws.deploy import ROOT, client
from local_aws.moto_server import REGION, LocalAws
from local_aws.pipeline_graph import DefinitionError, Execution, execute, load_definition, parameters, validate
from local_aws.pipeline_steps import runners
from naming import StageNames


class ResolveError(ValueError):
    """The deployed stack does not give a value the definition needs."""


def synthesize(aws: LocalAws, stage: str, out: Path) -> Path:
    """`cdk synth` of the stage as it is deployed to the local AWS (`-c local_aws=true`)."""
    subprocess.run(
        ["cdk", "synth", "--quiet", "-c", f"stage={stage}", "-c", "local_aws=true", "-o", str(out)],
        cwd=ROOT,
        env=aws.env(),
        check=True,
        capture_output=True,
        text=True,
    )
    return out


def deployed_definition(aws: LocalAws, stage: str, pipeline: str, assembly: Path) -> str:
    """The definition of pipeline `<project>-<stage>-<pipeline>` with every CloudFormation value resolved
    as CloudFormation resolves it in the deployed stack (the local AWS keeps no SageMaker pipeline)."""
    names = StageNames(load_stage(stage).project, stage)
    stack_name = names.stack("Pipelines")
    templates = list((assembly / f"assembly-{stage}").glob("*Pipelines*.template.json"))
    if not templates:
        raise ResolveError(f"{assembly}: stage {stage} has no pipelines stack")
    template = json.loads(templates[0].read_text())
    wanted = names.physical(pipeline)
    found = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SageMaker::Pipeline" and r["Properties"]["PipelineName"] == wanted
    ]
    if not found:
        known = sorted(
            r["Properties"]["PipelineName"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::SageMaker::Pipeline"
        )
        raise ResolveError(f"no pipeline {wanted!r} in stage {stage}; it has {known}")
    body = found[0]["Properties"]["PipelineDefinition"]["PipelineDefinitionBody"]
    resolver = _Resolver(aws, stack_name, template)
    return str(resolver.resolve(body))


class _Resolver:
    """CloudFormation's intrinsic functions, as the pipelines stack uses them, against the local AWS."""

    def __init__(self, aws: LocalAws, stack_name: str, template: dict[str, Any]) -> None:
        cloudformation = client(aws, "cloudformation")
        self.iam = client(aws, "iam")
        self.template = template
        resources = cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        # The local AWS lists the resource types it does not model (the pipeline itself) without IDs.
        self.physical = {
            r["LogicalResourceId"]: r.get("PhysicalResourceId", "") for r in resources if "LogicalResourceId" in r
        }
        pages = cloudformation.get_paginator("list_exports").paginate()
        self.exports = {e["Name"]: e["Value"] for page in pages for e in page["Exports"]}
        account = client(aws, "sts").get_caller_identity()["Account"]
        self.pseudo = {
            "AWS::Region": REGION,
            "AWS::AccountId": account,
            "AWS::Partition": "aws",
            "AWS::URLSuffix": "amazonaws.com",
        }

    def resolve(self, value: Any) -> Any:
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict) or len(value) != 1:
            return value
        ((function, argument),) = value.items()
        if function == "Ref":
            if argument in self.pseudo:
                return self.pseudo[argument]
            return self._physical(argument)
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            kind = self.template["Resources"][logical_id]["Type"]
            if kind == "AWS::IAM::Role" and attribute == "Arn":
                return self.iam.get_role(RoleName=self._physical(logical_id))["Role"]["Arn"]
            raise ResolveError(f"Fn::GetAtt {logical_id}.{attribute} ({kind}) is not resolved locally")
        if function == "Fn::ImportValue":
            name = self.resolve(argument)
            if name not in self.exports:
                raise ResolveError(f"export {name!r} is not in the local AWS: deploy the stage first")
            return self.exports[name]
        if function == "Fn::Join":
            return str(self.resolve(argument[0])).join(str(self.resolve(v)) for v in self.resolve(argument[1]))
        if function == "Fn::Select":
            return self.resolve(argument[1])[int(self.resolve(argument[0]))]
        if function == "Fn::Split":
            return str(self.resolve(argument[1])).split(argument[0])
        if function == "Fn::FindInMap":
            mapping, top, second = (self.resolve(a) for a in argument)
            return self.template["Mappings"][mapping][top][second]
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in variables:
                    return str(self.resolve(variables[name]))
                if name in self.pseudo:
                    return self.pseudo[name]
                return str(self.resolve({"Ref": name}))

            return re.sub(r"\$\{([^}!]+)\}", substitute, text).replace("${!", "${")
        return {k: self.resolve(v) for k, v in value.items()}

    def _physical(self, logical_id: str) -> str:
        if logical_id not in self.physical:
            raise ResolveError(f"resource {logical_id} is not in the deployed stack")
        return self.physical[logical_id]


def run(
    aws: LocalAws,
    *,
    stage: str,
    pipeline: str,
    assembly: Path,
    overrides: Mapping[str, str],
    workdir: Path,
    say: Callable[[str], None] = print,
) -> Execution:
    """Validate the deployed definition and the overrides (nothing runs when either is wrong), then run it."""
    names = StageNames(load_stage(stage).project, stage)
    definition = load_definition(deployed_definition(aws, stage, pipeline, assembly))
    validate(definition)
    values = parameters(definition, overrides)
    execution_id = f"local-{uuid.uuid4().hex[:8]}"
    account = client(aws, "sts").get_caller_identity()["Account"]
    arn = f"arn:aws:sagemaker:{REGION}:{account}:pipeline/{names.physical(pipeline)}/execution/{execution_id}"
    say(f"Execution {execution_id} of {names.physical(pipeline)}; parameters:")
    for name, value in values.items():
        say(f"  {name} = {value}")

    # A line per step and status; what a running step prints goes to its log file.
    logs = workdir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    last: dict[str, str] = {}
    lock = threading.Lock()

    def progress(step: str, status: str, message: str) -> None:
        with lock:
            log = logs / f"{re.sub(r'[^A-Za-z0-9._-]', '_', step)}.log"
            if status == "Executing" and message:
                with log.open("a") as out:
                    out.write(message + "\n")
            if last.get(step) == status:
                return
            last[step] = status
            detail = f"log {log}" if status == "Executing" else message
            say(f"  {step:<24} {status:<14} {detail}".rstrip())

    return execute(
        definition,
        parameters=values,
        runners=runners(aws),
        pipeline_name=names.physical(pipeline),
        execution_id=execution_id,
        workdir=workdir,
        on_event=progress,
        execution_arn=arn,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Run a stage's training pipeline against the local AWS.")
    commands = parser.add_subparsers(dest="command", required=True)
    command = commands.add_parser("run", help="run one pipeline of a stage deployed to the local AWS")
    command.add_argument("--stage", default="dev")
    command.add_argument("--pipeline", required=True, help="the entry's name in the stage file, e.g. sample")
    command.add_argument("--endpoint-url", required=True, help="the local AWS, e.g. http://localhost:5000")
    command.add_argument("--assembly", type=Path, help="a `cdk synth -c local_aws=true` output (default: synth now)")
    command.add_argument("--param", action="append", default=[], metavar="NAME=VALUE", help="override a parameter")
    command.add_argument("--workdir", type=Path, help="where the steps run (default: a temporary folder)")
    args = parser.parse_args(argv)
    port = re.fullmatch(r"http://localhost:(\d+)/?", args.endpoint_url)
    if port is None:
        parser.error(f"--endpoint-url {args.endpoint_url!r}: give the local AWS as http://localhost:<port>")
    aws = LocalAws(int(port.group(1)))
    overrides = {}
    for item in args.param:
        name, equals, value = item.partition("=")
        if not equals:
            parser.error(f"--param {item!r}: give NAME=VALUE")
        overrides[name] = value
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="smplat-pipeline-"))
    try:
        assembly = args.assembly or synthesize(aws, args.stage, workdir / "cdk.out")
        execution = run(
            aws, stage=args.stage, pipeline=args.pipeline, assembly=assembly, overrides=overrides, workdir=workdir
        )
    except (DefinitionError, ResolveError) as err:
        print(f"not run: {err}", file=sys.stderr)
        return 2
    print()
    print(execution.table())
    print(f"\nexecution {execution.status}" + (f": {execution.failure_message}" if execution.failure_message else ""))
    package = registered_package(execution)
    if package:
        print(f"model package: {package}")
    return 0 if execution.status == "Succeeded" else 1


def registered_package(execution: Execution) -> str | None:
    """The ARN of the model package the execution registered, if it did."""
    for step in execution.steps:
        if step.type == "RegisterModel" and step.status == "Succeeded":
            return step.produced or None
    return None


if __name__ == "__main__":
    sys.exit(main())
