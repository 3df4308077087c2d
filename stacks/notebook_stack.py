"""Notebook instances, one per entry of the stage file, in the platform's private subnets."""

from __future__ import annotations

from typing import Any

from aws_cdk import Stack

from config import StageConfig
from constructs import Construct
from constructs.notebook import Notebook
from constructs.published_outputs import PublishedOutputs
from stacks.data_stack import DataStack, import_platform
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
        platform = import_platform(self, data=data, stage=stage, config=config)
        prefix = f"{config.project}-{stage}"
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
                key=platform.key,
                data_bucket=platform.data_bucket,
                artifacts_bucket=platform.artifacts_bucket,
                repositories=list(platform.repositories.values()),
                execution_role=platform.execution_role,
            )
            out.publish(f"Notebook{pascal}Name", value=notebook.instance_name, description=f"Notebook of {entry.owner}")
            out.publish(
                f"Notebook{pascal}Url", value=notebook.console_url, description=f"Console page of notebook {entry.name}"
            )
