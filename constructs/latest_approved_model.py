"""Keeps an SSM parameter naming the registry's most recently approved model package, so that an
endpoint can serve "latest approved" resolved by CloudFormation at deploy time, never at synth.

SageMaker emits an EventBridge event whenever a package's approval changes; a rule passes
approvals of this group to an SSM Automation runbook that checks the package and then calls
PutParameter. No Lambda function: nothing to patch, nothing that needs a container to test. The
parameter is written only by the runbook (not by CloudFormation), so a deploy never resets it."""

from __future__ import annotations

from aws_cdk import Duration, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_ssm as ssm

from constructs import Construct
from constructs.acknowledge import acknowledge_wildcard_resources
from constructs.runbook_roles import rule_dead_letters, runbook_arn, runbook_role, trigger_role

# EventBridge retries a failed StartAutomationExecution (throttling, SSM unavailable) with
# exponential backoff, then hands the event to the dead-letter queue. A runbook that starts and
# then fails (a package that is not approved) is not a delivery failure: it shows in the
# Automation execution history.
RETRY_ATTEMPTS = 10
MAX_EVENT_AGE = Duration.hours(4)


class LatestApprovedModel(Construct):
    """Keeps an SSM parameter naming the registry's most recently approved model package: an
    EventBridge rule on SageMaker's approval events starts an SSM Automation runbook (no Lambda)
    that accepts only version ARNs of the group, describes the package, refuses it unless it is
    `Approved`, and then calls PutParameter. CloudFormation never writes the parameter, so a deploy
    cannot reset it. Events the rule cannot deliver are retried, then kept in an encrypted
    dead-letter queue that only this rule may send to.

    Props:
        group_name: the model package group whose approvals count (lowercase, as in its ARNs).
        parameter_name: the SSM parameter the runbook writes (e.g. `/smplat/prod/latest-approved-model-package`).
        rule_name: the rule's name; named, because the trigger role's trust policy must name the rule
            that the rule's own target refers to (a reference would be circular).
        dead_letter_queue_name: the dead-letter queue's name; named for the same reason (the key
            policy names the queue that the key encrypts).
        key: the platform key (its own stack's); encrypts the dead-letter queue, and its policy
            gains a statement that lets EventBridge use it for that queue only.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        group_name: str,
        parameter_name: str,
        rule_name: str,
        dead_letter_queue_name: str,
        key: kms.Key,
    ) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.parameter_name = parameter_name
        parameter_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=parameter_name.removeprefix("/")
        )
        versions_of_group = stack.format_arn(
            service="sagemaker", resource="model-package", resource_name=f"{group_name}/*"
        )

        self.runbook_role = runbook_role(
            self, description=f"Writes {parameter_name} when a package of {group_name} is approved"
        )
        runbook_policy = iam.ManagedPolicy(
            self,
            "RunbookPolicy",
            roles=[self.runbook_role],
            statements=[
                iam.PolicyStatement(
                    sid="PublishApprovedPackage", actions=["ssm:PutParameter"], resources=[parameter_arn]
                ),
                iam.PolicyStatement(
                    sid="DescribeOwnPackages", actions=["sagemaker:DescribeModelPackage"], resources=[versions_of_group]
                ),
            ],
        )
        acknowledge_wildcard_resources(
            runbook_policy,
            "the runbook describes whichever version of its own model package group was approved; "
            "versions are numbered by SageMaker as they are registered",
        )
        package = {"Service": "sagemaker", "Api": "DescribeModelPackage", "ModelPackageName": "{{ ModelPackageArn }}"}
        self.runbook = ssm.CfnDocument(
            self,
            "Runbook",
            document_type="Automation",
            document_format="JSON",
            content={
                "schemaVersion": "0.3",
                "description": f"Publish the ARN of the latest approved package of {group_name} to {parameter_name}",
                "assumeRole": "{{ AutomationAssumeRole }}",
                "parameters": {
                    # SSM refuses a value outside the pattern before any step runs: version ARNs of
                    # this group, in this account and region, and nothing else.
                    "ModelPackageArn": {
                        "type": "String",
                        "allowedPattern": f"^arn:{stack.partition}:sagemaker:{stack.region}:{stack.account}:"
                        f"model-package/{group_name}/[0-9]+$",
                    },
                    "AutomationAssumeRole": {"type": "String", "default": self.runbook_role.role_arn},
                },
                "mainSteps": [
                    {
                        "name": "DescribePackage",
                        "action": "aws:executeAwsApi",
                        "inputs": package,
                        "outputs": [
                            {"Name": "ApprovalStatus", "Selector": "$.ModelApprovalStatus", "Type": "String"},
                            {"Name": "GroupName", "Selector": "$.ModelPackageGroupName", "Type": "String"},
                        ],
                    },
                    # The event may be stale (approved, then rejected before the runbook runs) or
                    # not come from SageMaker at all (anyone allowed to start the runbook): ask
                    # SageMaker. A failed assertion aborts the execution; the parameter stays as it was.
                    {
                        "name": "RefuseUnapprovedPackage",
                        "action": "aws:assertAwsResourceProperty",
                        "inputs": package
                        | {"PropertySelector": "$.ModelApprovalStatus", "DesiredValues": ["Approved"]},
                    },
                    {
                        "name": "PublishApprovedPackage",
                        "action": "aws:executeAwsApi",
                        "inputs": {
                            "Service": "ssm",
                            "Api": "PutParameter",
                            "Name": parameter_name,
                            "Value": "{{ ModelPackageArn }}",
                            "Type": "String",
                            "Overwrite": True,
                        },
                    },
                ],
            },
        )
        self.trigger_role = trigger_role(
            self,
            rule_name=rule_name,
            runbook=self.runbook,
            role=self.runbook_role,
            description=f"Starts the runbook that publishes approved packages of {group_name}",
        )

        self.dead_letters = rule_dead_letters(
            self, queue_name=dead_letter_queue_name, rule_name=rule_name, key=key, rule="the approval rule"
        )

        self.rule = events.CfnRule(
            self,
            "OnApproval",
            name=rule_name,
            description=f"A model package of {group_name} was approved",
            event_pattern={
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {"ModelPackageGroupName": [group_name], "ModelApprovalStatus": ["Approved"]},
            },
            targets=[
                events.CfnRule.TargetProperty(
                    id="PublishApprovedPackage",
                    arn=runbook_arn(self.runbook),
                    role_arn=self.trigger_role.role_arn,
                    input_transformer=events.CfnRule.InputTransformerProperty(
                        input_paths_map={"package": "$.detail.ModelPackageArn"},
                        input_template='{"ModelPackageArn": [<package>]}',
                    ),
                    retry_policy=events.CfnRule.RetryPolicyProperty(
                        maximum_retry_attempts=RETRY_ATTEMPTS,
                        maximum_event_age_in_seconds=int(MAX_EVENT_AGE.to_seconds()),
                    ),
                    dead_letter_config=events.CfnRule.DeadLetterConfigProperty(arn=self.dead_letters.queue_arn),
                )
            ],
        )
