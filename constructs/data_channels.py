"""The data bucket and its S3 locations: raw data, the train/validation/test channels, labeling."""

from __future__ import annotations

from aws_cdk import RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.secure_bucket import SecureBucket
from model_code.contract import CHANNELS, LABELING_PREFIX, RAW_PREFIX


class DataChannels(Construct):
    """The data bucket and its S3 locations: `raw/`, the channels `train/`, `validation/`, `test/`
    (each its own prefix, so each can be granted on its own) and `labeling/`.

    Props:
        key: the KMS key that encrypts every object.
        access_logs: the bucket that receives S3 server access logs (under `data/`).
        noncurrent_version_expiration_days: old object versions are deleted after this many days (1-3650).
        removal_policy: DESTROY in sandbox stages, RETAIN elsewhere.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        key: kms.IKey,
        access_logs: s3.IBucket,
        noncurrent_version_expiration_days: int,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        self.bucket = SecureBucket(
            self,
            "Storage",
            key=key,
            access_logs=access_logs,
            log_prefix="data/",
            noncurrent_version_expiration_days=noncurrent_version_expiration_days,
            removal_policy=removal_policy,
        ).bucket
        self.channel_names = CHANNELS
        self.raw_prefix = f"{RAW_PREFIX}/"
        self.labeling_prefix = f"{LABELING_PREFIX}/"

    def uri(self, prefix: str) -> str:
        """The S3 URI of a prefix of the data bucket, e.g. uri('train') -> s3://bucket/train/."""
        return self.bucket.s3_url_for_object(f"{prefix.strip('/')}/")


def data_access_statements(data_bucket: s3.IBucket, artifacts_bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    """Read the train/validation/test channels (not raw or labeling data), read and write the
    artifacts bucket: what the platform's jobs and its notebooks share."""
    return [
        iam.PolicyStatement(
            sid="ReadChannels",
            actions=["s3:GetObject"],
            resources=[data_bucket.arn_for_objects(f"{c}/*") for c in CHANNELS],
        ),
        iam.PolicyStatement(
            sid="ListChannels",
            actions=["s3:ListBucket"],
            resources=[data_bucket.bucket_arn],
            conditions={"StringLike": {"s3:prefix": [f"{c}/*" for c in CHANNELS]}},
        ),
        iam.PolicyStatement(
            sid="ReadWriteArtifacts",
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[artifacts_bucket.arn_for_objects("*")],
        ),
        iam.PolicyStatement(sid="ListArtifacts", actions=["s3:ListBucket"], resources=[artifacts_bucket.bucket_arn]),
    ]
