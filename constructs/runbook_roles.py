"""The roles around an SSM Automation runbook that an EventBridge rule starts (the platform's way to run
a few AWS calls on an event or a schedule without a Lambda function): the runbook's own role, and the
rule's role, which may start only that runbook and pass only that role."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm

from constructs import Construct


def runbook_role(scope: Construct, *, description: str) -> iam.Role:
    """`RunbookRole`: assumed by SSM Automation for an execution of this account's runbooks. Execution IDs
    are generated, so the executions' ARN is the narrowest source SSM documents."""
    stack = Stack.of(scope)
    return iam.Role(
        scope,
        "RunbookRole",
        assumed_by=iam.ServicePrincipal(
            "ssm.amazonaws.com",
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(service="ssm", resource="automation-execution", resource_name="*")
                },
            },
        ),
        description=description,
    )


def runbook_arn(runbook: ssm.CfnDocument) -> str:
    """What a rule's target names: the runbook's default version."""
    return Stack.of(runbook).format_arn(
        service="ssm", resource="automation-definition", resource_name=f"{runbook.ref}:$DEFAULT"
    )


def trigger_role(
    scope: Construct, *, rule_name: str, runbook: ssm.CfnDocument, role: iam.IRole, description: str
) -> iam.Role:
    """`TriggerRole` and `TriggerPolicy`: the role rule `rule_name` starts the runbook as. EventBridge names
    the rule as the source when it assumes a target's role, so the rule is named (a reference would be
    circular: the rule's target names this role)."""
    stack = Stack.of(scope)
    rule_arn = stack.format_arn(service="events", resource="rule", resource_name=rule_name)
    trigger = iam.Role(
        scope,
        "TriggerRole",
        assumed_by=iam.ServicePrincipal(
            "events.amazonaws.com",
            conditions={"StringEquals": {"aws:SourceAccount": stack.account, "aws:SourceArn": rule_arn}},
        ),
        description=description,
    )
    iam.ManagedPolicy(
        scope,
        "TriggerPolicy",
        roles=[trigger],
        statements=[
            iam.PolicyStatement(
                sid="StartRunbook", actions=["ssm:StartAutomationExecution"], resources=[runbook_arn(runbook)]
            ),
            iam.PolicyStatement(
                sid="PassRunbookRole",
                actions=["iam:PassRole"],
                resources=[role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "ssm.amazonaws.com"}},
            ),
        ],
    )
    return trigger
