"""A scoring pipeline: one SageMaker Pipeline (model from a package -> batch transform) that scores a prefix
with the registry's latest approved package, its two roles, and the schedule that starts it through an
SSM Automation runbook (no Lambda)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm

import config.scoring
import config.transform
from config.scoring import RULE_SUFFIX, ScoringConfig
from constructs import Construct, pipeline_sdk, pipeline_transform
from constructs.acknowledge import acknowledge_wildcard_resources
from constructs.container_repository import image_pull_statements
from constructs.data_channels import MODELS_PREFIX, PIPELINES_PREFIX
from constructs.execution_role import (
    VPC_ATTACHMENT_WILDCARDS,
    key_use_statements,
    log_statements,
    metric_statement,
    sagemaker_source_arn,
    vpc_attachment_statements,
)
from constructs.latest_approved_model import MAX_EVENT_AGE, RETRY_ATTEMPTS
from constructs.pipeline_roles import TRANSFORM_LOG_GROUP, transform_job_statements
from constructs.pipeline_sdk import JobNames, check_size, render
from constructs.pipeline_transform import build_scoring
from constructs.runbook_roles import rule_dead_letters, runbook_arn, runbook_role, trigger_role
from constructs.service_role import service_role
from model_code import contract
from sagemaker_images import sdk_cached

# What shapes a scoring definition besides the entry's values: the cache key follows these files.
SCORING_SOURCES = tuple(
    Path(module.__file__)  # type: ignore[arg-type]
    for module in (pipeline_transform, pipeline_sdk, contract, config.scoring, config.transform)
)


class ScoringPipeline(Construct):
    """A SageMaker Pipeline `<project>-<stage>-<name>` with one parameter, `ModelPackageArn`: a Model step
    from that package (network-isolated, in the platform's subnets) and a Transform step over
    `transform.input_prefix`, writing `pipelines/<name>/transform/<execution>/` with the key. An
    EventBridge schedule (`<pipeline>-schedule`) starts an SSM Automation runbook that reads the stage's
    latest-approved parameter, checks with SageMaker that the package is `Approved` and starts the
    pipeline with it; undeliverable schedule events go to a dead-letter queue (`<pipeline>-dead-letters`,
    on a KMS key of its own that only EventBridge may use for it besides the account).

    Props:
        config: the stage file's scoring entry (validated by config).
        pipeline_name: `<project>-<stage>-<name>` (create-only).
        job_names: the prefixes of the models' and jobs' names.
        model_package_group_arn: the stage's registry (only its versions are scored).
        latest_approved_parameter: the SSM parameter naming the latest approved package (the data stack's).
        key: encrypts volumes and outputs.
        data_bucket, artifacts_bucket: the input prefix's and the output's buckets.
        repositories: the platform's repositories (a package may serve with a platform image).
        subnets, security_group: where the model runs (1-6 subnets).
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: ScoringConfig,
        pipeline_name: str,
        job_names: JobNames,
        model_package_group_arn: str,
        latest_approved_parameter: str,
        key: kms.IKey,
        data_bucket: s3.IBucket,
        artifacts_bucket: s3.IBucket,
        repositories: Mapping[str, ecr.IRepository],
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        prefix, own = config.transform.input_prefix, f"{PIPELINES_PREFIX}{config.name}/"
        versions = model_package_group_arn.replace(":model-package-group/", ":model-package/") + "/*"
        self.pipeline_name = pipeline_name
        self.pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=pipeline_name)

        self.job_role = service_role(
            self,
            "JobRole",
            service="sagemaker.amazonaws.com",
            description=f"Runs the model and transform jobs of scoring pipeline {config.name}",
            source_arn=sagemaker_source_arn(),
        )
        job_policy = iam.ManagedPolicy(
            self,
            "JobPolicy",
            description=f"Least privilege for the jobs of scoring pipeline {config.name}",
            roles=[self.job_role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadInput", actions=["s3:GetObject"], resources=[data_bucket.arn_for_objects(f"{prefix}*")]
                ),
                iam.PolicyStatement(
                    sid="ListInput",
                    actions=["s3:ListBucket"],
                    resources=[data_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
                ),
                iam.PolicyStatement(
                    sid="ReadPublishedModels",  # an approved package's model data: published under models/
                    actions=["s3:GetObject"],
                    resources=[artifacts_bucket.arn_for_objects(f"{MODELS_PREFIX}*")],
                ),
                iam.PolicyStatement(
                    sid="WriteOwnOutput",
                    actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[artifacts_bucket.arn_for_objects(f"{own}*")],
                ),
                *key_use_statements(key, grants=True),
                *image_pull_statements(list(repositories.values())),
                *log_statements(stack, [TRANSFORM_LOG_GROUP], stream_prefix=job_names.log_streams),
                metric_statement([TRANSFORM_LOG_GROUP]),
                *vpc_attachment_statements(subnets, [security_group]),
            ],
        )
        acknowledge_wildcard_resources(
            job_policy,
            f"object keys need a wildcard (only under {prefix}, {MODELS_PREFIX} and {own}); ecr:GetAuthorizationToken "
            "and cloudwatch:PutMetricData (limited to the transform jobs' namespace) take no resource; log streams "
            "are named after jobs at run time (only the stage's, in the transform jobs' log group); "
            + VPC_ATTACHMENT_WILDCARDS,
        )
        self.pipeline_role = service_role(
            self,
            "PipelineRole",
            service="sagemaker.amazonaws.com",
            description=f"Runs the steps of scoring pipeline {config.name}",
            source_arn=sagemaker_source_arn(),
        )
        pipeline_policy = iam.ManagedPolicy(
            self,
            "PipelinePolicy",
            description=f"Least privilege for the steps of scoring pipeline {config.name}",
            roles=[self.pipeline_role],
            statements=[
                *transform_job_statements(stack, job_names, subnets, security_group, key),
                iam.PolicyStatement(
                    sid="ReadStagePackages", actions=["sagemaker:DescribeModelPackage"], resources=[versions]
                ),
                iam.PolicyStatement(
                    sid="PassOnlyOwnJobRole",
                    actions=["iam:PassRole"],
                    resources=[self.job_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
            ],
        )
        acknowledge_wildcard_resources(
            pipeline_policy,
            "models and transform jobs get a suffix at run time (only the stage's prefix; models only "
            "network-isolated in the platform's subnets and security group, transform jobs only of those models "
            "and with the platform key); package versions are numbered at run time (only the stage's group)",
        )

        definition = sdk_cached(
            "scoring-definition",
            [config.model_dump(mode="json"), pipeline_name, job_names.prefix, len(subnets)],
            lambda: build_scoring(config, pipeline_name=pipeline_name, jobs=job_names, subnet_count=len(subnets)),
            code=SCORING_SOURCES,
        )
        body = render(definition)
        check_size(body, config.name)
        variables: dict[str, Any] = {
            "JobRoleArn": self.job_role.role_arn,
            "KeyArn": key.key_arn,
            "DataBucket": data_bucket.bucket_name,
            "ArtifactsBucket": artifacts_bucket.bucket_name,
            "SecurityGroup": security_group.security_group_id,
            **{f"Subnet{n}": subnet.subnet_id for n, subnet in enumerate(subnets)},
        }
        self.definition = definition
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=pipeline_name,
            pipeline_display_name=pipeline_name,
            pipeline_description=f"Score {config.transform.input_prefix} with the latest approved model",
            role_arn=self.pipeline_role.role_arn,
            pipeline_definition={
                "PipelineDefinitionBody": Fn.sub(body, {k: v for k, v in variables.items() if "${" + k + "}" in body})
            },
        )
        self.pipeline.node.add_dependency(pipeline_policy)
        self._schedule(config, latest_approved_parameter, versions)

    def _schedule(self, config: ScoringConfig, parameter_name: str, versions: str) -> None:
        stack = Stack.of(self)
        rule_name = f"{self.pipeline_name}-{RULE_SUFFIX}"
        parameter_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=parameter_name.removeprefix("/")
        )
        role = runbook_role(self, description=f"Starts {self.pipeline_name} with the latest approved package")
        runbook_policy = iam.ManagedPolicy(
            self,
            "RunbookPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(sid="ReadLatestApproved", actions=["ssm:GetParameter"], resources=[parameter_arn]),
                iam.PolicyStatement(
                    sid="CheckStagePackages", actions=["sagemaker:DescribeModelPackage"], resources=[versions]
                ),
                iam.PolicyStatement(
                    sid="StartScoring", actions=["sagemaker:StartPipelineExecution"], resources=[self.pipeline_arn]
                ),
            ],
        )
        acknowledge_wildcard_resources(
            runbook_policy,
            "the runbook describes whichever version of the stage's model package group is the latest approved; "
            "versions are numbered by SageMaker as they are registered",
        )
        latest = "{{ ReadLatestApproved.ModelPackageArn }}"
        package = {"Service": "sagemaker", "Api": "DescribeModelPackage", "ModelPackageName": latest}
        self.runbook = ssm.CfnDocument(
            self,
            "Runbook",
            document_type="Automation",
            document_format="JSON",
            content={
                "schemaVersion": "0.3",
                "description": f"Start {self.pipeline_name} with the package named by {parameter_name}",
                # Fixed: whoever starts the runbook cannot hand it another role.
                "assumeRole": role.role_arn,
                "mainSteps": [
                    {
                        "name": "ReadLatestApproved",
                        "action": "aws:executeAwsApi",
                        "inputs": {"Service": "ssm", "Api": "GetParameter", "Name": parameter_name},
                        "outputs": [{"Name": "ModelPackageArn", "Selector": "$.Parameter.Value", "Type": "String"}],
                    },
                    # The parameter is written only on approval; a package may have been rejected since.
                    {
                        "name": "RefuseUnapprovedPackage",
                        "action": "aws:assertAwsResourceProperty",
                        "inputs": package
                        | {"PropertySelector": "$.ModelApprovalStatus", "DesiredValues": ["Approved"]},
                    },
                    {
                        "name": "StartScoring",
                        "action": "aws:executeAwsApi",
                        "inputs": {
                            "Service": "sagemaker",
                            "Api": "StartPipelineExecution",
                            "PipelineName": self.pipeline_name,
                            "PipelineParameters": [{"Name": "ModelPackageArn", "Value": latest}],
                        },
                    },
                ],
            },
        )
        trigger = trigger_role(
            self,
            rule_name=rule_name,
            runbook=self.runbook,
            role=role,
            description=f"Starts the runbook that starts {self.pipeline_name}",
        )
        # EventBridge encrypts dead letters with the queue's key as its service principal, so the key's policy
        # must let it. The platform key is the data stack's (its policy is not this stack's to extend): the
        # queue gets a key of its own, rotated yearly.
        self.dead_letter_key = kms.Key(
            self,
            "DeadLetterKey",
            description=f"Encrypts the dead letters of {rule_name}",
            enable_key_rotation=True,
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.dead_letters = rule_dead_letters(
            self,
            queue_name=f"{self.pipeline_name}-dead-letters",
            rule_name=rule_name,
            key=self.dead_letter_key,
            rule="the schedule rule",
        )
        self.rule = events.CfnRule(
            self,
            "Schedule",
            name=rule_name,
            description=f"Starts {self.pipeline_name} on a schedule with the latest approved package",
            schedule_expression=config.schedule,
            targets=[
                events.CfnRule.TargetProperty(
                    id="StartScoring",
                    arn=runbook_arn(self.runbook),
                    role_arn=trigger.role_arn,
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_retry_attempts=RETRY_ATTEMPTS,
                        maximum_event_age_in_seconds=int(MAX_EVENT_AGE.to_seconds()),
                    ),
                    dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letters.queue_arn),
                )
            ],
        )
