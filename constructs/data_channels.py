"""The data bucket and its S3 locations: raw data, the train/validation/test channels, labeling;
the layout of the artifacts bucket (who writes which prefix) and the S3 statements that follow it."""

from __future__ import annotations

from collections.abc import Sequence

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


# The artifacts bucket by who writes what (docs/security.md). Each prefix has its writers, and the
# bucket policy (artifacts_boundaries) refuses everyone else, whatever their identity policies say.
MODELS_PREFIX = "models/"  # what endpoints serve: written only by the ModelPublisher role
JOBS_PREFIX = "jobs/"  # job inputs (code, configuration) and outputs: notebooks and jobs
DATA_CAPTURE_PREFIX = "data-capture/"  # production requests and responses: endpoints only, never read back
# The training pipelines' models, checkpoints and evaluations: only their roles write here, so that what
# the publish step copies to models/ is what the pipeline trained and evaluated.
PIPELINES_PREFIX = "pipelines/"
MONITORING_PREFIX = "monitoring/"  # drift checks' manifests and reports: written only by the monitoring roles
WRITES = ("s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion")  # PutObject also covers copies and multipart
READS = ("s3:GetObject", "s3:GetObjectVersion")


def data_access_statements(data_bucket: s3.IBucket, artifacts_bucket: s3.IBucket) -> list[iam.PolicyStatement]:
    """What the platform's jobs and its notebooks share: read the train/validation/test channels
    (not raw or labeling data), read the published models, read and write `jobs/`; nothing of
    the captured production data."""
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
            sid="ReadModels",
            actions=["s3:GetObject"],
            resources=[artifacts_bucket.arn_for_objects(f"{MODELS_PREFIX}*")],
        ),
        iam.PolicyStatement(
            sid="ReadWriteJobs",
            actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
            resources=[artifacts_bucket.arn_for_objects(f"{JOBS_PREFIX}*")],
        ),
        list_artifacts_statement(artifacts_bucket, MODELS_PREFIX, JOBS_PREFIX),
    ]


def list_artifacts_statement(artifacts_bucket: s3.IBucket, *prefixes: str) -> iam.PolicyStatement:
    """List the artifacts bucket under `prefixes` only (a listing shows keys, which name endpoints and jobs)."""
    return iam.PolicyStatement(
        sid="ListArtifacts",
        actions=["s3:ListBucket"],
        resources=[artifacts_bucket.bucket_arn],
        conditions={"StringLike": {"s3:prefix": [f"{p}*" for p in prefixes]}},
    )


def artifacts_boundaries(
    bucket: s3.IBucket,
    *,
    publishers: Sequence[str],
    jobs: Sequence[str],
    pipelines: Sequence[str],
    endpoints: Sequence[str],
    monitors: Sequence[str],
) -> list[iam.PolicyStatement]:
    """The artifacts bucket policy's Deny statements: only the publishers write `models/`, only the
    training pipelines' roles `pipelines/`, only endpoints `data-capture/` and only the monitoring
    roles `monitoring/`; the platform's workloads write only their own prefix, and none but the
    monitoring roles read captured data or the reports made of it. Each argument lists role
    ARNs or ARN patterns as `aws:PrincipalArn` gives them (a role's ARN with its path, also for its
    sessions). A Deny in the bucket policy holds against any identity policy, so a broader grant
    added later cannot widen it."""
    workloads = [*publishers, *jobs, *pipelines, *endpoints]

    def deny(
        sid: str,
        actions: Sequence[str],
        conditions: dict[str, object],
        *,
        resources: list[str] | None = None,
        not_resources: list[str] | None = None,
    ) -> iam.PolicyStatement:
        return iam.PolicyStatement(
            sid=sid,
            effect=iam.Effect.DENY,
            principals=[iam.AnyPrincipal()],
            actions=list(actions),
            resources=resources,
            not_resources=not_resources,
            conditions=conditions,
        )

    def objects(prefix: str) -> list[str]:
        return [bucket.arn_for_objects(f"{prefix}*")]

    return [
        deny("OnlyPublishersWriteModels", WRITES, _arn_not_like(publishers), resources=objects(MODELS_PREFIX)),
        deny("OnlyEndpointsWriteDataCapture", WRITES, _arn_not_like(endpoints), resources=objects(DATA_CAPTURE_PREFIX)),
        deny("WorkloadsNeverReadDataCapture", READS, _arn_like(workloads), resources=objects(DATA_CAPTURE_PREFIX)),
        deny("PublishersWriteOnlyModels", WRITES, _arn_like(publishers), not_resources=objects(MODELS_PREFIX)),
        deny("JobsWriteOnlyJobs", WRITES, _arn_like(jobs), not_resources=objects(JOBS_PREFIX)),
        deny("OnlyPipelinesWritePipelines", WRITES, _arn_not_like(pipelines), resources=objects(PIPELINES_PREFIX)),
        deny("PipelinesWriteOnlyPipelines", WRITES, _arn_like(pipelines), not_resources=objects(PIPELINES_PREFIX)),
        deny("EndpointsWriteOnlyDataCapture", WRITES, _arn_like(endpoints), not_resources=objects(DATA_CAPTURE_PREFIX)),
        deny("OnlyMonitorsWriteMonitoring", WRITES, _arn_not_like(monitors), resources=objects(MONITORING_PREFIX)),
        deny("MonitorsWriteOnlyMonitoring", WRITES, _arn_like(monitors), not_resources=objects(MONITORING_PREFIX)),
        # The reports summarize captured production data: the same rule as the capture.
        deny("WorkloadsNeverReadMonitoring", READS, _arn_like(workloads), resources=objects(MONITORING_PREFIX)),
    ]


def _arn_like(principals: Sequence[str]) -> dict[str, object]:
    return {"ArnLike": {"aws:PrincipalArn": list(principals)}}


def _arn_not_like(principals: Sequence[str]) -> dict[str, object]:
    return {"ArnNotLike": {"aws:PrincipalArn": list(principals)}}
