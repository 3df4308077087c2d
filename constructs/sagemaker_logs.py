"""The CloudWatch log groups SageMaker writes to, declared so that they are encrypted with the platform
key and expire: SageMaker would otherwise create them on first use, unencrypted and kept forever."""

from __future__ import annotations

from typing import cast

from aws_cdk import RemovalPolicy
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs

from constructs import Construct
from constructs.execution_role import JOB_LOG_GROUPS
from naming import pascal

NOTEBOOK_LOG_GROUP = "/aws/sagemaker/NotebookInstances"
# Per account and region, not per stage: every job and notebook instance of the account writes here.
ACCOUNT_LOG_GROUPS = (*JOB_LOG_GROUPS, NOTEBOOK_LOG_GROUP)


def endpoint_log_group_name(endpoint_name: str) -> str:
    """Where SageMaker writes the containers' output of endpoint `endpoint_name`."""
    return f"/aws/sagemaker/Endpoints/{endpoint_name}"


def sagemaker_log_group(
    scope: Construct, id: str, *, name: str, key: kms.IKey, retention_days: int, removal_policy: RemovalPolicy
) -> logs.LogGroup:
    """One log group with SageMaker's fixed `name`, encrypted with `key`, kept `retention_days`."""
    group = logs.LogGroup(scope, id, log_group_name=name, encryption_key=key, removal_policy=removal_policy)
    # The schema already limits the value to CloudWatch's periods; set it on the L1 as days.
    cast(logs.CfnLogGroup, group.node.default_child).retention_in_days = retention_days
    return group


class SageMakerLogGroups(Construct):
    """The account-wide log groups of SageMaker's training, processing and transform jobs and of
    its notebook instances (`/aws/sagemaker/TrainingJobs`, ...), encrypted with the platform key and
    expiring. Their names are fixed per account and region, so one stage per account and region
    declares them (the stage file's `data.declare_account_log_groups`); the roles of every stage
    write to them but may not create them.

    Props:
        key: the platform KMS key (its policy lets CloudWatch Logs of this account use it).
        retention_days: one of CloudWatch's retention periods.
        removal_policy: DESTROY in sandbox stages, RETAIN elsewhere.
    """

    def __init__(
        self, scope: Construct, id: str, *, key: kms.IKey, retention_days: int, removal_policy: RemovalPolicy
    ) -> None:
        super().__init__(scope, id)
        self.log_groups = {
            name: sagemaker_log_group(
                self,
                pascal(name.rsplit("/", 1)[1]),
                name=name,
                key=key,
                retention_days=retention_days,
                removal_policy=removal_policy,
            )
            for name in ACCOUNT_LOG_GROUPS
        }
