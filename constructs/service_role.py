"""IAM roles that an AWS service assumes for this account only."""

from __future__ import annotations

from aws_cdk import Aws
from aws_cdk import aws_iam as iam

from constructs import Construct


def service_role(scope: Construct, id: str, *, service: str, description: str) -> iam.Role:
    """A role `service` (e.g. sagemaker.amazonaws.com) may assume only on behalf of this account:
    `aws:SourceAccount` keeps another account's resources from using the service to act as it."""
    return iam.Role(
        scope,
        id,
        assumed_by=iam.ServicePrincipal(service, conditions={"StringEquals": {"aws:SourceAccount": Aws.ACCOUNT_ID}}),
        description=description,
    )
