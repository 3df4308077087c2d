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
    """One encrypted bucket; each channel is its own prefix, so it can be granted on its own."""

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

    def grant_read_channels(self, grantee: iam.IGrantable) -> None:
        """Read access to the train/validation/test channels only (not raw or labeling data)."""
        for channel in self.channel_names:
            self.bucket.grant_read(grantee, f"{channel}/*")
