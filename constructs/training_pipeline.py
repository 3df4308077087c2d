"""A training pipeline: one SageMaker Pipeline (split -> train / baseline -> tune -> evaluate -> register), its
images resolved per region, its code bundles and its triggers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from aws_cdk import CfnMapping, Fn, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker

import config.algorithms
import config.pipelines
import config.transform
import config.tuning
from config.algorithms import BuiltinAlgorithm, ContainerAlgorithm, ScriptAlgorithm
from config.model_sources import ImageReference
from config.pipelines import PipelineConfig
from constructs import Construct, pipeline_definition, pipeline_sdk, pipeline_transform, pseudo
from constructs.pipeline_definition import build
from constructs.pipeline_roles import PipelineRoles
from constructs.pipeline_sdk import JobNames, check_size, render
from constructs.source_bundle import SourceBundle
from model_code import contract
from sagemaker_images import Scope, image_uris, sdk_cached, versions

# The python split runs in AWS's scikit-learn image (numpy, Python 3); the spark split in AWS's Spark image.
SPLIT_IMAGES = {"python": ("sklearn", "1.4-2", "py3"), "spark": ("spark", "3.5", "py312")}
# The baselining step (model_code/monitor.py: standard library and numpy) runs in the python split's image.
BASELINE_IMAGE = SPLIT_IMAGES["python"]
BASELINE_CODE = "model_code"
MAX_PARALLEL_STEPS = 4
RULE_SUFFIXES = {"schedule": "schedule", "new data": "new-data"}  # `<pipeline name>-<suffix>`, at most 64 characters


# What shapes a definition besides the entry's values: the cache key follows these files.
BUILDER_SOURCES = tuple(
    Path(module.__file__)  # type: ignore[arg-type]
    for module in (
        pipeline_definition,
        pipeline_sdk,
        pipeline_transform,
        contract,
        config.pipelines,
        config.algorithms,
        config.tuning,
        config.transform,
    )
)


def cached_build(config: PipelineConfig, *, pipeline_name: str, jobs: JobNames, subnet_count: int) -> dict[str, Any]:
    """`build`, or its earlier result for the same inputs, SDK and builder (see sagemaker_images.sdk_cached)."""
    inputs = [config.model_dump(mode="json"), pipeline_name, jobs.prefix, subnet_count]
    return sdk_cached(
        "definition",
        inputs,
        lambda: build(config, pipeline_name=pipeline_name, jobs=jobs, subnet_count=subnet_count),
        code=BUILDER_SOURCES,
    )


class PipelineImages(Construct):
    """AWS's images by region, from the SageMaker SDK's tables: a literal URI when the stage names its
    region, else a `Fn::FindInMap` on a mapping of every region that has the image (one mapping per
    image, `<Image>` -> region -> `Uri`), resolved at deploy.

    Props:
        region: the stage's region, or None for an environment-agnostic stage.
    """

    def __init__(self, scope: Construct, id: str, *, region: str | None) -> None:
        super().__init__(scope, id)
        self.region = region
        self._uris: dict[str, str] = {}

    def uri(self, name: str, version: str, python: str | None, instance_type: str, *, scope: Scope) -> str:
        key = re.sub(r"[^A-Za-z0-9]", "", f"{name}-{version}-{python or ''}-{scope}-{_processor(instance_type)}")
        if key not in self._uris:
            regions = (self.region,) if self.region else ()
            by_region = image_uris(name, version, python, instance_type, scope=scope, regions=regions)
            if self.region:
                self._uris[key] = by_region[self.region]
            else:  # one construct call for every region (a value at a time costs a round trip each)
                mapping = CfnMapping(self, key, mapping={r: {"Uri": u} for r, u in by_region.items()})
                self._uris[key] = mapping.find_in_map(pseudo.REGION, "Uri")
        return self._uris[key]


class TrainingPipeline(Construct):
    """One SageMaker Pipeline `<project>-<stage>-<name>`: split -> train -> tune -> evaluate -> (publish ->
    register as `PendingManualApproval`, or fail), with a data-quality baseline of the train channel
    (beside train) published with the package. Its definition is built with the SageMaker SDK at
    synth (constructs/pipeline_definition.py) and given to CloudFormation inline, its values filled in
    by `Fn::Sub`. Every job runs on instances of its own, in the platform's subnets, with the key.

    Props:
        config: the stage file's pipeline entry (validated by config).
        pipeline_name: `<project>-<stage>-<name>` (create-only: renaming replaces the pipeline).
        job_names: the prefixes of the jobs' names.
        publisher: the model publisher role, which runs the publish step.
        model_package_group_arn: the stage's registry.
        key: encrypts volumes and outputs.
        data_bucket, artifacts_bucket: where the channels and the jobs' outputs go.
        repositories: the platform's repositories (own containers, serving images).
        subnets, security_group: where the jobs run (one security group; 1-6 subnets).
        images: AWS's images of the stage.
        code: the code bundles by folder (the entry point's, the split's, the evaluation's and model_code/ for the
            baselining step).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: PipelineConfig,
        pipeline_name: str,
        job_names: JobNames,
        publisher: iam.IRole,
        model_package_group_arn: str,
        key: kms.IKey,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        repositories: Mapping[str, ecr.IRepository],
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
        images: PipelineImages,
        code: Mapping[str, SourceBundle],
    ) -> None:
        super().__init__(scope, id)
        folders = code_folders(config)
        self.roles = PipelineRoles(
            self,
            "Roles",
            entry=config.name,
            raw_prefix=config.raw_prefix,
            transform_prefix=config.transform.input_prefix if config.transform else None,
            job_names=job_names,
            data_bucket=data_bucket,
            artifacts_bucket=artifacts_bucket,
            key=key,
            code=[code[folder].asset for folder in dict.fromkeys(folders)],
            repositories=list(repositories.values()),
            subnets=subnets,
            security_group=security_group,
            model_package_group_arn=model_package_group_arn,
            publisher=publisher,
        )
        roles = self.roles
        definition = cached_build(config, pipeline_name=pipeline_name, jobs=job_names, subnet_count=len(subnets))
        body = render(definition)
        check_size(body, config.name)

        def platform_image(reference: ImageReference) -> str:
            return repositories[reference.repository].repository_uri_for_tag(reference.tag)

        variables: dict[str, str] = {
            "JobRoleArn": roles.job_role.role_arn,
            "PublisherRoleArn": publisher.role_arn,
            "KeyArn": key.key_arn,
            "DataBucket": data_bucket.bucket_name,
            "ArtifactsBucket": artifacts_bucket.bucket_name,
            "SecurityGroup": security_group.security_group_id,
            "CodeBucket": code[folders[0]].asset.s3_bucket_name,
            **{f"Subnet{n}": subnet.subnet_id for n, subnet in enumerate(subnets)},
            **{f"CodeKey{n}": code[folder].asset.s3_object_key for n, folder in enumerate(folders)},
        }
        split = SPLIT_IMAGES[config.split.engine]
        variables["SplitImage"] = images.uri(*split, config.split.instance_type, scope="processing")
        variables["BaselineImage"] = images.uri(*BASELINE_IMAGE, config.split.instance_type, scope="processing")
        variables["EvaluateImage"] = images.uri(
            *config.evaluation_image, config.evaluation.instance_type, scope="processing"
        )
        algorithm, train_type = config.algorithm, config.resources.instance_type
        serve_type = config.inference_instance_types[0]
        if isinstance(algorithm, ScriptAlgorithm):
            variables["TrainImage"] = images.uri(
                algorithm.framework, algorithm.version, algorithm.python, train_type, scope="training"
            )
            serving, python = algorithm.serving
            variables["ServeImage"] = images.uri(algorithm.framework, serving, python, serve_type, scope="inference")
        elif isinstance(algorithm, BuiltinAlgorithm):
            variables["TrainImage"] = images.uri(algorithm.name, algorithm.version, None, train_type, scope="training")
            if versions(algorithm.name, "inference").get(algorithm.version):
                variables["ServeImage"] = images.uri(
                    algorithm.name, algorithm.version, None, serve_type, scope="inference"
                )
            else:  # the built-in algorithm's one image both trains and serves
                variables["ServeImage"] = variables["TrainImage"]
        elif isinstance(algorithm, ContainerAlgorithm):
            variables["TrainImage"] = variables["ServeImage"] = platform_image(algorithm.image)
        if config.serving_image is not None:
            variables["ServeImage"] = platform_image(config.serving_image)
        used = {name: value for name, value in variables.items() if "${" + name + "}" in body}

        self.pipeline_name = pipeline_name
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_display_name=pipeline_name,
            pipeline_description=f"Split, train{', tune' if config.tuning else ''}, evaluate, register "
            + f"{config.name}{', score ' + config.transform.input_prefix if config.transform else ''}",
            role_arn=roles.pipeline_role.role_arn,
            # A raw dict: the L1 passes PipelineDefinition through as written (PascalCase keys).
            pipeline_definition={"PipelineDefinitionBody": Fn.sub(body, used)},
            parallelism_configuration={"MaxParallelExecutionSteps": MAX_PARALLEL_STEPS},
        )
        self.pipeline.node.add_dependency(roles)
        self.pipeline_arn = Stack.of(self).format_arn(
            service="sagemaker", resource="pipeline", resource_name=pipeline_name
        )
        self.definition = definition
        self._triggers(config, data_bucket)

    def _triggers(self, config: PipelineConfig, data_bucket: s3.IBucket) -> None:
        """EventBridge rules, named so that the role that starts the pipeline trusts only them."""
        triggers = config.triggers
        rules = {
            f"{self.pipeline_name}-{RULE_SUFFIXES['schedule']}": {"schedule_expression": triggers.schedule}
            if triggers.schedule
            else None,
            f"{self.pipeline_name}-{RULE_SUFFIXES['new data']}": {
                "event_pattern": {
                    "source": ["aws.s3"],
                    "detail-type": ["Object Created"],
                    "detail": {
                        "bucket": {"name": [data_bucket.bucket_name]},
                        "object": {"key": [{"prefix": config.raw_prefix}]},
                    },
                }
            }
            if triggers.on_new_data
            else None,
        }
        wanted = {name: properties for name, properties in rules.items() if properties is not None}
        if not wanted:
            return
        stack = Stack.of(self)
        role = iam.Role(
            self,
            "StartRole",
            description=f"Starts pipeline {self.pipeline_name}",
            assumed_by=iam.ServicePrincipal(
                "events.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": pseudo.ACCOUNT_ID},
                    "ArnEquals": {
                        "aws:SourceArn": [
                            stack.format_arn(service="events", resource="rule", resource_name=n) for n in wanted
                        ]
                    },
                },
            ),
        )
        iam.ManagedPolicy(
            self,
            "StartPolicy",
            description=f"Start pipeline {self.pipeline_name}",
            roles=[role],
            statements=[
                iam.PolicyStatement(actions=["sagemaker:StartPipelineExecution"], resources=[self.pipeline_arn])
            ],
        )
        target = events.CfnRule.TargetProperty(
            arn=self.pipeline_arn,
            id="Pipeline",
            role_arn=role.role_arn,
            retry_policy=events.CfnRule.RetryPolicyProperty(
                maximum_retry_attempts=5, maximum_event_age_in_seconds=3600
            ),
        )
        for name, properties in wanted.items():
            events.CfnRule(
                self,
                "Schedule" if "schedule_expression" in properties else "OnNewData",
                name=name,
                description=f"Starts {self.pipeline_name} "
                + (
                    "on a schedule"
                    if "schedule_expression" in properties
                    else f"when objects land under {config.raw_prefix}"
                ),
                targets=[target],
                **properties,
            )


def code_folders(config: PipelineConfig) -> list[str]:
    """The folders packaged for the entry: the entry point's (else the evaluation's), the split's, the
    evaluation's, and model_code/ for the baselining step (identical folders are one asset)."""
    evaluation = str(PurePosixPath(config.evaluation.script).parent)
    algorithm = config.algorithm
    entry = str(PurePosixPath(algorithm.entry_point).parent) if isinstance(algorithm, ScriptAlgorithm) else evaluation
    split = "model_code/spark/split.py" if config.split.engine == "spark" else "model_code"  # spark-submit takes a file
    return [entry, split, evaluation, BASELINE_CODE]


def _processor(instance_type: str) -> str:
    """AWS publishes CPU and GPU images apart; GPU instance families start with p or g."""
    return "gpu" if instance_type.split(".")[1][:1] in ("p", "g") else "cpu"
