"""What surrounds an SSM Automation runbook that an EventBridge rule starts (the platform's way to run a
few AWS calls on an event or a schedule without a Lambda function): the runbook's own role, the rule's
role, which may start only that runbook and pass only that role, and the rule's dead-letter queue."""

from __future__ import annotations

from aws_cdk import ArnFormat, Duration, Stack
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_ssm as ssm

from constructs import Construct
from constructs.acknowledge import acknowledge


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


def rule_dead_letters(scope: Construct, *, queue_name: str, rule_name: str, key: kms.IKey, rule: str) -> sqs.Queue:
    """`DeadLetters`: the queue (named, so that the key policy can name it without a reference cycle) where
    rule `rule_name` (`rule`: what it is, for the acknowledgment) puts the events it could not deliver,
    encrypted with `key`; only that rule may send to it, and `key`'s policy lets EventBridge use it for this
    queue only (pass a key whose policy this stack owns)."""
    stack = Stack.of(scope)
    rule_arn = stack.format_arn(service="events", resource="rule", resource_name=rule_name)
    queue_arn = stack.format_arn(service="sqs", resource=queue_name, arn_format=ArnFormat.NO_RESOURCE_NAME)
    queue = sqs.Queue(
        scope,
        "DeadLetters",
        queue_name=queue_name,
        encryption=sqs.QueueEncryption.KMS,
        encryption_master_key=key,
        enforce_ssl=True,
        retention_period=Duration.days(14),
    )
    # EventBridge sends dead letters as its service principal (not as the target's role).
    queue.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AcceptThisRulesDeadLetters",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["sqs:SendMessage"],
            resources=[queue.queue_arn],
            conditions={"ArnEquals": {"aws:SourceArn": rule_arn}},
        )
    )
    # SQS encrypts each message with the queue's key on behalf of the sender, which must be
    # allowed to use the key; SQS binds every data key to the queue's ARN (encryption context).
    key.add_to_resource_policy(
        iam.PolicyStatement(
            sid="AllowEventBridgeDeadLetters",
            principals=[iam.ServicePrincipal("events.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey"],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account, "kms:EncryptionContext:aws:sqs:arn": queue_arn}
            },
        )
    )
    acknowledge(
        queue,
        {
            "AwsSolutions-SQS3": f"this queue is itself a dead-letter queue: of {rule}'s EventBridge target, "
            "which cdk-nag cannot see because it only recognizes SQS redrive policies",
        },
    )
    return queue
