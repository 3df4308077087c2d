"""The ModelPublisher role: the only principal that may write `models/` in the artifacts bucket,
which is what endpoints serve."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct, pseudo
from constructs.acknowledge import acknowledge_wildcard_resources
from constructs.data_channels import JOBS_PREFIX, MODELS_PREFIX, PIPELINES_PREFIX, list_artifacts_statement
from constructs.execution_role import key_use_statements, sagemaker_source_arn
from constructs.service_role import service_role


class ModelPublisher(Construct):
    """The role of the path that registers models: it reads job outputs under `jobs/` and
    `pipelines/` and writes `models/`, the only principal the artifacts bucket lets write there.
    SageMaker assumes it for the training pipelines' publish step (only their pipeline roles may
    pass it; notebooks pass only the execution role); people publish by hand only by assuming it,
    which their own policy must allow (`sts:AssumeRole` on this role), so each hand publication is a
    named, logged step.

    Props:
        artifacts_bucket: the bucket whose `models/` it writes.
        key: the platform KMS key (objects are encrypted with it).
    """

    def __init__(self, scope: Construct, id: str, *, artifacts_bucket: s3.IBucket, key: kms.IKey) -> None:
        super().__init__(scope, id)
        self.role = service_role(
            self,
            "Role",
            service="sagemaker.amazonaws.com",
            description="Publishes models: the only writer of models/ in the artifacts bucket",
            source_arn=sagemaker_source_arn(),
        )
        # Trusting the account delegates the choice to IAM: only principals whose own policy
        # allows sts:AssumeRole on this role (release managers, administrators) may assume it.
        self.role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(actions=["sts:AssumeRole"], principals=[iam.AccountPrincipal(pseudo.ACCOUNT_ID)])
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="Read job outputs, write models/ of the artifacts bucket",
            roles=[self.role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadJobOutputs",
                    actions=["s3:GetObject"],
                    resources=[artifacts_bucket.arn_for_objects(f"{p}*") for p in (JOBS_PREFIX, PIPELINES_PREFIX)],
                ),
                iam.PolicyStatement(
                    sid="PublishModels",
                    actions=["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[artifacts_bucket.arn_for_objects(f"{MODELS_PREFIX}*")],
                ),
                list_artifacts_statement(artifacts_bucket, MODELS_PREFIX, JOBS_PREFIX, PIPELINES_PREFIX),
                *key_use_statements(key, grants=False),
            ],
        )
        acknowledge_wildcard_resources(
            self.policy,
            "object keys need a wildcard: job outputs under jobs/ and pipelines/, published models under models/",
        )
