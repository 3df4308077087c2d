"""`make deploy STAGE=<name>` (`python -m ops.deploy --stage <name>`): the ordered deploy of a stage.

SageMaker refuses to create an endpoint whose image or model.tar.gz does not exist yet, and
CloudFormation creates neither, so a plain `cdk deploy '<stage>/*'` fails in a fresh account. The
ordered deploy bootstraps the account and region for the CDK if needed, then runs these steps and
stops at the first that cannot complete, so the endpoints stack is never deployed after a failed
step:

1. synthesize the stage once with the CDK CLI (cdk-nag runs here); every deploy uses that assembly;
2. `cdk deploy` every stack of the stage but the endpoints stack and their monitoring (data, network,
   notebooks, pipelines, labeling);
3. each endpoint image `{repository, tag}` must be in the platform's repository: when missing, it
   is built from model_code/container/Dockerfile.serving and pushed if a Docker engine answers;
4. each endpoint model: its `artifact_key` must be in the artifacts bucket (a sandbox stage trains
   the sample model of model_code/ and uploads it there, with the baseline of its train channel where the
   endpoint's monitoring expects one under models/); `latest-approved` needs an approved package;
5. `cdk deploy` the endpoints stack, then the monitoring stack (Model Monitor's schedules name endpoints).

`local_aws/demo.py` (`make demo`) and the local-AWS tests run the same steps against a local AWS.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shlex
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from config import CONFIG_DIR, ConfigError, StageConfig, load_stage
from config.model_sources import LATEST_APPROVED, ArtifactModel, RegistryModel
from model_code.data import write_sample_dataset
from model_code.local_training import run_training_job
from model_code.split import SplitSpec, split_file
from naming import StageNames, repository_id

ROOT = Path(__file__).resolve().parent.parent
SERVING_DOCKERFILE = "model_code/container/Dockerfile.serving"
BUILD_CONTEXT = "model_code"
# The construct ID of the endpoints stack in stacks/platform_stage.py (its path is `<stage>/Endpoints`).
ENDPOINTS_STACK_ID = "Endpoints"
MONITORING_STACK_ID = "Monitoring"
# Written by the CDK's bootstrap stack (the default qualifier; cdk.json sets no other).
BOOTSTRAP_VERSION_PARAMETER = "/cdk-bootstrap/hnb659fds/version"
SAMPLE_HYPERPARAMETERS = {"max_depth": 4, "eta": 0.2}
STEPS = 5


def print_line(line: str) -> None:
    """Print a line at once (it interleaves with the output of the CLI and docker)."""
    print(line, flush=True)


class DeployStopped(Exception):
    """A step could not complete; no later step ran (in particular not the endpoints stack)."""


@dataclass(frozen=True)
class Event:
    """Something the ordered deploy did or found, recorded as it happened: `synthesized`,
    `deployed` (a stack), `image-found`, `image-missing`, `image-pushed`, `model-found`,
    `model-missing`, `model-uploaded`, `package-found`, `package-missing`."""

    action: str
    subject: str


@dataclass(frozen=True)
class Target:
    """Where a stage deploys.

    client: makes a boto3 client for a service (and optional credentials), pointed at the target.
    env: the environment of the CDK CLI and docker (None: this process's environment).
    local_aws: a local AWS (moto): direct deploys without approval prompts, synthesized with
        `-c local_aws=true`, the CLI's output captured and shown only when it fails.
    approve: deploy without the CLI's approval prompt for security-sensitive changes (`--yes`).
        Off by default: the CDK CLI then asks before it widens IAM permissions or security groups.
    """

    client: Callable[..., Any]
    env: Mapping[str, str] | None = None
    local_aws: bool = False
    approve: bool = False

    def deploy_options(self) -> list[str]:
        if self.local_aws:
            # Direct create/update: moto gives stacks created through a change set no outputs.
            return ["--method=direct", "--no-previous-parameters", "--require-approval=never", "--progress=events"]
        return ["--require-approval=never"] if self.approve else []


class ImagePublisher(Protocol):
    """Puts a missing endpoint image into its ECR repository."""

    def unavailable(self) -> str | None:
        """Why no image can be published here, or None when it can."""

    def publish(self, image: str, ecr: Any) -> None:
        """Build and push `image` (`<repository URI>:<tag>`)."""


class DockerPublisher:
    """Builds model_code/container/Dockerfile.serving and pushes it with the docker CLI."""

    def __init__(self, env: Mapping[str, str] | None = None, say: Callable[[str], None] = print_line) -> None:
        self.env = None if env is None else dict(env)
        self.say = say

    def unavailable(self) -> str | None:
        try:
            info = subprocess.run(
                ["docker", "info"], env=self.env, capture_output=True, text=True, timeout=60, check=False
            )
        except FileNotFoundError:
            return "the docker CLI is not installed"
        except subprocess.TimeoutExpired:
            return "`docker info` did not answer within 60 s"
        if info.returncode != 0:
            lines = [line for line in info.stderr.splitlines() if line.strip()]
            return f"`docker info` failed: {lines[-1] if lines else f'exit {info.returncode}'}"
        return None

    def publish(self, image: str, ecr: Any) -> None:
        self.say(f"  building {SERVING_DOCKERFILE} (context {BUILD_CONTEXT}/) as {image} and pushing it")
        auth = ecr.get_authorization_token()["authorizationData"][0]
        user, password = base64.b64decode(auth["authorizationToken"]).decode().split(":", 1)
        self._docker(["login", "--username", user, "--password-stdin", auth["proxyEndpoint"]], stdin=password)
        self._docker(["build", "-f", SERVING_DOCKERFILE, "-t", image, BUILD_CONTEXT])
        self._docker(["push", image])

    def _docker(self, args: list[str], stdin: str | None = None) -> None:
        command = ["docker", *args]
        self.say(f"  $ {shlex.join(command)}")
        result = subprocess.run(command, cwd=ROOT, env=self.env, input=stdin, text=True, check=False)
        if result.returncode != 0:
            raise DeployStopped(f"`{shlex.join(command)}` failed (exit {result.returncode}); its output is above")


def push_commands(image: str) -> list[str]:
    """What to run from the repository root where Docker runs, to push `image` by hand."""
    registry = image.split("/", 1)[0]  # <account>.dkr.ecr.<region>.amazonaws.com
    region = registry.split(".")[3]
    return [
        f"aws ecr get-login-password --region {region} | docker login --username AWS --password-stdin {registry}",
        f"docker build -f {SERVING_DOCKERFILE} -t {image} {BUILD_CONTEXT}",
        f"docker push {image}",
    ]


@dataclass
class OrderedDeploy:
    """The ordered deploy of one stage into one target (see the module docstring for the steps).

    stage, config: the stage name and its validated stage file.
    target: where it deploys.
    work: a folder for the synthesized assembly and the sample model's training job.
    config_dir: the folder of stage files the CDK app reads (default config/).
    publisher: puts missing images into ECR (default: the docker CLI, when an engine answers).
    sample_model: the sample model.tar.gz a sandbox stage uploads; None trains it when needed
        (the tests pass the one their session trained).
    say: prints each step and what it does (default: print, flushed).
    """

    stage: str
    config: StageConfig
    target: Target
    work: Path
    config_dir: Path | None = None
    publisher: ImagePublisher | None = None
    sample_model: Path | None = None
    say: Callable[[str], None] = print_line
    events: list[Event] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.names = StageNames(self.config.project, self.stage)
        self.assembly = self.work / "cdk.out"
        if self.publisher is None:
            self.publisher = DockerPublisher(self.target.env, self.say)

    def run(self) -> list[Event]:
        """Run every step in order; raises DeployStopped at the first that cannot complete."""
        self._where()
        stacks = self._synthesize()
        endpoints_path = f"{self.stage}/{ENDPOINTS_STACK_ID}"
        last = {endpoints_path: "", f"{self.stage}/{MONITORING_STACK_ID}": ""}  # after the images and models
        self._deploy(2, "Platform stacks", {path: name for path, name in stacks.items() if path not in last})
        if not self.config.endpoints:
            self.say(f"\nThe stage lists no endpoints: steps 3-{STEPS} have nothing to do.")
            return self.events
        if endpoints_path not in stacks:
            raise DeployStopped(f"the synthesized assembly has no {endpoints_path}, though the stage lists endpoints")
        outputs = self._data_outputs()
        self.check_images(outputs)
        self.check_models(outputs)
        self.check_baselines(outputs)
        final = {path: stacks[path] for path in last if path in stacks}
        self._deploy(STEPS, "Endpoints stack and their monitoring", final, exclusively=True)
        self.say(f"\nDone: stage {self.stage} is deployed.")
        return self.events

    def _step(self, number: int, title: str) -> None:
        self.say(f"\n== [{number}/{STEPS}] {title}")

    def _where(self) -> None:
        sts = self.target.client("sts")
        try:
            account = sts.get_caller_identity()["Account"]
        except (BotoCoreError, ClientError) as err:
            raise DeployStopped(f"cannot tell which AWS account the credentials belong to: {err}") from err
        region = sts.meta.region_name
        self.say(f"Ordered deploy of stage {self.stage} ({self.names.prefix}) to account {account}, region {region}")
        if self.config.account is not None and account != self.config.account:
            raise DeployStopped(
                f"the stage file names account {self.config.account}, the credentials are for account {account}"
            )
        self._bootstrapped(account, region)

    def _bootstrapped(self, account: str, region: str) -> None:
        """A fresh account and region need the CDK's bootstrap stack (CDKToolkit) once."""
        ssm = self.target.client("ssm")
        try:
            version = ssm.get_parameter(Name=BOOTSTRAP_VERSION_PARAMETER)["Parameter"]["Value"]
        except ssm.exceptions.ParameterNotFound:
            if self.target.local_aws:
                raise DeployStopped("the local AWS is not bootstrapped (local_aws.deploy.bootstrap)") from None
            self.say(f"The CDK has not bootstrapped account {account} in {region} yet: bootstrapping it")
            self._cdk(["bootstrap", f"aws://{account}/{region}"])
        else:
            self.say(f"CDK bootstrap version {version} ({BOOTSTRAP_VERSION_PARAMETER})")

    def _synthesize(self) -> dict[str, str]:
        """The stage's stacks in the assembly: path (`dev/Data`) -> stack name."""
        self._step(1, f"Synthesize stage {self.stage} (cdk-nag runs here)")
        context = [f"stage={self.stage}"]
        if self.target.local_aws:
            context.append("local_aws=true")
        if self.config_dir is not None:
            context.append(f"config_dir={self.config_dir}")
        self._cdk(["synth", "--quiet", "--output", str(self.assembly), *(f"--context={c}" for c in context)])
        manifest = json.loads((self.assembly / f"assembly-{self.stage}" / "manifest.json").read_text())
        stacks = {
            artifact["displayName"]: artifact["properties"]["stackName"]
            for artifact in manifest["artifacts"].values()
            if artifact["type"] == "aws:cloudformation:stack"
        }
        self.say(f"  stacks: {', '.join(stacks)}")
        self.events.append(Event("synthesized", self.stage))
        return stacks

    def _deploy(self, number: int, title: str, stacks: dict[str, str], *, exclusively: bool = False) -> None:
        self._step(number, f"{title}: {', '.join(stacks.values())}")
        options = ["--exclusively"] if exclusively else []
        self._cdk(["deploy", "--app", str(self.assembly), *stacks, *options, *self.target.deploy_options()])
        cloudformation = self.target.client("cloudformation")
        for name in stacks.values():
            status = cloudformation.describe_stacks(StackName=name)["Stacks"][0]["StackStatus"]
            self.say(f"  {name}: {status}")
            self.events.append(Event("deployed", name))

    def _data_outputs(self) -> dict[str, str]:
        stack = self.target.client("cloudformation").describe_stacks(StackName=self.names.stack("Data"))["Stacks"][0]
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def check_images(self, outputs: dict[str, str]) -> None:
        self._step(3, "Endpoint images in the platform's ECR repositories")
        ecr = self.target.client("ecr")
        missing: dict[str, str] = {}  # image -> endpoint
        for endpoint in self.config.endpoints:
            model = endpoint.model
            if not isinstance(model, ArtifactModel) or model.image is None:
                self.say(f"  {endpoint.name}: no platform image to check ({model.source} model)")
                continue
            image = f"{outputs[f'{repository_id(model.image.repository)}Uri']}:{model.image.tag}"
            if _image_exists(ecr, image):
                self.say(f"  {endpoint.name}: {image} is in ECR")
                self.events.append(Event("image-found", image))
            else:
                self.say(f"  {endpoint.name}: {image} is not in ECR yet")
                self.events.append(Event("image-missing", image))
                missing.setdefault(image, endpoint.name)
        if not missing:
            return
        if not self.config.sandbox:
            # Outside a sandbox a tag names a release the team built; building the sample serving image
            # under it would take the (immutable) tag for good.
            raise DeployStopped(
                self._push_yourself_message(missing, "a stage with sandbox: false gets no sample image")
            )
        assert self.publisher is not None
        if reason := self.publisher.unavailable():
            raise DeployStopped(self._push_yourself_message(missing, f"no Docker engine answers here ({reason})"))
        for image in missing:
            self.publisher.publish(image, ecr)
            if not _image_exists(ecr, image):
                raise DeployStopped(f"{image} was pushed but ECR does not list it")
            self.events.append(Event("image-pushed", image))

    def _push_yourself_message(self, missing: dict[str, str], reason: str) -> str:
        lines = [
            f"the endpoints need images that are not in ECR yet, and {reason}.",
            f"The platform stacks are deployed; the endpoints stack ({self.names.stack(ENDPOINTS_STACK_ID)}) is not.",
        ]
        for image, endpoint in missing.items():
            lines += [
                f"Endpoint {endpoint!r} needs {image}: build {SERVING_DOCKERFILE} (build context {BUILD_CONTEXT}/) "
                "and push it where Docker runs, from the repository root:",
                *(f"  {command}" for command in push_commands(image)),
            ]
        lines.append(f"Then run `make deploy STAGE={self.stage}` again.")
        return "\n".join(lines)

    def check_models(self, outputs: dict[str, str]) -> None:
        self._step(4, "Endpoint models: artifacts in the artifacts bucket, approved packages")
        bucket = outputs["ArtifactsBucketName"]
        s3 = self.target.client("s3")
        ssm = self.target.client("ssm")
        problems: list[str] = []
        for endpoint in self.config.endpoints:
            model = endpoint.model
            if isinstance(model, ArtifactModel):
                uri = f"s3://{bucket}/{model.artifact_key}"
                if _object_exists(s3, bucket, model.artifact_key):
                    self.say(f"  {endpoint.name}: {uri} is there")
                    self.events.append(Event("model-found", uri))
                elif self.config.sandbox:
                    self.say(f"  {endpoint.name}: {uri} is missing; a sandbox stage gets model_code/'s sample model")
                    # On AWS the bucket policy lets only the publisher write models/.
                    publisher = self._as_role(outputs["ModelPublisherRoleArn"], "s3")
                    publisher.upload_file(str(self._train_sample_model()), bucket, model.artifact_key)
                    self.say(f"  uploaded the sample model to {uri}")
                    self.events.append(Event("model-uploaded", uri))
                else:
                    self.events.append(Event("model-missing", uri))
                    problems.append(
                        f"Endpoint {endpoint.name!r} serves {uri}, which does not exist: upload the model.tar.gz "
                        f"there (aws s3 cp model.tar.gz {uri}). Only a sandbox stage gets the sample model."
                    )
            elif isinstance(model, RegistryModel) and model.model_package == LATEST_APPROVED:
                parameter = self.names.latest_approved_parameter
                try:
                    package = ssm.get_parameter(Name=parameter)["Parameter"]["Value"]
                except ssm.exceptions.ParameterNotFound:
                    self.events.append(Event("package-missing", parameter))
                    problems.append(
                        f"Endpoint {endpoint.name!r} serves the latest approved package of the model registry "
                        f"{self.names.model_package_group}, and none has been approved yet ({parameter} does not "
                        "exist): a package must be approved first, e.g. `aws sagemaker update-model-package "
                        "--model-package-arn <arn> --model-approval-status Approved`; the data stack then writes "
                        "the parameter."
                    )
                else:
                    self.say(f"  {endpoint.name}: latest approved package {package} ({parameter})")
                    self.events.append(Event("package-found", package))
            else:
                self.say(f"  {endpoint.name}: {model.source} model {model.model_package}: nothing to check")
        if problems:
            raise DeployStopped(
                "\n".join(
                    [
                        *problems,
                        f"The platform stacks are deployed; the endpoints stack "
                        f"({self.names.stack(ENDPOINTS_STACK_ID)}) is not. Then run `make deploy STAGE={self.stage}` "
                        "again.",
                    ]
                )
            )

    def check_baselines(self, outputs: dict[str, str]) -> None:
        """Each monitored endpoint's baseline files in the artifacts bucket: a sandbox stage gets the sample
        model's (computed from its train channel, as a training pipeline's Baseline step does); a missing one
        elsewhere is reported (the endpoint deploys; its drift checks fail until the files are there)."""
        bucket, s3 = outputs["ArtifactsBucketName"], self.target.client("s3")
        for endpoint in self.config.endpoints:
            baseline = endpoint.monitoring.baseline if endpoint.monitoring else None
            if baseline is None:
                continue
            keys = [key for key in (baseline.statistics, baseline.constraints) if not key.startswith("s3://")]
            missing = [key for key in keys if not _object_exists(s3, bucket, key)]
            if not missing:
                continue
            if self.config.sandbox and all(key.startswith("models/") for key in missing):
                from model_code.monitor_baseline import baseline as compute_baseline

                folder = self.work / "sample-baseline"
                compute_baseline(self._sample_channels() / "train", folder)
                publisher = self._as_role(outputs["ModelPublisherRoleArn"], "s3")  # only it writes models/
                for key in missing:
                    publisher.upload_file(str(folder / key.rsplit("/", 1)[1]), bucket, key)
                    self.events.append(Event("baseline-uploaded", f"s3://{bucket}/{key}"))
                self.say(f"  {endpoint.name}: uploaded the sample model's baseline ({', '.join(missing)})")
            else:
                self.events.append(Event("baseline-missing", f"s3://{bucket}/{missing[0]}"))
                self.say(
                    f"  {endpoint.name}: the monitoring baseline s3://{bucket}/{missing[0]} does not exist: its drift "
                    "checks fail until it does (python -m model_code.lifecycle monitor baseline, then upload)"
                )

    def _sample_channels(self) -> Path:
        """The sample data split into channels, once."""
        channels = self.work / "sample-model" / "channels"
        if not channels.exists():
            write_sample_dataset(self.work / "sample-model" / "raw.csv")
            split_file(self.work / "sample-model" / "raw.csv", channels, SplitSpec(stratify=True))
        return channels

    def _as_role(self, role_arn: str, service: str) -> Any:
        """A client of `service` acting as `role_arn` (which the caller's credentials must be allowed to assume)."""
        session = f"{self.names.prefix}-deploy"
        credentials = self.target.client("sts").assume_role(RoleArn=role_arn, RoleSessionName=session)["Credentials"]
        return self.target.client(
            service,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    def _train_sample_model(self) -> Path:
        """The sample model of model_code/, trained once through the SageMaker training toolkit."""
        if self.sample_model is None:
            work = self.work / "sample-model"
            self.say("  training the sample model (breast cancer data, stratified split) through the toolkit ...")
            result = run_training_job(work / "train", self._sample_channels(), SAMPLE_HYPERPARAMETERS)
            if result.exit_code != 0 or result.model_artifact is None:
                raise DeployStopped(f"training the sample model failed: {result.failure}")
            self.say("  " + "  ".join(f"{k}={v:.4f}" for k, v in result.final_metrics.items()))
            self.sample_model = result.model_artifact
        return self.sample_model

    def _cdk(self, args: list[str]) -> None:
        command = ["cdk", *args]
        self.say(f"  $ {shlex.join(command)}")
        env = None if self.target.env is None else dict(self.target.env)
        try:
            # Against a real account the CLI's own output and its approval prompt go to the terminal.
            # A local AWS answers in seconds: its deploys are bounded (the tests run them).
            capture = self.target.local_aws
            timeout = 900 if capture else None
            result = subprocess.run(
                command, cwd=ROOT, env=env, capture_output=capture, text=True, timeout=timeout, check=False
            )
        except FileNotFoundError as err:
            raise DeployStopped(
                "the CDK CLI (cdk) is not on PATH: run `make deploy`, which puts node_modules/.bin first"
            ) from err
        if result.returncode != 0:
            output = f":\n{result.stdout}\n{result.stderr}" if self.target.local_aws else "; its output is above"
            raise DeployStopped(f"`{shlex.join(command)}` failed (exit {result.returncode}){output}")


def _image_exists(ecr: Any, image: str) -> bool:
    uri, tag = image.rsplit(":", 1)
    try:
        ecr.describe_images(repositoryName=uri.split("/", 1)[1], imageIds=[{"imageTag": tag}])
    except ecr.exceptions.ImageNotFoundException:
        return False
    return True


def _object_exists(s3: Any, bucket: str, key: str) -> bool:
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except ClientError as err:
        if err.response["Error"]["Code"] in ("404", "NoSuchKey"):
            return False
        raise DeployStopped(f"cannot read s3://{bucket}/{key}: {err}") from err
    return True


def aws_target(config: StageConfig, *, approve: bool) -> Target:
    """The account of the caller's credentials, in the stage's region or else the configured one."""
    # The CDK CLI's order: AWS_REGION, then AWS_DEFAULT_REGION or the profile (boto3 reads those two).
    region = config.region or os.environ.get("AWS_REGION") or boto3.session.Session().region_name
    if region is None:
        raise DeployStopped(
            "no AWS region: the stage file names none and none is configured; set AWS_REGION (or your profile's region)"
        )
    # The CLI deploys an environment-agnostic stage to the region boto3 checks.
    env = dict(os.environ, AWS_REGION=region, AWS_DEFAULT_REGION=region)
    return Target(client=boto3.session.Session(region_name=region).client, env=env, approve=approve)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m ops.deploy",
        description="Deploy a stage in order: platform stacks, endpoint images and models, then the endpoints.",
    )
    parser.add_argument("--stage", required=True, help="a stage file of config/ (dev, prod, ...)")
    parser.add_argument(
        "--yes",
        action="store_true",
        help="deploy without the CDK CLI's approval prompt for security-sensitive changes",
    )
    args = parser.parse_args(argv)
    try:
        config = load_stage(args.stage, CONFIG_DIR)
        with tempfile.TemporaryDirectory(prefix=f"deploy-{args.stage}-") as work:
            OrderedDeploy(args.stage, config, aws_target(config, approve=args.yes), Path(work)).run()
    except ConfigError as err:
        print(f"Invalid configuration: {err}", file=sys.stderr)
        return 1
    except DeployStopped as err:
        print(f"\nStopped: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
