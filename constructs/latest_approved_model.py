"""Keeps an SSM parameter naming the registry's most recently approved model package, so that an
endpoint can serve "latest approved" resolved by CloudFormation at deploy time, never at synth.

SageMaker emits an EventBridge event whenever a package's approval changes; a rule passes
approvals of this group to an SSM Automation runbook whose one step is PutParameter. No Lambda
function: nothing to patch, nothing that needs a container to test. The parameter is written
only by the runbook (not by CloudFormation), so a deploy never resets it."""

from __future__ import annotations

from aws_cdk import Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_iam as iam
from aws_cdk import aws_ssm as ssm

from constructs import Construct
from constructs.service_role import service_role


class LatestApprovedModel(Construct):
    """Keeps an SSM parameter naming the registry's most recently approved model package: an
    EventBridge rule on SageMaker's approval events starts an SSM Automation runbook whose one step
    is PutParameter (no Lambda). CloudFormation never writes the parameter, so a deploy cannot reset it.

    Props:
        group_name: the model package group whose approvals count.
        parameter_name: the SSM parameter the runbook writes (e.g. `/smplat/prod/latest-approved-model-package`).
    """

    def __init__(self, scope: Construct, id: str, *, group_name: str, parameter_name: str) -> None:
        super().__init__(scope, id)
        stack = Stack.of(self)
        self.parameter_name = parameter_name
        parameter_arn = stack.format_arn(
            service="ssm", resource="parameter", resource_name=parameter_name.removeprefix("/")
        )
        self.runbook_role = service_role(
            self,
            "RunbookRole",
            service="ssm.amazonaws.com",
            description=f"Writes {parameter_name} when a package of {group_name} is approved",
        )
        iam.ManagedPolicy(
            self,
            "RunbookPolicy",
            roles=[self.runbook_role],
            statements=[
                iam.PolicyStatement(
                    sid="PublishApprovedPackage", actions=["ssm:PutParameter"], resources=[parameter_arn]
                )
            ],
        )
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
                    "ModelPackageArn": {"type": "String", "allowedPattern": r"^arn:aws[a-z-]*:sagemaker:.*$"},
                    "AutomationAssumeRole": {"type": "String", "default": self.runbook_role.role_arn},
                },
                "mainSteps": [
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
                    }
                ],
            },
        )
        runbook_arn = stack.format_arn(
            service="ssm", resource="automation-definition", resource_name=f"{self.runbook.ref}:$DEFAULT"
        )
        self.trigger_role = service_role(
            self,
            "TriggerRole",
            service="events.amazonaws.com",
            description=f"Starts the runbook that publishes approved packages of {group_name}",
        )
        iam.ManagedPolicy(
            self,
            "TriggerPolicy",
            roles=[self.trigger_role],
            statements=[
                iam.PolicyStatement(
                    sid="StartRunbook", actions=["ssm:StartAutomationExecution"], resources=[runbook_arn]
                ),
                iam.PolicyStatement(
                    sid="PassRunbookRole", actions=["iam:PassRole"], resources=[self.runbook_role.role_arn]
                ),
            ],
        )
        self.rule = events.CfnRule(
            self,
            "OnApproval",
            description=f"A model package of {group_name} was approved",
            event_pattern={
                "source": ["aws.sagemaker"],
                "detail-type": ["SageMaker Model Package State Change"],
                "detail": {"ModelPackageGroupName": [group_name], "ModelApprovalStatus": ["Approved"]},
            },
            targets=[
                events.CfnRule.TargetProperty(
                    id="PublishApprovedPackage",
                    arn=runbook_arn,
                    role_arn=self.trigger_role.role_arn,
                    input_transformer=events.CfnRule.InputTransformerProperty(
                        input_paths_map={"package": "$.detail.ModelPackageArn"},
                        input_template='{"ModelPackageArn": [<package>]}',
                    ),
                )
            ],
        )
