"""Ground Truth labeling: the private workforce, its work teams and the role labeling jobs run as."""

from __future__ import annotations

from aws_cdk import RemovalPolicy

from config import StageConfig
from constructs import Construct
from constructs.labeling_workforce import LabelingWorkforce
from naming import StageNames, entry_id
from stacks.data_stack import DataStack
from stacks.network_stack import NetworkStack
from stacks.workload_stack import WorkloadStack


class LabelingStack(WorkloadStack):
    DESCRIPTION = "Ground Truth private workforce (Cognito), work teams and the labeling role"

    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        names: StageNames,
        config: StageConfig,
        data: DataStack,
        network: NetworkStack,
    ) -> None:
        super().__init__(scope, id, names=names, config=config, data=data, network=network)
        labeling = config.labeling
        assert labeling is not None  # the stage builds this stack only with a labeling section
        platform = self.platform
        workforce = LabelingWorkforce(
            self,
            "Workforce",
            config=labeling,
            names=names,
            key=platform.key,
            data_bucket=platform.data_bucket,
            removal_policy=RemovalPolicy.DESTROY if config.sandbox else RemovalPolicy.RETAIN,
        )
        publish = self.outputs.publish
        for name, arn in workforce.work_team_arns.items():
            # The launcher (model_code/labeling.py) reads /<project>/<stage>/labeling-work-team-<name>-arn.
            publish(f"{entry_id('LabelingWorkTeam', name)}Arn", value=arn, description=f"ARN of work team {name}")
        if workforce.portal_url is not None:
            publish(
                "LabelingPortalUrl",
                value=workforce.portal_url,
                description="Sign-in URL of the labeling portal's workers (the Cognito domain)",
            )
        bucket = platform.data_bucket
        publish(
            "LabelingManifestPrefix",
            value=bucket.s3_url_for_object(workforce.manifest_prefix),
            description="S3 URI under which labeling jobs' input manifests go",
        )
        publish(
            "LabelingOutputPrefix",
            value=bucket.s3_url_for_object(workforce.output_prefix),
            description="S3 URI under which labeling jobs write their output",
        )
        publish("LabelingRoleArn", value=workforce.role.role_arn, description="Role Ground Truth labeling jobs run as")
