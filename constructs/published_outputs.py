"""Publishes values for other teams: a CfnOutput with an export name plus an SSM parameter each."""

from __future__ import annotations

import re

from aws_cdk import CfnOutput
from aws_cdk import aws_ssm as ssm

from constructs import Construct


class PublishedOutputs(Construct):
    """Outputs are a contract: stable IDs, a description, an export, and /<project>/<stage>/<name>."""

    def __init__(self, scope: Construct, id: str, *, project: str, stage: str) -> None:
        super().__init__(scope, id)
        self.export_prefix = f"{project}-{stage}"
        self.parameter_prefix = f"/{project}/{stage}"

    def publish(self, output_id: str, *, value: str, description: str) -> CfnOutput:
        """Publish `value` as output `output_id` (PascalCase) and SSM parameter <prefix>/<kebab-id>."""
        parameter_name = f"{self.parameter_prefix}/{_kebab(output_id)}"
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
            self.node.scope,  # type: ignore[arg-type]
            output_id,
            value=value,
            description=f"{description} (SSM: {parameter_name})",
            export_name=f"{self.export_prefix}-{output_id}",
        )


def _kebab(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()
