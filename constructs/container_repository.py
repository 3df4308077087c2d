"""An ECR repository for bring-your-own training or inference images."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct


class ContainerRepository(Construct):
    """An ECR repository for bring-your-own training or inference images: immutable tags, scan on
    push, encrypted with the platform key, lifecycle rules that bound storage cost.

    Props:
        repository_name: the physical name (lowercase: ECR refuses capitals; other teams push to it).
        key: the KMS key that encrypts the images.
        max_image_count: tagged images kept, the oldest expired first (1-10000).
        untagged_expiry_days: days after which untagged images are expired (1-365).
        removal_policy: DESTROY in sandbox stages, RETAIN elsewhere.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        repository_name: str,
        key: kms.IKey,
        max_image_count: int,
        untagged_expiry_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.repository = ecr.Repository(
            self,
            "Repository",
            # Explicit and lowercase: ECR refuses capitals, and other teams push to this name.
            repository_name=repository_name,
            image_scan_on_push=True,
            image_tag_mutability=ecr.TagMutability.IMMUTABLE,
            encryption=ecr.RepositoryEncryption.KMS,
            encryption_key=key,
            lifecycle_rules=[
                ecr.LifecycleRule(
                    rule_priority=1,
                    description="Expire untagged images",
                    tag_status=ecr.TagStatus.UNTAGGED,
                    max_image_age=Duration.days(untagged_expiry_days),
                ),
                ecr.LifecycleRule(
                    rule_priority=2,
                    description=f"Keep the newest {max_image_count} images",
                    tag_status=ecr.TagStatus.ANY,
                    max_image_count=max_image_count,
                ),
            ],
            removal_policy=removal_policy,
        )


def image_pull_statements(repositories: Sequence[ecr.IRepository]) -> list[iam.PolicyStatement]:
    """Pull images from exactly these repositories (the ECR login itself takes no resource)."""
    return [
        iam.PolicyStatement(
            sid="PullPlatformImages",
            actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
            resources=[r.repository_arn for r in repositories],
        ),
        iam.PolicyStatement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"], resources=["*"]),
    ]
