"""S3 buckets with the platform's baseline: KMS, versioning, SSL only, no public access, access logs."""

from __future__ import annotations

from typing import cast

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.acknowledge import COMPLIANCE_PACKS, acknowledge


class AccessLogBucket(Construct):
    """The target of S3 server access logs for the platform's other buckets: SSE-S3 (the only
    encryption log delivery accepts), versioned, SSL-only, private, logs expired.

    Props:
        retention_days: days access logs are kept (1-3650).
        removal_policy: DESTROY in sandbox stages, RETAIN elsewhere.
    """

    def __init__(self, scope: Construct, id: str, *, retention_days: int, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            # S3 server access logging can deliver only to a bucket encrypted with S3-managed keys.
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireAccessLogs",
                    expiration=Duration.days(retention_days),
                    noncurrent_version_expiration=Duration.days(1),
                    abort_incomplete_multipart_upload_after=Duration.days(1),
                )
            ],
            removal_policy=removal_policy,
        )
        no_self_logging = "this is the access-log bucket; logging it into itself would loop"
        sse_s3_only = "S3 server access logs can only be delivered to a bucket encrypted with SSE-S3"
        acknowledge(
            self.bucket,
            {
                "AwsSolutions-S1": no_self_logging,
                **{f"{pack}-S3BucketLoggingEnabled": no_self_logging for pack in COMPLIANCE_PACKS},
                **{f"{pack}-S3DefaultEncryptionKMS": sse_s3_only for pack in COMPLIANCE_PACKS},
                **_REPLICATION,
            },
        )
        # The same exemption for checkov, which reads it from the resource's metadata.
        cast(s3.CfnBucket, self.bucket.node.default_child).add_metadata(
            "checkov", {"skip": [{"id": "CKV_AWS_18", "comment": no_self_logging}]}
        )


class SecureBucket(Construct):
    """A bucket with the platform's baseline: KMS with an S3 Bucket Key, uploads refused unless
    encrypted with that key, versioned, SSL-only, private, access-logged, old versions expired.

    Props:
        key: the KMS key that encrypts every object.
        access_logs: the bucket that receives its server access logs.
        log_prefix: its prefix in the access-log bucket, e.g. `artifacts/`.
        noncurrent_version_expiration_days: old versions are deleted after this many days (1-3650).
        removal_policy: DESTROY in sandbox stages, RETAIN elsewhere.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey,
        access_logs: s3.IBucket,
        log_prefix: str,
        noncurrent_version_expiration_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            # S3 Bucket Keys cut KMS requests (and cost) for SageMaker's many small reads.
            bucket_key_enabled=True,
            enforce_ssl=True,
            versioned=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix=log_prefix,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="ExpireOldVersions",
                    noncurrent_version_expiration=Duration.days(noncurrent_version_expiration_days),
                    abort_incomplete_multipart_upload_after=Duration.days(7),
                )
            ],
            removal_policy=removal_policy,
        )
        for statement in platform_key_only(self.bucket, key):
            self.bucket.add_to_resource_policy(statement)
        acknowledge(self.bucket, _REPLICATION)


def platform_key_only(bucket: s3.IBucket, key: kms.IKey) -> list[iam.PolicyStatement]:
    """Refuse uploads encrypted with anything but `key`. An upload without encryption headers gets
    the bucket's default (the key, with the Bucket Key), so only headers that name something
    else are refused: `aws:kms` without a key id (S3 then uses the AWS managed key aws/s3),
    another key, SSE-S3, or a customer-provided key (SSE-C). S3 compares the key id header as
    sent, so a caller that names the key must name it by ARN (not by alias or bare id)."""
    objects = bucket.arn_for_objects("*")
    return [
        iam.PolicyStatement(
            sid="UploadsUseThePlatformKey",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions={
                "Null": {"s3:x-amz-server-side-encryption": "false"},
                "StringNotEquals": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key.key_arn},
            },
        ),
        iam.PolicyStatement(
            sid="NoCustomerProvidedKeys",
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=["s3:PutObject"],
            resources=[objects],
            conditions={"Null": {"s3:x-amz-server-side-encryption-customer-algorithm": "false"}},
        ),
    ]


_REPLICATION_REASON = (
    "cross-region replication is a disaster-recovery choice of the adopting organisation "
    "(it needs a second region); versioning and RETAIN outside sandboxes protect against loss"
)
_REPLICATION = {f"{pack}-S3BucketReplicationEnabled": _REPLICATION_REASON for pack in COMPLIANCE_PACKS}
