"""The Ground Truth private workforce: a Cognito user pool (created or imported), a work team per stage-file
entry on a user group of the pool with an encrypted new-task topic, and the role labeling jobs run as."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sagemaker as sagemaker
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from config.labeling import ImportedWorkforce, LabelingConfig, NewWorkforce
from constructs import Construct, pseudo
from constructs.acknowledge import acknowledge, acknowledge_wildcard_resources
from constructs.execution_role import key_use_statements, log_statements
from constructs.service_role import service_role
from model_code.contract import LABELING_MANIFESTS_PREFIX, LABELING_OUTPUT_PREFIX, LABELING_PREFIX
from naming import StageNames, entry_id

LABELING_LOG_GROUP = "/aws/sagemaker/LabelingJobs"
# The OAuth settings Ground Truth needs of the app client of a private workforce (SageMaker developer guide,
# "Create a private workforce (Amazon Cognito)"): a client secret, the code and implicit grants, the
# email / openid / profile scopes, the pool's own users. SageMaker replaces the callback and sign-out URLs
# with the labeling portal's when it creates the workforce; the ones here only satisfy Cognito, which wants
# a URL whenever OAuth flows are enabled.
OAUTH_FLOWS = cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=True)
OAUTH_SCOPES = [cognito.OAuthScope.EMAIL, cognito.OAuthScope.OPENID, cognito.OAuthScope.PROFILE]


class LabelingWorkforce(Construct):
    """The private workforce of Ground Truth and its work teams.

    An account has at most one private workforce per region, and there is no CloudFormation resource for
    it: SageMaker creates it with the account's first private work team, from that team's Cognito user pool
    and app client, and every later private work team must use the same pool and client. So `create` fits
    an account and region without a private workforce (or whose workforce was created from this pool);
    where one exists already, `import` its pool and client, else the work teams fail to create. Deleting
    the stack deletes the work teams, not the workforce: delete it (`aws sagemaker delete-workforce`)
    before deploying a new pool.

    - `create`: a Cognito user pool (no self sign-up: administrators invite workers; the password policy
      of the stage file; MFA required, software token only; account recovery by email), its hosted
      domain `<domain_prefix>` for the labeling portal's sign-in, and an app client as Ground Truth needs
      it (see OAUTH_FLOWS). Updating the client's OAuth settings later resets the portal URLs SageMaker
      set on it.
    - `import`: the pool and client by id.
    - per work team: a user group `<name>` of the pool, a work team `<project>-<stage>-<name>` on it, and
      an SNS topic encrypted with the platform key for new-task notifications (an optional email
      subscription); only SageMaker of this account may publish to it.
    - the labeling role, which SageMaker assumes for the stage's labeling jobs (named `<project>-<stage>-...`,
      of this account and region): reads
      `labeling/` of the data bucket (input manifests under `labeling/manifests/` and the objects they
      list), writes only `labeling/output/`, uses the key through S3 and SageMaker, writes the jobs' streams of
      `/aws/sagemaker/LabelingJobs`, and describes only its work teams.

    Props:
        config: the stage file's `labeling` section (validated by config).
        names: the stage's names (work team names come from it).
        key: the platform key; encrypts the topics (its policy lets SageMaker of this account use it for
            them) and, through S3, the labeling data.
        data_bucket: the data bucket; the role is limited to its `labeling/` prefix.
        removal_policy: of the user pool (its workers' accounts): DESTROY in sandbox stages, RETAIN elsewhere.
    """

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: LabelingConfig,
        names: StageNames,
        key: kms.IKey,
        data_bucket: s3.IBucket,
        removal_policy: RemovalPolicy,
    ) -> None:
        super().__init__(scope, id)
        workforce = config.workforce
        self.portal_url: str | None
        if isinstance(workforce, NewWorkforce):
            self.user_pool_id, self.client_id, self.portal_url = self._create_pool(workforce, removal_policy)
        else:
            self.user_pool_id, self.client_id, self.portal_url = self._import_pool(workforce)
        self.work_teams: dict[str, sagemaker.CfnWorkteam] = {}
        self.work_team_arns: dict[str, str] = {}
        self.topics: dict[str, sns.Topic] = {}
        for team in config.work_teams:
            team_id = entry_id("WorkTeam", team.name)
            group = cognito.CfnUserPoolGroup(
                self,
                f"{team_id}Group",
                user_pool_id=self.user_pool_id,
                group_name=team.name,
                description=f"Workers of work team {names.physical(team.name)}",
            )
            topic = sns.Topic(
                self,
                f"{team_id}Topic",
                display_name=f"New labeling tasks of work team {names.physical(team.name)}",
                master_key=key,
                enforce_ssl=True,
            )
            # A topic policy replaces SNS's default one: SageMaker may publish only for this account.
            topic.add_to_resource_policy(
                iam.PolicyStatement(
                    sid="AllowSageMakerOfThisAccount",
                    principals=[iam.ServicePrincipal("sagemaker.amazonaws.com")],
                    actions=["sns:Publish"],
                    resources=[topic.topic_arn],
                    conditions={"StringEquals": {"aws:SourceAccount": pseudo.ACCOUNT_ID}},
                )
            )
            if team.notification_email is not None:
                topic.add_subscription(subscriptions.EmailSubscription(team.notification_email))
            work_team = sagemaker.CfnWorkteam(
                self,
                team_id,
                workteam_name=names.physical(team.name),
                description=team.description,
                member_definitions=[
                    sagemaker.CfnWorkteam.MemberDefinitionProperty(
                        cognito_member_definition=sagemaker.CfnWorkteam.CognitoMemberDefinitionProperty(
                            cognito_user_pool=self.user_pool_id,
                            cognito_user_group=group.ref,
                            cognito_client_id=self.client_id,
                        )
                    )
                ],
                notification_configuration=sagemaker.CfnWorkteam.NotificationConfigurationProperty(
                    notification_topic_arn=topic.topic_arn
                ),
            )
            self.work_teams[team.name] = work_team
            # Built from the name rather than read from the resource (`Fn::GetAtt`): the same value, and the
            # local AWS, which does not model work teams, can deploy outputs and policies naming it.
            self.work_team_arns[team.name] = Stack.of(self).format_arn(
                service="sagemaker", resource="workteam", resource_name=f"private-crowd/{names.physical(team.name)}"
            )
            self.topics[team.name] = topic
        self.role = self._role(key=key, data_bucket=data_bucket, names=names)

    @property
    def manifest_prefix(self) -> str:
        return f"{LABELING_MANIFESTS_PREFIX}/"

    @property
    def output_prefix(self) -> str:
        return f"{LABELING_OUTPUT_PREFIX}/"

    def _create_pool(self, workforce: NewWorkforce, removal_policy: RemovalPolicy) -> tuple[str, str, str]:
        pool = cognito.UserPool(
            self,
            "UserPool",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(username=True, email=True),
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            password_policy=cognito.PasswordPolicy(
                min_length=workforce.password_minimum_length,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
                temp_password_validity=Duration.days(workforce.temporary_password_validity_days),
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.ESSENTIALS,
            deletion_protection=removal_policy == RemovalPolicy.RETAIN,
            removal_policy=removal_policy,
        )
        plus = (
            "threat protection (advanced security) needs the Plus feature plan, billed per monthly active user; "
            "this pool has no self sign-up (administrators invite the workers), requires MFA (software token) and "
            "a strong password, and only signs in to the labeling portal"
        )
        acknowledge(pool, {"AwsSolutions-COG3": plus, "AwsSolutions-COG8": plus})
        domain = pool.add_domain(
            "Domain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=workforce.domain_prefix)
        )
        client = pool.add_client(
            "Client",
            generate_secret=True,
            auth_flows=cognito.AuthFlow(user_srp=True),
            o_auth=cognito.OAuthSettings(
                flows=OAUTH_FLOWS,
                scopes=OAUTH_SCOPES,
                callback_urls=[domain.base_url()],
                logout_urls=[domain.base_url()],
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
        )
        return pool.user_pool_id, client.user_pool_client_id, domain.base_url()

    def _import_pool(self, workforce: ImportedWorkforce) -> tuple[str, str, str | None]:
        return workforce.user_pool_id, workforce.client_id, workforce.portal_url

    def _role(self, *, key: kms.IKey, data_bucket: s3.IBucket, names: StageNames) -> iam.Role:
        stack = Stack.of(self)
        role = service_role(
            self,
            "Role",
            service="sagemaker.amazonaws.com",
            description=f"Runs the Ground Truth labeling jobs of {names.prefix}",
            source_arn=f"arn:{pseudo.PARTITION}:sagemaker:{pseudo.REGION}:{pseudo.ACCOUNT_ID}:labeling-job/{names.prefix}-*",
        )
        policy = iam.ManagedPolicy(
            self,
            "Policy",
            description=f"Least privilege for the Ground Truth labeling jobs of {names.prefix}",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadLabelingData",
                    actions=["s3:GetObject"],
                    resources=[data_bucket.arn_for_objects(f"{LABELING_PREFIX}/*")],
                ),
                iam.PolicyStatement(
                    sid="WriteLabelingOutput",
                    actions=["s3:PutObject", "s3:AbortMultipartUpload"],
                    resources=[data_bucket.arn_for_objects(f"{LABELING_OUTPUT_PREFIX}/*")],
                ),
                iam.PolicyStatement(
                    sid="ListLabelingData",
                    actions=["s3:ListBucket"],
                    resources=[data_bucket.bucket_arn],
                    conditions={"StringLike": {"s3:prefix": [f"{LABELING_PREFIX}/*"]}},
                ),
                *key_use_statements(key, grants=False),
                *log_statements(stack, [LABELING_LOG_GROUP], stream_prefix=f"{names.prefix}-"),
                iam.PolicyStatement(
                    sid="DescribeOwnWorkTeams",
                    actions=["sagemaker:DescribeWorkteam"],
                    resources=list(self.work_team_arns.values()),
                ),
            ],
        )
        acknowledge_wildcard_resources(
            policy,
            f"object keys need a wildcard (only under {LABELING_PREFIX}/, writes only under "
            f"{LABELING_OUTPUT_PREFIX}/); log streams are named after labeling jobs at run time (only the "
            f"stage's jobs, in {LABELING_LOG_GROUP})",
        )
        return role
