"""The one naming rule: turns a stage and the names users give in stage files into construct IDs,
physical resource names, stack names, export names and SSM parameter names.

Nothing else in the app invents a name. Construct IDs are API (a new logical ID replaces the
resource), so these rules only ever grow: change one and the README's upgrade notes must say which
IDs move for which names.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


def pascal(name: str) -> str:
    """A construct-ID stem from a user-given name: parts split at `-` and `_`, each part's first
    letter capitalized and the rest kept as written (`fraud-scoring` -> `FraudScoring`,
    `sagemaker_api` -> `SagemakerApi`, `ml2go` -> `Ml2go`, `blue-A` -> `BlueA`)."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_]", name))


def kebab(pascal_id: str) -> str:
    """The kebab-case form of a PascalCase ID (`EndpointSampleName` -> `endpoint-sample-name`,
    `Errors5xx` -> `errors5xx`, `LatencyP99` -> `latency-p99`)."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", pascal_id).lower()


def entry_id(kind: str, name: str) -> str:
    """The construct ID of a stage-file entry: `entry_id("Endpoint", "fraud-scoring")` ->
    `EndpointFraudScoring`. Output IDs of the entry start with it."""
    return f"{kind}{pascal(name)}"


def repository_id(name: str) -> str:
    """The construct ID (and output-ID stem) of a container repository: `training` ->
    `TrainingRepository`."""
    return f"{pascal(name)}Repository"


@dataclass(frozen=True)
class StageNames:
    """Names of one stage of one project (`smplat` + `dev`)."""

    project: str
    stage: str

    @property
    def prefix(self) -> str:
        """`<project>-<stage>`: stack names, physical names, exports, the model package group."""
        return f"{self.project}-{self.stage}"

    def physical(self, name: str) -> str:
        """The physical name of a named resource (repository, notebook, endpoint): `<prefix>-<name>`."""
        return f"{self.prefix}-{name}"

    def stack(self, stack_id: str) -> str:
        """The CloudFormation stack name of stack `Data`, `Network`, ...: `<prefix>-data`."""
        return f"{self.prefix}-{stack_id.lower()}"

    def role_path(self, stack_id: str) -> str:
        """The IAM path of every role of workload stack `Notebooks`, `Endpoints`, ...:
        `/<prefix>-notebooks/`. Bucket policies name a stack's roles by it (`aws:PrincipalArn`
        carries the path); changing it replaces the roles."""
        return f"/{self.stack(stack_id)}/"

    def export(self, output_id: str) -> str:
        """The export name of a published output: `<prefix>-<OutputId>`."""
        return f"{self.prefix}-{output_id}"

    @property
    def parameter_prefix(self) -> str:
        """The SSM path every published value lives under: `/<project>/<stage>`."""
        return f"/{self.project}/{self.stage}"

    def parameter(self, output_id: str) -> str:
        """The SSM parameter of a published output: `/<project>/<stage>/<output-id>`."""
        return f"{self.parameter_prefix}/{kebab(output_id)}"

    @property
    def key_alias(self) -> str:
        return f"alias/{self.prefix}"

    @property
    def model_package_group(self) -> str:
        return self.prefix

    @property
    def latest_approved_parameter(self) -> str:
        """Holds the ARN of the registry's most recently approved model package (written by the
        data stack's runbook, never by CloudFormation)."""
        return f"{self.parameter_prefix}/latest-approved-model-package"
