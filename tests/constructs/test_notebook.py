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
