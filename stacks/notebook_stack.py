"""Notebook instances, one per entry of the stage file, in the platform's private subnets."""

from __future__ import annotations

from typing import Any

from aws_cdk import Fn, Stack
from aws_cdk import aws_ecr as ecr
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from config.schema import StageConfig
from constructs import Construct
from constructs.container_repository import repository_id
from constructs.notebook import Notebook
from constructs.published_outputs import PublishedOutputs
from stacks.data_stack import DataStack
from stacks.network_stack import NetworkStack


class NotebookStack(Stack):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        stage: str,
        config: StageConfig,
        data: DataStack,
        network: NetworkStack,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, id, **kwargs)
        # The stateful resources come in through the data stack's published exports, like any
        # consumer's: the IAM acknowledgments then name them identically in every stage.
        prefix = f"{config.project}-{stage}"
        self.add_stack_dependency(data)

        def imported(output_id: str) -> str:
            return Fn.import_value(f"{prefix}-{output_id}")

        key = kms.Key.from_key_arn(self, "PlatformKey", imported("KeyArn"))
        data_bucket = s3.Bucket.from_bucket_arn(self, "DataBucket", imported("DataBucketArn"))
        artifacts = s3.Bucket.from_bucket_arn(self, "ArtifactsBucket", imported("ArtifactsBucketArn"))
        repositories = [
            ecr.Repository.from_repository_attributes(
                self,
                f"{repository_id(name)}Repository",
                repository_arn=imported(f"{repository_id(name)}RepositoryArn"),
                repository_name=f"{prefix}-{name}",
            )
            for name in config.data.container_repositories
        ]
        execution_role = iam.Role.from_role_arn(self, "ExecutionRole", imported("ExecutionRoleArn"), mutable=False)
        subnets = network.network.subnets.subnets
        out = PublishedOutputs(self, "Published", project=config.project, stage=stage)
        for index, entry in enumerate(config.notebooks):
            pascal = "".join(part.capitalize() for part in entry.name.split("-"))
            notebook = Notebook(
                self,
                f"Notebook{pascal}",
                config=entry,
                name_prefix=prefix,
                ssm_prefix=f"/{config.project}/{stage}",
                vpc=network.network.vpc,
                subnet=subnets[index % len(subnets)],  # spread notebooks over the AZs
                key=key,
                data_bucket=data_bucket,
                artifacts_bucket=artifacts,
                repositories=repositories,
                execution_role=execution_role,
            )
            out.publish(f"Notebook{pascal}Name", value=notebook.instance_name, description=f"Notebook of {entry.owner}")
            out.publish(
                f"Notebook{pascal}Url", value=notebook.console_url, description=f"Console page of notebook {entry.name}"
            )
