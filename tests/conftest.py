"""Session fixtures: every stage in config/ is synthesized once, in-process, with the cdk-nag packs;
the sample data is split into channels and a model trained from it through the real SageMaker
training toolkit, once (the model code and the deploy tests both use it)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk.assertions import Template

from app import add_compliance_checks, compose
from config import StageConfig, available_stages, load_stage
from model_code.data import write_sample_dataset
from model_code.local_training import TrainingResult, run_training_job
from model_code.split import SplitSpec, split_file
from stacks.platform_stage import PlatformStage

ROOT = Path(__file__).resolve().parent.parent
# jsii starts the Node found on PATH: Node 22 from node_modules, as the Makefile sets it.
os.environ["PATH"] = f"{ROOT / 'node_modules' / '.bin'}{os.pathsep}{os.environ['PATH']}"


def new_app(outdir: Path, **context: Any) -> cdk.App:
    """An App with cdk.json's feature flags, as the CLI would give it, failing on findings."""
    flags = json.loads((ROOT / "cdk.json").read_text())["context"]
    return cdk.App(
        outdir=str(outdir),
        context={**flags, **context},
        post_cli_context={"@aws-cdk/core:failSynthOnValidationErrors": True},
    )


@dataclass
class SynthesizedStage:
    name: str
    config: StageConfig
    stage: PlatformStage
    templates: dict[str, dict[str, Any]]  # role ("data", "network", "notebooks", "endpoints") -> template JSON

    def template(self, role: str) -> Template:
        return Template.from_json(self.templates[role])

    def resources(self, role: str, type_name: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.templates[role]["Resources"].items() if v["Type"] == type_name}


@pytest.fixture(scope="session")
def app_and_stages(tmp_path_factory: pytest.TempPathFactory) -> tuple[cdk.App, dict[str, SynthesizedStage]]:
    app = new_app(tmp_path_factory.mktemp("cdk.out"))
    stages = {name: compose(app, stage=name, config=load_stage(name)) for name in available_stages()}
    add_compliance_checks(app)
    assembly = app.synth()  # raises ValidationFailed on any unacknowledged finding
    result = {}
    for name, stage in stages.items():
        nested = assembly.get_nested_assembly(stage.artifact_id)
        stacks = {"data": stage.data, "network": stage.network} | {
            id.lower(): stack for id, stack in stage.workloads.items()
        }
        templates = {role: nested.get_stack_by_name(stack.stack_name).template for role, stack in stacks.items()}
        result[name] = SynthesizedStage(name, load_stage(name), stage, templates)
    return app, result


@pytest.fixture(scope="session")
def stages(app_and_stages: tuple[cdk.App, dict[str, SynthesizedStage]]) -> dict[str, SynthesizedStage]:
    return app_and_stages[1]


@pytest.fixture(scope="session", params=["dev", "prod"])
def each_stage(request: pytest.FixtureRequest, stages: dict[str, SynthesizedStage]) -> SynthesizedStage:
    return stages[request.param]


@pytest.fixture(scope="session")
def channels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("data")
    write_sample_dataset(work / "raw.csv")
    split_file(work / "raw.csv", work / "channels", SplitSpec(stratify=True))
    return work / "channels"


@pytest.fixture(scope="session")
def trained(channels: Path, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    result = run_training_job(tmp_path_factory.mktemp("job"), channels, {"max_depth": 3, "checkpoint_interval": 5})
    assert result.exit_code == 0, result.log[-3000:]
    return result
