"""The platform's customer-managed KMS key: encrypts buckets, repositories, logs and SageMaker volumes."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

from constructs import Construct, pseudo


class PlatformKey(Construct):
    """The platform's customer-managed KMS key: symmetric, rotated yearly, a 30-day deletion window;
    usable by CloudWatch Logs of this account and region, and by CloudWatch alarms and SageMaker (Ground
    Truth's work team notifications) of this account publishing to the topics it encrypts.

    Props:
        alias: `alias/<project>-<stage>`.
        removal_policy: DESTROY in sandbox stages, RETAIN elsewhere.
    """

    def __init__(self, scope: Construct, id: str, *, alias: str, removal_policy: RemovalPolicy) -> None:
        super().__init__(scope, id)
        self.key = kms.Key(
            self,
            "Key",
            alias=alias,
            description=f"Encrypts the data, artifacts, images and logs of {alias.removeprefix('alias/')}",
            enable_key_rotation=True,
            rotation_period=Duration.days(365),
            # A deleted key makes everything it encrypted unreadable: keep the longest window.
            pending_window=Duration.days(30),
            removal_policy=removal_policy,
        )
        # CloudWatch Logs encrypts log groups (flow logs, SageMaker's job, notebook and endpoint
        # logs) with the key only if the key policy names the regional Logs service for this
        # account's groups. Logs names the group in the encryption context of every data-key call;
        # Describe* calls carry no context, so a Describe* grant under this condition could never
        # apply and is left out. The context value is a string (StringLike, not ArnLike).
        log_groups_of_this_account = f"arn:{pseudo.PARTITION}:logs:{pseudo.REGION}:{pseudo.ACCOUNT_ID}:log-group:*"
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchLogsOfThisAccount",
                principals=[iam.ServicePrincipal(f"logs.{pseudo.REGION}.amazonaws.com")],
                actions=["kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringLike": {"kms:EncryptionContext:aws:logs:arn": log_groups_of_this_account}},
            )
        )
        # Ground Truth publishes new-task notifications to the work teams' encrypted topics only if
        # SageMaker may use the topic's key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowSageMakerNotificationsOfThisAccount",
                principals=[iam.ServicePrincipal("sagemaker.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": pseudo.ACCOUNT_ID}},
            )
        )
        # An alarm can publish to an encrypted SNS topic only if CloudWatch may use the topic's key.
        self.key.add_to_resource_policy(
            iam.PolicyStatement(
                sid="AllowCloudWatchAlarmsOfThisAccount",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["kms:Decrypt", "kms:GenerateDataKey*"],
                resources=["*"],
                conditions={"StringEquals": {"aws:SourceAccount": pseudo.ACCOUNT_ID}},
            )
        )
