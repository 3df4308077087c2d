"""Notebook instances, one per entry of the stage file, in the platform's private subnets."""

from __future__ import annotations

from config import StageConfig
from constructs import Construct
from constructs.endpoint_model import VpcPlacement
from constructs.notebook import Notebook
from naming import StageNames, entry_id
from stacks.data_stack import DataStack
from stacks.network_stack import NetworkStack
from stacks.workload_stack import WorkloadStack


class NotebookStack(WorkloadStack):
    DESCRIPTION = "notebook instances with lifecycle configurations and idle auto-stop"

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
        subnets = self.network.subnets
        # Where the jobs that notebooks start must run (the IAM conditions of the notebooks' roles).
        jobs_vpc = VpcPlacement(subnets=subnets, security_group=self.network.job_security_group)
        for index, entry in enumerate(config.notebooks):
            id = entry_id("Notebook", entry.name)
            notebook = Notebook(
                self,
                id,
                config=entry,
                instance_name=names.physical(entry.name),
                job_name_prefix=names.prefix,
                ssm_prefix=names.parameter_prefix,
                vpc=self.network.vpc,
                s3_prefix_list_id=self.network.s3_prefix_list_id,
                subnet=subnets[index % len(subnets)],  # spread notebooks over the AZs
                key=self.platform.key,
                data_bucket=self.platform.data_bucket,
                artifacts_bucket=self.platform.artifacts_bucket,
                repositories=list(self.platform.repositories.values()),
                execution_role=self.platform.execution_role,
                jobs_vpc=jobs_vpc,
            )
            self.outputs.publish(f"{id}Name", value=notebook.instance_name, description=f"Notebook of {entry.owner}")
            self.outputs.publish(
                f"{id}Url", value=notebook.console_url, description=f"Console page of notebook {entry.name}"
            )
