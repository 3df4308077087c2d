"""IAM roles that an AWS service assumes for this account only."""

from __future__ import annotations

from aws_cdk import aws_iam as iam

from constructs import Construct, pseudo


def service_role(
    scope: Construct, id: str, *, service: str, description: str, source_arn: str | None = None
) -> iam.Role:
    """A role `service` (e.g. sagemaker.amazonaws.com) may assume only on behalf of this account:
    `aws:SourceAccount` keeps another account's resources from using the service to act as it.
    `source_arn` (a pattern) narrows it further to the resources the service acts for; pass it only
    where the service sets `aws:SourceArn` on every AssumeRole for this role, since `ArnLike` on a
    missing key refuses the request."""
    conditions: dict[str, dict[str, str]] = {"StringEquals": {"aws:SourceAccount": pseudo.ACCOUNT_ID}}
    if source_arn is not None:
        conditions["ArnLike"] = {"aws:SourceArn": source_arn}
    return iam.Role(
        scope,
        id,
        assumed_by=iam.ServicePrincipal(service, conditions=conditions),
        description=description,
    )
