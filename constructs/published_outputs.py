"""Publishes values for other teams: a CfnOutput with an export name plus an SSM parameter each."""

from __future__ import annotations

from aws_cdk import CfnOutput
from aws_cdk import aws_ssm as ssm

from constructs import Construct
from naming import StageNames


class PublishedOutputs(Construct):
    """Outputs are a contract: each has a stable ID, a description, the export `<project>-<stage>-<Id>`
    and the SSM parameter `/<project>/<stage>/<id-in-kebab-case>` with the same value.

    Props:
        names: the stage's names (export and parameter names come from it).
    """

    def __init__(self, scope: Construct, id: str, *, names: StageNames) -> None:
        super().__init__(scope, id)
        self.names = names
        self._stack = scope  # outputs go directly into the stack (see publish)

    def publish(self, output_id: str, *, value: str, description: str) -> CfnOutput:
        """Publish `value` as output `output_id` (PascalCase, unique in the stack) and its SSM parameter."""
        parameter_name = self.names.parameter(output_id)
        ssm.StringParameter(
            self,
            f"{output_id}Parameter",
            parameter_name=parameter_name,
            string_value=value,
            description=description,
        )
        # CfnOutput's logical ID is the construct ID when it sits directly in the stack, which
        # keeps `aws cloudformation describe-stacks` output keys equal to output_id.
        return CfnOutput(
            self._stack,
            output_id,
            value=value,
            description=f"{description} (SSM: {parameter_name})",
            export_name=self.names.export(output_id),
        )
