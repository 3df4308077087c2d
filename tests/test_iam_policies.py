"""What the platform's IAM policies allow, checked on every synthesized template: jobs only inside
the platform, SageMaker's log groups declared (and never created by a role), the key only through
AWS services, network interfaces only in the platform's subnets, metrics and logs per role, service
trusts scoped by source; and every policy document linted offline by parliament."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from parliament import analyze_policy_string

from tests.conftest import SynthesizedStage
from tests.policies import Renderer, policy_documents

IDENTITY_POLICIES = ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(stage: SynthesizedStage) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(stack role, logical ID of the policy, statement) of every identity policy of the stage."""
    for role, template in stage.templates.items():
        for logical_id, resource in template["Resources"].items():
            properties = resource.get("Properties", {})
            documents = [properties["PolicyDocument"]] if resource["Type"] in IDENTITY_POLICIES else []
            if resource["Type"] == "AWS::IAM::Role":
                documents += [p["PolicyDocument"] for p in properties.get("Policies", [])]
            for document in documents:
                for statement in document["Statement"]:
                    yield role, logical_id, statement


def granting(stage: SynthesizedStage, *actions: str) -> list[tuple[str, str, dict[str, Any]]]:
    """Allow statements whose actions include any of `actions` (directly or through a wildcard)."""
    import fnmatch

    return [
        (role, logical_id, s)
        for role, logical_id, s in statements(stage)
        if s["Effect"] == "Allow"
        and any(fnmatch.fnmatch(a.lower(), g.lower()) for g in _listed(s["Action"]) for a in actions)
    ]


def imported(stage: SynthesizedStage, output_id: str) -> dict[str, str]:
    return {"Fn::ImportValue": f"smplat-{stage.name}-{output_id}"}


def subnet_ids(stage: SynthesizedStage) -> list[dict[str, Any]]:
    count = 2 if stage.name == "dev" else 3
    split = {"Fn::Split": [",", imported(stage, "PrivateSubnetIds")]}
    return [{"Fn::Select": [i, split]} for i in range(count)]


def arn(service: str, rest: str, stage: SynthesizedStage, *, pseudo: bool = False) -> Any:
    """An ARN of this account and region as the stage renders it: `Stack.format_arn` writes prod's
    fixed environment literally, `Aws.*` (`pseudo`) stays a reference in every stage."""
    if stage.name == "prod" and not pseudo:
        return f"arn:aws:{service}:eu-west-1:123456789012:{rest}"
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                f":{service}:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                f":{rest}",
            ],
        ]
    }


# --- item 1: jobs only inside the platform -----------------------------------------------------

CREATE_JOB_ACTIONS = (
    "sagemaker:CreateTrainingJob",
    "sagemaker:CreateHyperParameterTuningJob",
    "sagemaker:CreateProcessingJob",
    "sagemaker:CreateTransformJob",
    "sagemaker:CreateAutoMLJob",
    "sagemaker:CreateAutoMLJobV2",
    "sagemaker:CreateCompilationJob",
    "sagemaker:CreateLabelingJob",
)


def test_every_job_creation_is_confined_to_the_platforms_subnets_group_and_key(each_stage: SynthesizedStage) -> None:
    grants = granting(each_stage, *CREATE_JOB_ACTIONS)
    inside = {
        "ForAllValues:StringEquals": {
            "sagemaker:VpcSubnets": subnet_ids(each_stage),
            "sagemaker:VpcSecurityGroupIds": [imported(each_stage, "JobSecurityGroupId")],
        },
        # ForAllValues alone matches a request without VpcConfig: the keys must be present.
        "Null": {"sagemaker:VpcSubnets": "false", "sagemaker:VpcSecurityGroupIds": "false"},
        "ArnEquals": {
            "sagemaker:VolumeKmsKey": imported(each_stage, "KeyArn"),
            "sagemaker:OutputKmsKey": imported(each_stage, "KeyArn"),
        },
    }
    for role, _, statement in grants:
        assert role in ("notebooks", "pipelines", "monitoring")
        actions = set(_listed(statement["Action"])) & set(CREATE_JOB_ACTIONS)
        assert "Condition" in statement, f"{statement.get('Sid')} creates {sorted(actions)} without conditions"
        if role == "monitoring":  # a drift check reads only what SageMaker hands it
            assert actions == {"sagemaker:CreateProcessingJob"}
            assert statement["Condition"] == {**inside, "Bool": {"sagemaker:NetworkIsolation": "true"}}
        elif role == "pipelines" and actions == {"sagemaker:CreateTransformJob"}:
            # A transform job has no VPC of its own (its model has): the key, and only the stage's models.
            model = arn("sagemaker", "model/smplat-dev-*", each_stage)
            assert statement["Condition"] == {
                "ArnEquals": inside["ArnEquals"],
                "ArnLike": {"sagemaker:ModelArn": model},
            }
        elif role == "pipelines":  # every job of a pipeline is isolated, with encrypted traffic between instances
            assert actions == {
                "sagemaker:CreateTrainingJob",
                "sagemaker:CreateHyperParameterTuningJob",
                "sagemaker:CreateProcessingJob",
            }
            isolated = {"sagemaker:NetworkIsolation": "true", "sagemaker:InterContainerTrafficEncryption": "true"}
            assert statement["Condition"] == {**inside, "Bool": isolated}
        elif actions & {"sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob"}:
            assert actions == {"sagemaker:CreateTrainingJob", "sagemaker:CreateHyperParameterTuningJob"}
            assert statement["Condition"] == {**inside, "Bool": {"sagemaker:NetworkIsolation": "true"}}
        else:
            assert actions == {"sagemaker:CreateProcessingJob"}
            assert statement["Condition"] == inside
    # The notebooks' two statements (training+tuning, processing), and one of each training pipeline.
    expected = [
        ("monitoring", "sagemaker:CreateProcessingJob"),
        ("notebooks", "sagemaker:CreateHyperParameterTuningJob"),
        ("notebooks", "sagemaker:CreateProcessingJob"),
    ]
    if each_stage.config.pipelines:
        expected += [("pipelines", "sagemaker:CreateHyperParameterTuningJob")]
        # The dev sample ends with a transform step.
        expected += [("pipelines", "sagemaker:CreateTransformJob")]
    assert sorted((role, _listed(s["Action"])[0]) for role, _, s in grants) == expected


# --- item 6: SageMaker's log groups declared, never created by a role ---------------------------


def test_no_role_may_create_a_log_group(each_stage: SynthesizedStage) -> None:
    assert granting(each_stage, "logs:CreateLogGroup") == []


def test_account_wide_sagemaker_log_groups_are_encrypted_and_expire(each_stage: SynthesizedStage) -> None:
    groups = each_stage.resources("data", "AWS::Logs::LogGroup")
    retention = {"dev": 30, "prod": 365}[each_stage.name]
    deletion = {"dev": "Delete", "prod": "Retain"}[each_stage.name]
    assert {
        g["Properties"]["LogGroupName"]: (
            g["Properties"]["KmsKeyId"],
            g["Properties"]["RetentionInDays"],
            g["DeletionPolicy"],
        )
        for g in groups.values()
    } == {
        f"/aws/sagemaker/{kind}": ({"Fn::GetAtt": ["PlatformKey1C4A1A63", "Arn"]}, retention, deletion)
        for kind in ("TrainingJobs", "ProcessingJobs", "TransformJobs", "NotebookInstances")
    }
    # Logical IDs are pinned: a new one would replace a group whose name is fixed, and fail.
    assert sorted(groups) == [
        "SageMakerLogGroupsNotebookInstancesEC108622",
        "SageMakerLogGroupsProcessingJobs6CFDDAEE",
        "SageMakerLogGroupsTrainingJobs441C9DC7",
        "SageMakerLogGroupsTransformJobsCC5559CC",
    ]


def test_each_endpoint_declares_its_log_group_before_it_starts(each_stage: SynthesizedStage) -> None:
    template = each_stage.templates["endpoints"]
    name = {"dev": "smplat-dev-sample", "prod": "smplat-prod-fraud-scoring"}[each_stage.name]
    groups = each_stage.resources("endpoints", "AWS::Logs::LogGroup")
    assert len(groups) == 1
    ((group_id, group),) = groups.items()
    assert {k: v for k, v in group["Properties"].items() if k != "Tags"} == {
        "LogGroupName": f"/aws/sagemaker/Endpoints/{name}",
        "KmsKeyId": imported(each_stage, "KeyArn"),
        "RetentionInDays": {"dev": 30, "prod": 365}[each_stage.name],
    }
    assert group["DeletionPolicy"] == "Delete"  # the stack is safe to destroy and redeploy
    (endpoint,) = (r for r in template["Resources"].values() if r["Type"] == "AWS::SageMaker::Endpoint")
    assert group_id in endpoint["DependsOn"]


# --- item 8: key, network interfaces, metrics, logs, trusts ------------------------------------


def test_the_key_is_used_only_through_aws_services(each_stage: SynthesizedStage) -> None:
    grants = granting(each_stage, "kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:CreateGrant")
    assert grants
    for _, logical_id, statement in grants:
        via = statement["Condition"]["StringEquals"]["kms:ViaService"]
        if "kms:CreateGrant" in _listed(statement["Action"]):
            assert _listed(statement["Action"]) == ["kms:CreateGrant"], logical_id
            assert statement["Condition"]["Bool"] == {"kms:GrantIsForAWSResource": "true"}, logical_id
            services = ["sagemaker", "ec2"]
        elif _listed(statement["Action"]) in (["kms:Decrypt"], ["kms:GenerateDataKey"]):
            # A training pipeline's role reads its evaluation reports; a monitoring runbook writes manifests.
            services = ["s3"]
        else:
            services = ["s3", "sagemaker"]
        assert via == [{"Fn::Join": ["", [f"{s}.", {"Ref": "AWS::Region"}, ".amazonaws.com"]]} for s in services]


def test_network_interfaces_only_in_the_platforms_subnets(each_stage: SynthesizedStage) -> None:
    grants = granting(
        each_stage,
        "ec2:CreateNetworkInterface",
        "ec2:CreateNetworkInterfacePermission",
        "ec2:DeleteNetworkInterface",
        "ec2:DeleteNetworkInterfacePermission",
    )
    # The execution role's (beside the VPC, in the network stack) and the endpoint's inference role.
    endpoint_policy = {
        "dev": "EndpointSampleInferenceRolePolicyCD0EC367",
        "prod": "EndpointFraudScoringInferenceRolePolicy4791F9D9",
    }[each_stage.name]
    pipelines = [
        ("pipelines", "PipelineSampleRolesJobPolicy592A128A"),
        ("pipelines", "PublisherJobAccessPolicy1CFD7085"),
    ]
    monitor_policy = {
        "dev": "MonitorSampleJobPolicy2CB113BD",
        "prod": "MonitorFraudScoringJobPolicy0F1972E8",
    }[each_stage.name]
    assert sorted({(role, logical_id) for role, logical_id, _ in grants}) == [
        ("endpoints", endpoint_policy),
        ("monitoring", monitor_policy),
        ("network", "JobNetworkAccessPolicyDF481396"),
        *(pipelines if each_stage.config.pipelines else []),
    ]
    for _, _, statement in grants:
        text = json.dumps(statement["Resource"])
        assert ":subnet/*" not in text and ":security-group/*" not in text
        if statement["Action"] == "ec2:CreateNetworkInterface":
            assert sum(":subnet/" in json.dumps(r) for r in statement["Resource"]) == (
                2 if each_stage.name == "dev" else 3
            )
            assert sum(":security-group/" in json.dumps(r) for r in statement["Resource"]) == 1
        else:
            assert statement["Resource"] == arn("ec2", "network-interface/*", each_stage, pseudo=True)
            assert list(statement["Condition"]) == ["ArnEquals"]
            assert len(statement["Condition"]["ArnEquals"]["ec2:Subnet"]) == (2 if each_stage.name == "dev" else 3)


def test_jobs_and_endpoints_publish_only_their_own_metrics(each_stage: SynthesizedStage) -> None:
    namespaces = {
        role: statement["Condition"]["StringEquals"]["cloudwatch:namespace"]
        for role, _, statement in granting(each_stage, "cloudwatch:PutMetricData")
    }
    assert namespaces == {
        "data": ["/aws/sagemaker/TrainingJobs", "/aws/sagemaker/ProcessingJobs", "/aws/sagemaker/TransformJobs"],
        "endpoints": ["/aws/sagemaker/Endpoints"],
        "monitoring": ["smplat/Monitoring"],  # the drift checks' runbooks, from the checks' reports
    } | (
        {  # the dev sample's transform step: transform jobs too
            "pipelines": [
                "/aws/sagemaker/TrainingJobs",
                "/aws/sagemaker/ProcessingJobs",
                "/aws/sagemaker/TransformJobs",
            ]
        }
        if each_stage.config.pipelines
        else {}
    )


def test_roles_write_only_their_own_log_groups(each_stage: SynthesizedStage) -> None:
    writes = {
        role if role != "pipelines" else f"pipelines {logical_id}": statement["Resource"]
        for role, logical_id, statement in granting(each_stage, "logs:PutLogEvents")
        if not logical_id.startswith("NetworkFlowLog")  # the flow log role writes the flow log group
    }
    endpoint = {"dev": "smplat-dev-sample", "prod": "smplat-prod-fraud-scoring"}[each_stage.name]
    notebook = {"dev": "smplat-dev-data-science", "prod": "smplat-prod-fraud-team"}[each_stage.name]
    assert writes == {
        "data": [
            arn("logs", f"log-group:/aws/sagemaker/{kind}:log-stream:*", each_stage)
            for kind in ("ProcessingJobs", "TrainingJobs", "TransformJobs")  # CDK sorts the resources
        ],
        "endpoints": arn("logs", f"log-group:/aws/sagemaker/Endpoints/{endpoint}:log-stream:*", each_stage),
        "notebooks": arn("logs", f"log-group:/aws/sagemaker/NotebookInstances:log-stream:{notebook}/*", each_stage),
        # The drift checks: only streams of the stage's jobs (named after them).
        "monitoring": arn(
            "logs", f"log-group:/aws/sagemaker/ProcessingJobs:log-stream:smplat-{each_stage.name}-monitor-*", each_stage
        ),
        # The network stack's deploy-time functions (S3 prefix-list lookup, closing the default group).
        "network": {"Fn::GetAtt": ["NetworkCustomResourceLogGroupAE9569BB", "Arn"]},
    } | (
        {  # the pipelines' jobs, and the model publisher running the publish step
            # only streams of the stage's jobs (named after them)
            "pipelines PipelineSampleRolesJobPolicy592A128A": [
                arn("logs", f"log-group:/aws/sagemaker/{kind}:log-stream:smplat-dev-*", each_stage)
                for kind in ("ProcessingJobs", "TrainingJobs", "TransformJobs")  # transform: the dev sample's
            ],
            "pipelines PublisherJobAccessPolicy1CFD7085": arn(
                "logs", "log-group:/aws/sagemaker/ProcessingJobs:log-stream:smplat-dev-*", each_stage
            ),
        }
        if each_stage.config.pipelines
        else {}
    ) | (
        {  # only streams of the stage's labeling jobs (named after them)
            "labeling": arn("logs", "log-group:/aws/sagemaker/LabelingJobs:log-stream:smplat-dev-*", each_stage)
        }
        if each_stage.config.labeling
        else {}
    )


def test_sagemaker_trusts_name_the_source_where_sagemaker_sets_it(each_stage: SynthesizedStage) -> None:
    trusts: dict[str, list[Any]] = {}
    for role in ("data", "endpoints", "notebooks", "labeling"):
        if role not in each_stage.templates:
            continue  # labeling: only in dev
        for resource in each_stage.resources(role, "AWS::IAM::Role").values():
            for statement in resource["Properties"]["AssumeRolePolicyDocument"]["Statement"]:
                if statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}:
                    trusts.setdefault(role, []).append(statement["Condition"])
    account = {"StringEquals": {"aws:SourceAccount": {"Ref": "AWS::AccountId"}}}
    any_sagemaker_resource = {"ArnLike": {"aws:SourceArn": arn("sagemaker", "*", each_stage, pseudo=True)}}
    assert trusts == {
        "data": [{**account, **any_sagemaker_resource}] * 2,  # the execution role and the model publisher
        "endpoints": [{**account, **any_sagemaker_resource}],
        # SageMaker does not document aws:SourceArn for notebook instances: ArnLike on a missing key
        # would refuse the instance its credentials.
        "notebooks": [account],
    } | (
        # Ground Truth's labeling jobs of the stage (the launcher names them `<project>-<stage>-...`).
        {
            "labeling": [
                {
                    **account,
                    "ArnLike": {
                        "aws:SourceArn": arn("sagemaker", "labeling-job/smplat-dev-*", each_stage, pseudo=True)
                    },
                }
            ]
        }
        if each_stage.config.labeling
        else {}
    )


# --- policies linted offline -------------------------------------------------------------------

# Findings parliament reports on documents it reads as identity policies, each justified.
ALLOWED_FINDINGS = {
    # A trust policy names no resource: the role it belongs to is the resource.
    ("AWS::IAM::Role", "MALFORMED", "Statement contains neither Resource nor NotResource"),
    # In a key policy "*" means this key and no other.
    ("AWS::KMS::Key", "RESOURCE_STAR", None),
    # S3 compares the SSE key-id header as a string, and the value it must equal is the key's ARN.
    (
        "AWS::S3::BucketPolicy",
        "MISMATCHED_TYPE_BUT_USABLE",
        "Type mismatch: StringNotEquals requires a value of type String but given Arn",
    ),
}


def lint_findings(renderer: Renderer, stack: str) -> list[tuple[str, str, str, str]]:
    found = []
    for logical_id, type_name, document in policy_documents(renderer, stack):
        for finding in analyze_policy_string(json.dumps(document)).findings:
            detail = str(finding.detail)
            if {(type_name, finding.issue, detail), (type_name, finding.issue, None)} & ALLOWED_FINDINGS:
                continue
            found.append((logical_id, type_name, finding.issue, detail))
    return found


@pytest.mark.parametrize("role", ["data", "network", "notebooks", "endpoints"])
def test_every_policy_document_passes_parliament(each_stage: SynthesizedStage, role: str) -> None:
    assert lint_findings(Renderer(each_stage.templates), role) == []


def test_the_linter_catches_malformed_arns_and_mismatched_resources() -> None:
    bad = {
        "Resources": {
            "Bucket": {"Type": "AWS::S3::Bucket"},
            "Policy": {
                "Type": "AWS::IAM::ManagedPolicy",
                "Properties": {
                    "PolicyDocument": {
                        "Version": "2012-10-17",
                        "Statement": [
                            # Objects are `<bucket ARN>/<key>`: GetObject on the bucket itself matches nothing.
                            {
                                "Effect": "Allow",
                                "Action": "s3:GetObject",
                                "Resource": {"Fn::GetAtt": ["Bucket", "Arn"]},
                            },
                            {"Effect": "Allow", "Action": "logs:PutLogEvents", "Resource": "arn:aws:logs:eu-west-1"},
                        ],
                    }
                },
            },
        }
    }
    findings = lint_findings(Renderer({"bad": bad}), "bad")
    assert [issue for _, _, issue, _ in findings] == ["RESOURCE_MISMATCH", "INVALID_ARN"]
