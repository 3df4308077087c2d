"""The platform's own drift check of one endpoint's captured traffic (SageMaker Model Monitor is closed
to new customers): a SageMaker Pipeline with one isolated processing job that runs
model_code/monitor.py, started on the endpoint's schedule by an SSM Automation runbook that picks the
window of capture files (ops/monitoring_window.py) and, once the check has ended, publishes the metrics
of its report to CloudWatch."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_ssm as ssm

from config.monitoring import MonitoringConfig
from constructs import Construct, pseudo
from constructs.acknowledge import acknowledge_wildcard_resources
from constructs.data_channels import MONITORING_PREFIX
from constructs.drift_check_documents import check_definition, runbook_content
from constructs.execution_role import (
    VPC_ATTACHMENT_WILDCARDS,
    key_use_statements,
    log_statements,
    metric_statement,
    platform_job_conditions,
    sagemaker_source_arn,
    vpc_attachment_statements,
)
from constructs.pipeline_sdk import JobNames
from constructs.runbook_roles import runbook_arn, runbook_role, trigger_role
from constructs.service_role import service_role
from ops import monitoring_window

PROCESSING_LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


def object_arn(uri: str) -> str:
    """The ARN of the S3 object at `uri` (s3://bucket/key)."""
    return f"arn:{pseudo.PARTITION}:s3:::{uri.removeprefix('s3://')}"


def namespace(project: str) -> str:
    """The platform's own CloudWatch namespace of monitoring metrics."""
    return f"{project}/Monitoring"


class DriftMonitor(Construct):
    """The scheduled drift check of one endpoint.

    - the monitoring pipeline `<endpoint>-monitor`: one processing job (AWS's scikit-learn image,
      model_code/ as its code) in the platform's subnets with network isolation, its volume and output
      encrypted with the platform key, that checks the capture files of a manifest against a baseline
      and writes Model Monitor's files under `monitoring/<endpoint>/reports/<execution>/`;
    - the runbook and the schedule rule that start it with the window's manifest and the baseline
      (nothing starts when no traffic was captured); the runbook then waits for the check and puts the
      metric lines of its report into CloudWatch (the job has no network; only its role writes reports);
    - the roles: the job's (reads exactly the endpoint's capture, its ground truth, manifests and the
      baseline; writes only its reports), the pipeline's (creates only that job, inside the platform),
      the runbook's (lists the window, writes manifests, starts and follows only this pipeline, reads
      its reports' metrics, publishes only to the platform's namespace), the rule's.

    Props:
        endpoint_name: the endpoint's physical name.
        config: the endpoint's `monitoring` entry.
        capture_prefix: where the endpoint captures (`data-capture/<endpoint>/`).
        package: the served model package (a version ARN) or the SSM parameter naming the latest approved
            one (`/...`), for a baseline published with the package; None with the entry's `baseline`.
        job_names: the prefixes of the stage's job names.
        key, artifacts_bucket: the data stack's.
        code: the model_code/ bundle the job runs.
        image_uri: AWS's scikit-learn processing image.
        subnets, security_group: where the job runs.
        metrics_namespace: the CloudWatch namespace the runbook publishes the report's metrics to.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        endpoint_name: str,
        config: MonitoringConfig,
        capture_prefix: str,
        package: str | None,
        job_names: JobNames,
        key: kms.IKey,
        artifacts_bucket: s3.IBucket,
        code: s3_assets.Asset,
        image_uri: str,
        subnets: Sequence[ec2.ISubnet],
        security_group: ec2.ISecurityGroup,
        metrics_namespace: str,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.pipeline_name = f"{endpoint_name}-monitor"
        self.rule_name = f"{endpoint_name}-monitor-schedule"
        own = f"{MONITORING_PREFIX}{endpoint_name}/"
        manifests, reports = f"{own}manifests/", f"{own}reports/"
        truth = config.model_quality.ground_truth_prefix if config.model_quality else None
        bucket = artifacts_bucket.bucket_name
        self.reports_uri = f"s3://{bucket}/{reports}"
        self.namespace = metrics_namespace
        baseline = config.baseline.uris(bucket) if config.baseline else None

        self.job_role = service_role(
            self,
            "JobRole",
            service="sagemaker.amazonaws.com",
            description=f"Runs the drift checks of endpoint {endpoint_name}",
            source_arn=sagemaker_source_arn(),
        )
        reads = [capture_prefix, manifests, *([truth] if truth else [])]
        job_policy = iam.ManagedPolicy(
            self,
            "JobPolicy",
            description=f"Least privilege for the drift checks of endpoint {endpoint_name}",
            roles=[self.job_role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadTheWindow",
                    actions=["s3:GetObject"],
                    resources=[artifacts_bucket.arn_for_objects(f"{prefix}*") for prefix in reads],
                ),
                # A given baseline: exactly its files; else those the training pipelines publish. Only in
                # this account: a bucket name that merely looks like the stage's could be anyone's.
                iam.PolicyStatement(
                    sid="ReadTheBaseline",
                    actions=["s3:GetObject"],
                    resources=[object_arn(uri) for uri in baseline]
                    if baseline
                    else [artifacts_bucket.arn_for_objects("pipelines/*/baseline/*")],
                    conditions={"StringEquals": {"s3:ResourceAccount": pseudo.ACCOUNT_ID}},
                ),
                iam.PolicyStatement(
                    sid="WriteOwnReports",
                    actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[artifacts_bucket.arn_for_objects(f"{reports}*")],
                ),
                iam.PolicyStatement(
                    sid="ReadCode",
                    actions=["s3:GetObject"],
                    resources=[code.bucket.arn_for_objects(code.s3_object_key)],
                ),
                *key_use_statements(key, grants=True),
                *log_statements(stack, [PROCESSING_LOG_GROUP], stream_prefix=job_names.log_streams),
                *vpc_attachment_statements(subnets, [security_group]),
            ],
        )
        acknowledge_wildcard_resources(
            job_policy,
            f"capture files, ground truth and manifests are named by SageMaker and the team at run time (only "
            f"under {capture_prefix}{', ' + truth if truth else ''} and {manifests}); reports are named by "
            f"execution (only under {reports}); baselines published by the training pipelines are named by "
            "execution; log streams are named after jobs at run time; " + VPC_ATTACHMENT_WILDCARDS,
        )

        self.pipeline_role = service_role(
            self,
            "PipelineRole",
            service="sagemaker.amazonaws.com",
            description=f"Runs the drift-check pipeline of endpoint {endpoint_name}",
            source_arn=sagemaker_source_arn(),
        )
        jobs = stack.format_arn(
            service="sagemaker", resource="processing-job", resource_name=job_names.pattern("processing-job")
        )
        pipeline_policy = iam.ManagedPolicy(
            self,
            "PipelinePolicy",
            description=f"Least privilege for the drift-check pipeline of endpoint {endpoint_name}",
            roles=[self.pipeline_role],
            statements=[
                iam.PolicyStatement(
                    sid="CreateIsolatedChecksInThePlatform",
                    actions=["sagemaker:CreateProcessingJob"],
                    resources=[jobs],
                    conditions={
                        **platform_job_conditions(subnets, security_group, key),
                        "Bool": {"sagemaker:NetworkIsolation": "true"},
                    },
                ),
                iam.PolicyStatement(
                    sid="FollowChecks",
                    actions=["sagemaker:DescribeProcessingJob", "sagemaker:StopProcessingJob", "sagemaker:AddTags"],
                    resources=[jobs],
                ),
                iam.PolicyStatement(
                    sid="PassOnlyTheJobRole",
                    actions=["iam:PassRole"],
                    resources=[self.job_role.role_arn],
                    conditions={"StringEquals": {"iam:PassedToService": "sagemaker.amazonaws.com"}},
                ),
            ],
        )
        acknowledge_wildcard_resources(
            pipeline_policy,
            "job names get a suffix at run time (only the stage's prefix; creation is further bound to the "
            "platform's subnets, security group and key, with network isolation)",
        )

        self.definition = check_definition(
            endpoint_name=endpoint_name,
            config=config,
            capture_prefix=capture_prefix,
            truth=truth,
            job_prefix=job_names.prefix,
            key_arn=key.key_arn,
            image_uri=image_uri,
            role_arn=self.job_role.role_arn,
            code_uri=f"s3://{code.s3_bucket_name}/{code.s3_object_key}",
            reports_uri=self.reports_uri,
            security_group_id=security_group.security_group_id,
            subnet_ids=[subnet.subnet_id for subnet in subnets],
        )
        self.pipeline = sagemaker.CfnPipeline(
            self,
            "Pipeline",
            pipeline_name=self.pipeline_name,
            pipeline_display_name=self.pipeline_name,
            pipeline_description=f"Drift check of the traffic endpoint {endpoint_name} captured",
            role_arn=self.pipeline_role.role_arn,
            pipeline_definition={"PipelineDefinitionBody": stack.to_json_string(self.definition)},
        )
        self.pipeline.node.add_dependency(pipeline_policy)
        self.pipeline_arn = stack.format_arn(service="sagemaker", resource="pipeline", resource_name=self.pipeline_name)
        self._schedule(
            endpoint_name, config, capture_prefix, manifests, reports, truth, baseline, package, key, artifacts_bucket
        )

    def _schedule(
        self,
        endpoint_name: str,
        config: MonitoringConfig,
        capture_prefix: str,
        manifests: str,
        reports: str,
        truth: str | None,
        baseline: tuple[str, str] | None,
        package: str | None,
        key: kms.IKey,
        artifacts_bucket: s3.IBucket,
    ) -> None:
        """The runbook that picks the window, starts the pipeline, waits for it and publishes its report's
        metrics; and the rule that starts the runbook."""
        stack = Stack.of(self)
        self.runbook_role = runbook_role(self, description=f"Starts the drift checks of endpoint {endpoint_name}")
        listed = [capture_prefix, *([truth] if truth else [])]
        statements = [
            iam.PolicyStatement(
                sid="ListTheWindow",
                actions=["s3:ListBucket"],
                resources=[artifacts_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*" for prefix in listed]}},
            ),
            iam.PolicyStatement(
                sid="WriteManifests",
                actions=["s3:PutObject"],
                resources=[artifacts_bucket.arn_for_objects(f"{manifests}*")],
            ),
            iam.PolicyStatement(
                sid="EncryptManifestsThroughS3",
                actions=["kms:GenerateDataKey"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": [f"s3.{pseudo.REGION}.amazonaws.com"]}},
            ),
            iam.PolicyStatement(
                sid="StartTheCheck", actions=["sagemaker:StartPipelineExecution"], resources=[self.pipeline_arn]
            ),
            iam.PolicyStatement(
                sid="FollowTheCheck",
                actions=["sagemaker:DescribePipelineExecution"],
                resources=[f"{self.pipeline_arn}/execution/*"],
            ),
            iam.PolicyStatement(
                sid="ReadTheReportsMetrics",
                actions=["s3:GetObject"],
                resources=[artifacts_bucket.arn_for_objects(f"{reports}*/{monitoring_window.METRICS_FILE}")],
            ),
            iam.PolicyStatement(
                sid="DecryptTheReportThroughS3",
                actions=["kms:Decrypt"],
                resources=[key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": [f"s3.{pseudo.REGION}.amazonaws.com"]}},
            ),
            metric_statement([self.namespace]),
        ]
        if package is not None:
            if package.startswith("/"):
                statements.append(
                    iam.PolicyStatement(
                        sid="ReadServedPackage",
                        actions=["ssm:GetParameter"],
                        resources=[
                            stack.format_arn(service="ssm", resource="parameter", resource_name=package.lstrip("/"))
                        ],
                    )
                )
            group_versions = (
                package
                if not package.startswith("/")
                else stack.format_arn(
                    service="sagemaker", resource="model-package", resource_name=f"{_group(package)}/*"
                )
            )
            statements.append(
                iam.PolicyStatement(
                    sid="ReadPackageBaseline", actions=["sagemaker:DescribeModelPackage"], resources=[group_versions]
                )
            )
        runbook_policy = iam.ManagedPolicy(self, "RunbookPolicy", roles=[self.runbook_role], statements=statements)
        acknowledge_wildcard_resources(
            runbook_policy,
            f"manifests are named by window (only under {manifests}), reports by execution (only their metrics "
            f"file, under {reports}), executions by SageMaker (only of this pipeline); the latest approved package "
            "is a version numbered by SageMaker (only of the stage's group); PutMetricData takes no resource (only "
            "the platform's namespace)",
        )
        inputs = {
            "ArtifactsBucket": artifacts_bucket.bucket_name,
            "CapturePrefix": capture_prefix,
            "GroundTruthPrefix": truth or "",
            "ManifestPrefix": manifests,
            "WindowHours": str(config.window),
            "KeyArn": key.key_arn,
            "PipelineName": self.pipeline_name,
            "BaselineStatistics": baseline[0] if baseline else "",
            "BaselineConstraints": baseline[1] if baseline else "",
            "ModelPackageArn": package if package and not package.startswith("/") else "",
            "PackageParameter": package if package and package.startswith("/") else "",
        }
        published = {
            "ArtifactsBucket": artifacts_bucket.bucket_name,
            "ReportsPrefix": reports,
            "EndpointName": endpoint_name,
            "Namespace": self.namespace,
        }
        self.runbook = ssm.CfnDocument(
            self,
            "Runbook",
            document_type="Automation",
            document_format="JSON",
            content=runbook_content(
                endpoint_name=endpoint_name,
                role_arn=self.runbook_role.role_arn,
                max_runtime_minutes=config.max_runtime_minutes,
                start_inputs=inputs,
                publish_inputs=published,
            ),
        )
        self.trigger_role = trigger_role(
            self,
            rule_name=self.rule_name,
            runbook=self.runbook,
            role=self.runbook_role,
            description=f"Starts the runbook of the drift checks of endpoint {endpoint_name}",
        )
        # A missed start is not retried past the next one: the schedule starts the next window anyway.
        self.rule = events.CfnRule(
            self,
            "Schedule",
            name=self.rule_name,
            description=f"Drift check of endpoint {endpoint_name}",
            schedule_expression=config.schedule,
            targets=[
                events.CfnRule.TargetProperty(
                    id="StartCheck",
                    arn=runbook_arn(self.runbook),
                    role_arn=self.trigger_role.role_arn,
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_retry_attempts=5, maximum_event_age_in_seconds=3600
                    ),
                )
            ],
        )


def _group(parameter: str) -> str:
    """The model package group of the latest-approved parameter `/<project>/<stage>/...`: `<project>-<stage>`."""
    project, stage = parameter.strip("/").split("/")[:2]
    return f"{project}-{stage}"
