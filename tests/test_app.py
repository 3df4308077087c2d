"""The app as a whole: compliance at synth, the set of acknowledgments, determinism."""

from __future__ import annotations

import filecmp
from collections import defaultdict
from pathlib import Path

import aws_cdk as cdk
import pytest
from aws_cdk import aws_s3 as s3

from app import add_compliance_checks, compose
from config import available_stages, load_stage
from model_code.contract import CHANNELS
from tests.conftest import SynthesizedStage, new_app

PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
NO_SELF_LOGGING = "this is the access-log bucket; logging it into itself would loop"
REPLICATION = {f"{p}-S3BucketReplicationEnabled" for p in PACKS}
EXPECTED_ACKNOWLEDGMENTS = {
    "Data/AccessLogs/Bucket": {"AwsSolutions-S1"}
    | {f"{p}-S3BucketLoggingEnabled" for p in PACKS}
    | {f"{p}-S3DefaultEncryptionKMS" for p in PACKS}
    | REPLICATION,
    "Data/DataChannels/Storage/Bucket": REPLICATION,
    "Data/Artifacts/Bucket": REPLICATION,
    "Data/LatestApprovedModel/DeadLetters": {"AwsSolutions-SQS3"},
    "Network/Network/JobSecurityGroup": {f"{p}-EC2RestrictedCommonPorts" for p in PACKS},
    # The deploy-time function of the S3 prefix-list lookup (CDK's AwsCustomResource singleton).
    "Network/AWS679f53fac002430cb0da5b7982bd2287": {f"{p}-LambdaInsideVPC" for p in PACKS}
    | {f"{p}-{rule}" for p in PACKS[:2] for rule in ("LambdaConcurrency", "LambdaDLQ")},
    "Network/Network/S3PrefixListPolicy": {"AwsSolutions-IAM5[Resource::*]"},
}
# The labeling stack of dev: Cognito threat protection needs the Plus plan (AwsSolutions-COG3 and -COG8); the
# labeling role reads labeling/, writes labeling/output/ and the streams of the stage's labeling jobs.
LABELING_ACKNOWLEDGMENTS = {
    "Labeling/Workforce/UserPool": {"AwsSolutions-COG3", "AwsSolutions-COG8"},
    "Labeling/Workforce/Policy": {
        f"AwsSolutions-IAM5[Resource::{r}]"
        for r in (
            "smplat-dev-DataBucketArn/labeling/*",
            "smplat-dev-DataBucketArn/labeling/output/*",
            "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/LabelingJobs:*",
            "arn:<AWS::Partition>:logs:<AWS::Region>:<AWS::AccountId>:log-group:/aws/sagemaker/LabelingJobs:"
            "log-stream:smplat-dev-*",
        )
    },
}
# IAM5 findings are named after each wildcard resource, so the exact IDs are pinned per stage.
ACCOUNT_ARN = "arn:<AWS::Partition>:{service}:<AWS::Region>:<AWS::AccountId>:"
ARTIFACT_PREFIXES = ("models", "jobs")  # read models, read and write jobs; never data-capture
JOB_LOG_GROUPS = ("TrainingJobs", "ProcessingJobs", "TransformJobs")
NETWORK_INTERFACES = ACCOUNT_ARN.format(service="ec2") + "network-interface/*"


def execution_role_wildcards(arn_prefix: str) -> set[str]:
    """Objects of the channels and artifacts, and the streams of the jobs' own log groups."""
    return {
        "*",
        *(f"<ArtifactsBucket88671897.Arn>/{p}/*" for p in ARTIFACT_PREFIXES),
        *(f"<DataChannelsStorageBucketDFA7E37B.Arn>/{c}/*" for c in ("train", "validation", "test")),
        *(arn_prefix.format(service="logs") + f"log-group:/aws/sagemaker/{g}:*" for g in JOB_LOG_GROUPS),
        *(arn_prefix.format(service="logs") + f"log-group:/aws/sagemaker/{g}:log-stream:*" for g in JOB_LOG_GROUPS),
    }


def notebook_wildcards(stage: str, arn_prefix: str) -> set[str]:
    jobs = ("training-job", "hyper-parameter-tuning-job", "processing-job", "pipeline")
    return {
        "*",
        *(f"smplat-{stage}-ArtifactsBucketArn/{p}/*" for p in ARTIFACT_PREFIXES),
        *(f"smplat-{stage}-DataBucketArn/{c}/*" for c in ("train", "validation", "test")),
        arn_prefix.format(service="logs")
        + f"log-group:/aws/sagemaker/NotebookInstances:log-stream:{notebook_name(stage)}/*",
        *(arn_prefix.format(service="sagemaker") + f"{kind}/smplat-{stage}-*" for kind in jobs),
        # What the notebooks are denied (cdk-nag reads the Deny's wildcards too): the endpoints' drift checks.
        arn_prefix.format(service="sagemaker") + f"pipeline/smplat-{stage}-*-monitor",
        arn_prefix.format(service="sagemaker") + f"processing-job/smplat-{stage}-monitor-*",
    }


def pipeline_wildcards(stage: str, entries: tuple[str, ...], transforms: dict[str, str]) -> dict[str, set[str]]:
    """Each training pipeline's roles: its raw prefix, own channels and `pipelines/<entry>/`; job names
    with the stage's prefix; the registry's versions; log streams of the stage's jobs; network
    interfaces; with a transform step (`transforms`: entry -> input prefix), that prefix, the entry's
    published models, transform job streams, model and transform job names. And the model publisher's
    access for the publish steps."""
    account, logs = ACCOUNT_ARN.format(service="sagemaker"), ACCOUNT_ARN.format(service="logs")

    def streams(*groups: str) -> set[str]:
        return {
            f"{logs}log-group:/aws/sagemaker/{g}:{s}" for g in groups for s in ("*", f"log-stream:smplat-{stage}-*")
        }

    found = {"Pipelines/PublisherJobAccess/Policy": iam5({"*", NETWORK_INTERFACES} | streams("ProcessingJobs"))}
    for entry in entries:
        path = f"Pipelines/Pipeline{entry.title()}/Roles"
        transform = transforms.get(entry)
        found[f"{path}/JobPolicy"] = iam5(
            {"*", NETWORK_INTERFACES, f"smplat-{stage}-ArtifactsBucketArn/pipelines/{entry}/*"}
            | streams("ProcessingJobs", "TrainingJobs", *(["TransformJobs"] if transform else []))
            | {f"smplat-{stage}-DataBucketArn/{p}/{entry}/*" for p in ("raw", *CHANNELS)}
            | (
                {f"smplat-{stage}-DataBucketArn/{transform}*", f"smplat-{stage}-ArtifactsBucketArn/models/{entry}/*"}
                if transform
                else set()
            )
        )
        kinds = ("training-job", "processing-job", "hyper-parameter-tuning-job")
        found[f"{path}/PipelinePolicy"] = iam5(
            {f"{account}{k}/smplat-{stage}-*" for k in (*kinds, *(("model", "transform-job") if transform else ()))}
            | {f"{account}model-package/smplat-{stage}/*"}
            | {f"smplat-{stage}-ArtifactsBucketArn/pipelines/{entry}/evaluation/*"}
        )
    return found


def monitoring_wildcards(stage: str, arn_prefix: str) -> dict[str, set[str]]:
    """The drift check's roles: the endpoint's capture, its manifests and reports (dev: its ground truth;
    prod: the baselines the training pipelines publish), job names and log streams with the stage's
    prefix, network interfaces; the runbook writes manifests (prod: describes the registry's versions)."""
    dev = stage == "dev"
    endpoint, entry = ("smplat-dev-sample", "Sample") if dev else ("smplat-prod-fraud-scoring", "FraudScoring")
    bucket, logs = f"smplat-{stage}-ArtifactsBucketArn", arn_prefix.format(service="logs")
    manifests = f"{bucket}/monitoring/{endpoint}/manifests/*"
    return {
        f"Monitoring/Monitor{entry}/JobPolicy": iam5(
            {"*", NETWORK_INTERFACES, manifests, f"{bucket}/monitoring/{endpoint}/reports/*"}
            | {f"{bucket}/data-capture/{endpoint}/*"}
            | {
                f"{logs}log-group:/aws/sagemaker/ProcessingJobs:{s}"
                for s in ("*", f"log-stream:smplat-{stage}-monitor-*")
            }
            | ({f"{bucket}/ground-truth/sample/*"} if stage == "dev" else {f"{bucket}/pipelines/*/baseline/*"})
        ),
        f"Monitoring/Monitor{entry}/PipelinePolicy": iam5(
            {arn_prefix.format(service="sagemaker") + f"processing-job/smplat-{stage}-monitor-*"}
        ),
        f"Monitoring/Monitor{entry}/RunbookPolicy": iam5(
            {manifests, f"{bucket}/monitoring/{endpoint}/reports/*/metrics.jsonl", "*"}  # "*": PutMetricData
            | {arn_prefix.format(service="sagemaker") + f"pipeline/{endpoint}-monitor/execution/*"}
            | (set() if dev else {arn_prefix.format(service="sagemaker") + "model-package/smplat-prod/*"})
        ),
    }


def notebook_name(stage: str) -> str:
    return "smplat-dev-data-science" if stage == "dev" else "smplat-prod-fraud-team"


def inference_wildcards(endpoint: str, arn_prefix: str, *, registry: bool) -> set[str]:
    """The endpoint's own log group and capture prefix, network interfaces SageMaker creates in the
    platform's subnets; registered models when it serves the registry."""
    prefix = f"smplat-{endpoint.split('-')[1]}-ArtifactsBucketArn"
    group = arn_prefix.format(service="logs") + f"log-group:/aws/sagemaker/Endpoints/{endpoint}"
    return {
        "*",
        f"{group}:*",
        f"{group}:log-stream:*",
        f"{prefix}/data-capture/{endpoint}/*",
        NETWORK_INTERFACES,
        *([f"{prefix}/models/*"] if registry else []),
    }


def iam5(resources: set[str]) -> set[str]:
    return {f"AwsSolutions-IAM5[Resource::{r}]" for r in resources}


def acknowledgments(app: cdk.App, stage: str) -> dict[str, dict[str, str]]:
    """The project's acknowledgments (not the CDK's own template-validation ones) by construct path."""
    found: dict[str, dict[str, str]] = defaultdict(dict)
    for construct in app.node.find_all():
        path = construct.node.path
        if not path.startswith(f"{stage}/"):
            continue
        for entry in construct.node.metadata:
            if entry.type != cdk.Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                continue
            for rule, reason in entry.data.items():
                if not rule.startswith("CloudFormation-Validate::"):
                    found[path.removeprefix(f"{stage}/")][rule.removeprefix("Annotation::")] = reason
    return found


@pytest.mark.parametrize("stage", ["dev", "prod"])
def test_the_set_of_acknowledgments_is_pinned(
    app_and_stages: tuple[cdk.App, dict[str, SynthesizedStage]], stage: str
) -> None:
    found = acknowledgments(app_and_stages[0], stage)
    notebook = "Notebooks/NotebookDataScience/Policy" if stage == "dev" else "Notebooks/NotebookFraudTeam/Policy"
    endpoint = "Endpoints/EndpointSample" if stage == "dev" else "Endpoints/EndpointFraudScoring"
    endpoint_name = "smplat-dev-sample" if stage == "dev" else "smplat-prod-fraud-scoring"
    arn_prefix = ACCOUNT_ARN if stage == "dev" else "arn:aws:{service}:eu-west-1:123456789012:"
    expected = {
        **EXPECTED_ACKNOWLEDGMENTS,
        "Data/ExecutionRole/Policy": iam5(execution_role_wildcards(arn_prefix)),
        "Network/JobNetworkAccess/Policy": iam5({"*", NETWORK_INTERFACES}),
        # The publisher reads job and pipeline outputs and writes models/.
        "Data/ModelPublisher/Policy": iam5(
            {f"<ArtifactsBucket88671897.Arn>/{p}/*" for p in (*ARTIFACT_PREFIXES, "pipelines")}
        ),
        notebook: iam5(notebook_wildcards(stage, arn_prefix)),
        f"{endpoint}/InferenceRole/Policy": iam5(
            inference_wildcards(endpoint_name, arn_prefix, registry=stage == "prod")
        ),
        "Data/LatestApprovedModel/RunbookPolicy": iam5(
            {arn_prefix.format(service="sagemaker") + f"model-package/smplat-{stage}/*"}
        ),
        **(pipeline_wildcards(stage, ("sample",), {"sample": "raw/score/"}) if stage == "dev" else {}),
        **(LABELING_ACKNOWLEDGMENTS if stage == "dev" else {}),
        **monitoring_wildcards(stage, arn_prefix),
    }
    assert {path: set(rules) for path, rules in found.items()} == expected
    # 47 in dev and 48 in prod before issue 11 (25 and 26 of them AwsSolutions-IAM5).
    # Issue 12 added the sample pipeline's two policies and the publisher's access to dev (11 + 5 + 4 IAM5).
    # Issue 15's transform step of the dev sample: its input prefix, published models and transform job
    # streams for the job role (4 IAM5), model and transform job names for the pipeline role (2).
    pipelines = 11 + 5 + 4 + 6 if stage == "dev" else 0
    # The publisher's policy gained pipelines/ (one more IAM5) in issue 12.
    # Issue 14 added dev's labeling: the user pool's two Plus-plan findings and the labeling role's four IAM5.
    labeling = 2 + 4 if stage == "dev" else 0
    # Issue 15 added the drift check of each stage's endpoint: 8 + 1 + 1 IAM5 in dev, 8 + 1 + 2 in prod.
    monitoring = 10 if stage == "dev" else 11
    monitoring += 2  # the notebook's Deny of the drift checks names two patterns
    monitoring += 3  # the runbook follows the check and publishes its report's metrics
    total = 27 + 12 + 2 + 11 + 2 + 2 + (5 if stage == "dev" else 6) + 1 + pipelines + labeling + monitoring
    assert sum(len(r) for r in found.values()) == total
    assert found["Data/AccessLogs/Bucket"]["AwsSolutions-S1"] == NO_SELF_LOGGING
    for rules in found.values():
        for reason in rules.values():
            assert len(reason) > 40, reason  # a reason, not a placeholder


def test_an_unacknowledged_finding_fails_synth(tmp_path: Path) -> None:
    app = new_app(tmp_path)
    stack = cdk.Stack(app, "Careless")
    s3.Bucket(stack, "Plain")  # no KMS, no logging, no SSL-only policy
    add_compliance_checks(app)
    with pytest.raises(RuntimeError, match="ValidationFailed"):
        app.synth()
    report = (tmp_path / "validation-report.json").read_text()
    for rule in (
        "AwsSolutions-S1",
        "AwsSolutions-S10",
        "HIPAA.Security-S3DefaultEncryptionKMS",
        "PCI.DSS.321-S3BucketSSLRequestsOnly",
    ):
        assert rule in report


def test_synthesizing_twice_gives_identical_templates(
    app_and_stages: tuple[cdk.App, dict[str, SynthesizedStage]], tmp_path: Path
) -> None:
    first = Path(app_and_stages[0].outdir)
    app = new_app(tmp_path)
    for name in available_stages():
        compose(app, stage=name, config=load_stage(name))
    add_compliance_checks(app)
    app.synth()
    templates = sorted(p.relative_to(first) for p in first.rglob("*.template.json"))
    # data, network, notebooks, endpoints and monitoring (dev, prod), pipelines (dev, examples), labeling (dev)
    stacks = {"dev": 7, "examples": 3, "prod": 5}
    assert set(stacks) == set(available_stages()) and len(templates) == sum(stacks.values())
    _, mismatch, errors = filecmp.cmpfiles(first, tmp_path, [str(t) for t in templates], shallow=False)
    assert (mismatch, errors) == ([], [])
