"""Training pipelines, one per entry of the stage file: split -> train -> tune -> evaluate -> register (->
transform); and scheduled scoring pipelines, one per `scoring` entry: the latest approved model -> transform."""

from __future__ import annotations

from aws_cdk import Fn
from aws_cdk import aws_iam as iam

from config import StageConfig
from constructs import Construct
from constructs.pipeline_roles import PublisherJobAccess
from constructs.pipeline_sdk import JobNames
from constructs.scoring_pipeline import ScoringPipeline
from constructs.source_bundle import SourceBundle
from constructs.training_pipeline import PipelineImages, TrainingPipeline, code_folders
from naming import StageNames, entry_id
from stacks.data_stack import MODEL_PUBLISHER_ROLE_ARN, DataStack
from stacks.network_stack import NetworkStack
from stacks.workload_stack import WorkloadStack


class PipelineStack(WorkloadStack):
    DESCRIPTION = (
        "training pipelines: split, train, tune, evaluate, register; scoring pipelines; every job on its own instances"
    )

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
        platform, subnets = self.platform, self.network.subnets
        job_names = JobNames(names.prefix)
        code = {folder: SourceBundle.of(self, folder) for entry in config.pipelines for folder in code_folders(entry)}
        publisher = iam.Role.from_role_arn(
            self, "ModelPublisher", Fn.import_value(names.export(MODEL_PUBLISHER_ROLE_ARN)), mutable=True
        )
        PublisherJobAccess(
            self,
            "PublisherJobAccess",
            publisher=publisher,
            job_names=job_names,
            key=platform.key,
            subnets=subnets,
            security_group=self.network.job_security_group,
        )
        registry = self.format_arn(
            service="sagemaker", resource="model-package-group", resource_name=names.model_package_group
        )
        images = PipelineImages(self, "Images", region=config.region)
        for entry in config.pipelines:
            id = entry_id("Pipeline", entry.name)
            pipeline = TrainingPipeline(
                self,
                id,
                config=entry,
                pipeline_name=names.physical(entry.name),
                job_names=job_names,
                publisher=publisher,
                model_package_group_arn=registry,
                key=platform.key,
                data_bucket=platform.data_bucket,
                artifacts_bucket=platform.artifacts_bucket,
                repositories=platform.repositories,
                subnets=subnets,
                security_group=self.network.job_security_group,
                images=images,
                code=code,
            )
            publish = self.outputs.publish
            publish(f"{id}Name", value=pipeline.pipeline_name, description=f"Name of training pipeline {entry.name}")
            publish(f"{id}Arn", value=pipeline.pipeline_arn, description=f"ARN of training pipeline {entry.name}")
            publish(
                f"{id}JobRoleArn",
                value=pipeline.roles.job_role.role_arn,
                description=f"Role the jobs of training pipeline {entry.name} run as",
            )
            publish(
                f"{id}RoleArn",
                value=pipeline.roles.pipeline_role.role_arn,
                description=f"Role training pipeline {entry.name} runs as",
            )
        for scoring in config.scoring:
            id = entry_id("Scoring", scoring.name)
            scorer = ScoringPipeline(
                self,
                id,
                config=scoring,
                pipeline_name=names.physical(scoring.name),
                job_names=job_names,
                model_package_group_arn=registry,
                latest_approved_parameter=names.latest_approved_parameter,
                key=platform.key,
                data_bucket=platform.data_bucket,
                artifacts_bucket=platform.artifacts_bucket,
                repositories=platform.repositories,
                subnets=subnets,
                security_group=self.network.job_security_group,
            )
            publish = self.outputs.publish
            publish(f"{id}Name", value=scorer.pipeline_name, description=f"Name of scoring pipeline {scoring.name}")
            publish(f"{id}Arn", value=scorer.pipeline_arn, description=f"ARN of scoring pipeline {scoring.name}")
            publish(
                f"{id}JobRoleArn",
                value=scorer.job_role.role_arn,
                description=f"Role the jobs of scoring pipeline {scoring.name} run as",
            )
            publish(
                f"{id}RoleArn",
                value=scorer.pipeline_role.role_arn,
                description=f"Role scoring pipeline {scoring.name} runs as",
            )
            publish(
                f"{id}OutputUri",
                value=f"s3://{platform.artifacts_bucket.bucket_name}/pipelines/{scoring.name}/transform/",
                description=f"Where scoring pipeline {scoring.name} writes its predictions (one folder per execution)",
            )
