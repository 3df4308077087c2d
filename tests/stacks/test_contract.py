"""The contract between the stacks of a stage: workload stacks import only what the data and
network stacks publish, and nothing travels through CDK's automatic cross-stack references."""

from __future__ import annotations

import json
import re

from tests.conftest import SynthesizedStage


def imports(template: dict[str, object]) -> set[str]:
    return set(re.findall(r'"Fn::ImportValue": "([^"]+)"', json.dumps(template)))


def test_every_import_is_a_published_export_of_an_earlier_stack(each_stage: SynthesizedStage) -> None:
    exports = {
        role: {o["Export"]["Name"] for o in each_stage.templates[role]["Outputs"].values()}
        for role in each_stage.templates
    }
    assert imports(each_stage.templates["data"]) == set()
    # The key for the flow logs, the buckets for the S3 gateway endpoint's policy, and the execution
    # role that the network stack lets attach jobs to the VPC.
    assert imports(each_stage.templates["network"]) == {
        f"smplat-{each_stage.name}-{output}"
        for output in ("KeyArn", "DataBucketArn", "ArtifactsBucketArn", "ExecutionRoleArn")
    }
    for role in ("notebooks", "endpoints"):
        assert imports(each_stage.templates[role]) <= exports["data"] | exports["network"], role
    assert f"smplat-{each_stage.name}-PrivateSubnetIds" in imports(each_stage.templates["endpoints"])


def test_no_automatic_cross_stack_references(each_stage: SynthesizedStage) -> None:
    for role, template in each_stage.templates.items():
        text = json.dumps(template)
        assert "Fn::GetStackOutput" not in text, role
        # Every output is published (exported under the stage's prefix), none is CDK's own.
        for output_id, output in template.get("Outputs", {}).items():
            assert output["Export"]["Name"] == f"smplat-{each_stage.name}-{output_id}", (role, output_id)


def test_workload_stacks_deploy_after_the_data_and_network_stacks(each_stage: SynthesizedStage) -> None:
    stage = each_stage.stage
    assert [d.stack_name for d in stage.network.dependencies] == [f"smplat-{each_stage.name}-data"]
    for id, stack in stage.workloads.items():
        # Model Monitor's schedules name the endpoints: monitoring deploys after them too.
        after = [f"smplat-{each_stage.name}-endpoints"] if id == "Monitoring" else []
        assert sorted(d.stack_name for d in stack.dependencies) == [
            f"smplat-{each_stage.name}-data",
            *after,
            f"smplat-{each_stage.name}-network",
        ]


def test_endpoints_run_in_the_endpoint_group_and_jobs_get_their_own(each_stage: SynthesizedStage) -> None:
    network_access = each_stage.stage.workloads["Endpoints"].network
    assert network_access.endpoint_security_group.node.id == "EndpointSecurityGroup"
    assert network_access.job_security_group.node.id == "JobSecurityGroup"
    for model in (
        r for r in each_stage.templates["endpoints"]["Resources"].values() if r["Type"] == "AWS::SageMaker::Model"
    ):
        assert model["Properties"]["VpcConfig"]["SecurityGroupIds"] == [
            {"Fn::ImportValue": f"smplat-{each_stage.name}-EndpointSecurityGroupId"}
        ]
    assert f"smplat-{each_stage.name}-JobSecurityGroupId" not in imports(each_stage.templates["endpoints"])
