"""A notebook with Git repositories: one SageMaker code repository each, the first the default."""

from __future__ import annotations

import json
from pathlib import Path

from aws_cdk.assertions import Template

from app import compose
from config import load_stage
from config.notebooks import CodeRepository
from tests.conftest import new_app


def test_code_repositories_are_attached_in_order(tmp_path: Path) -> None:
    dev = load_stage("dev")
    repos = tuple(
        CodeRepository.model_validate({"url": f"https://git-codecommit.us-east-1.amazonaws.com/v1/repos/r{i}"})
        for i in range(3)
    )
    config = dev.model_copy(update={"notebooks": (dev.notebooks[0].model_copy(update={"code_repositories": repos}),)})
    stage = compose(new_app(tmp_path), stage="dev", config=config)
    template = Template.from_stack(stage.workloads["Notebooks"])
    repositories = template.find_resources("AWS::SageMaker::CodeRepository")
    assert sorted(r["Properties"]["GitConfig"]["RepositoryUrl"][-2:] for r in repositories.values()) == [
        "r0",
        "r1",
        "r2",
    ]
    props = next(iter(template.find_resources("AWS::SageMaker::NotebookInstance").values()))["Properties"]
    assert "CodeRepository0" in json.dumps(props["DefaultCodeRepository"])
    additional = [json.dumps(r) for r in props["AdditionalCodeRepositories"]]
    assert len(additional) == 2 and "CodeRepository1" in additional[0] and "CodeRepository2" in additional[1]


def test_on_the_local_aws_the_notebook_group_reaches_the_vpc_only(tmp_path: Path) -> None:
    """The local AWS cannot run the function that looks up S3's prefix list: the network stack
    publishes no id then, and the notebook's group gets no rule for it."""
    stage = compose(new_app(tmp_path), stage="dev", config=load_stage("dev"), local_aws=True)
    network = Template.from_stack(stage.network).to_json()
    assert "S3PrefixListId" not in network["Outputs"]
    assert "s3-prefix-list-id" not in json.dumps(network)
    template = Template.from_stack(stage.workloads["Notebooks"])
    (group,) = template.find_resources("AWS::EC2::SecurityGroup").values()
    assert group["Properties"]["SecurityGroupEgress"] == [
        {"CidrIp": "10.40.0.0/16", "Description": "VPC endpoints", "FromPort": 443, "IpProtocol": "tcp", "ToPort": 443}
    ]
    template.resource_count_is("AWS::EC2::SecurityGroupEgress", 0)
    assert "S3PrefixListId" not in json.dumps(template.to_json())
