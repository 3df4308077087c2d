"""The dev stage deployed with the real CDK CLI to a local AWS (moto on loopback), then updated."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from config import yaml_core
from local_aws.deploy import client, deploy, ssm_parameters, stack_outputs
from local_aws.moto_server import LocalAws
from model_code.lifecycle import labelled_rows, runtime_client
from model_code.local_training import TrainingResult
from model_code.serve import extract_model, running_server

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def first_deploy(aws: LocalAws) -> dict[str, dict[str, str]]:
    # Every stack at once: moto does not refuse an endpoint whose model is not uploaded yet
    # (test_ordered_deploy.py runs the steps a real account needs).
    deploy(aws, "dev")
    roles = ("data", "network", "notebooks", "endpoints", "pipelines", "labeling", "monitoring")
    return {role: stack_outputs(aws, f"smplat-dev-{role}") for role in roles}


def deployed_endpoint(aws: LocalAws) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """The endpoint, its configuration and its model as the local AWS describes them."""
    sagemaker = client(aws, "sagemaker")
    # moto names the endpoint after the stack and logical ID, not EndpointName: there is one.
    (summary,) = sagemaker.list_endpoints()["Endpoints"]
    endpoint = sagemaker.describe_endpoint(EndpointName=summary["EndpointName"])
    config = sagemaker.describe_endpoint_config(EndpointConfigName=endpoint["EndpointConfigName"])
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    return endpoint, config, model


def test_outputs_equal_the_ssm_parameters(aws: LocalAws, first_deploy: dict[str, dict[str, str]]) -> None:
    parameters = ssm_parameters(aws, "/smplat/dev")
    published = {k: v for outputs in first_deploy.values() for k, v in outputs.items()}
    assert (
        len(published) == len(parameters) == 20 + 5 + 2 + 5 + 4 + 5 + 6
    )  # data, network, notebooks, endpoints, pipelines, labeling, monitoring
    assert parameters["/smplat/dev/train-channel-uri"] == published["TrainChannelUri"]
    assert parameters["/smplat/dev/vpc-id"] == published["VpcId"]
    # The local AWS cannot run the lookup of S3's prefix list (a Lambda function): no id to publish.
    assert "S3PrefixListId" not in published
    assert published["TrainChannelUri"] == f"s3://{published['DataBucketName']}/train/"


def test_the_pipelines_stack_deploys_its_roles_and_code_bundles(
    aws: LocalAws, first_deploy: dict[str, dict[str, str]]
) -> None:
    """The local AWS has no SageMaker Pipeline resource (tests/stacks/test_pipeline_stack.py asserts the
    pipeline on the template); what it does model is checked here: the roles under the stack's path,
    and the code bundle that the CDK CLI uploaded to the bootstrap bucket as a file asset."""
    outputs = first_deploy["pipelines"]
    assert outputs["PipelineSampleName"] == "smplat-dev-sample"
    assert outputs["PipelineSampleArn"].endswith(":pipeline/smplat-dev-sample")
    iam = client(aws, "iam")
    for output in ("PipelineSampleJobRoleArn", "PipelineSampleRoleArn"):
        role = iam.get_role(RoleName=outputs[output].rsplit("/", 1)[1])["Role"]
        assert role["Path"] == "/smplat-dev-pipelines/"
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    s3 = client(aws, "s3")
    (bucket,) = [b["Name"] for b in s3.list_buckets()["Buckets"] if b["Name"].startswith("cdk-hnb659fds-assets-")]
    bundles = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", []) if o["Key"].endswith(".gz")]
    assert bundles, "the sample's code bundle (model_code/ as sourcedir.tar.gz) was not uploaded"


def test_the_labeling_stack_deploys_its_role_topics_and_outputs(
    aws: LocalAws, first_deploy: dict[str, dict[str, str]]
) -> None:
    """The local AWS has no CloudFormation model of Cognito user pools, domains, clients and groups, nor of
    work teams: it skips them (tests/stacks/test_labeling_stack.py asserts them on the template). What it
    models is checked here: the labeling role under the stack's path, the work team's topic, the outputs."""
    outputs, data = first_deploy["labeling"], first_deploy["data"]
    assert outputs["LabelingWorkTeamAnnotatorsArn"].endswith(":workteam/private-crowd/smplat-dev-annotators")
    assert outputs["LabelingManifestPrefix"] == f"s3://{data['DataBucketName']}/labeling/manifests/"
    assert outputs["LabelingOutputPrefix"] == f"s3://{data['DataBucketName']}/labeling/output/"
    assert outputs["LabelingPortalUrl"].startswith("https://") and ".auth." in outputs["LabelingPortalUrl"]
    role = client(aws, "iam").get_role(RoleName=outputs["LabelingRoleArn"].rsplit("/", 1)[1])["Role"]
    assert role["Path"] == "/smplat-dev-labeling/"
    sns = client(aws, "sns")
    attributes = [sns.get_topic_attributes(TopicArn=t["TopicArn"])["Attributes"] for t in sns.list_topics()["Topics"]]
    (topic,) = [a for a in attributes if "work team smplat-dev-annotators" in a.get("DisplayName", "")]
    assert topic["KmsMasterKeyId"] == data["KeyArn"]


def test_the_monitoring_stack_deploys_its_schedule_runbook_and_roles(
    aws: LocalAws, first_deploy: dict[str, dict[str, str]]
) -> None:
    """The drift check of the dev endpoint as the local AWS models it: the hourly rule that starts the
    runbook, the runbook whose script is ops/monitoring_window.py, the roles under the stack's path, the
    outputs (the local AWS skips the SageMaker Pipeline; tests/stacks/test_monitoring_stack.py asserts it)."""
    outputs, data = first_deploy["monitoring"], first_deploy["data"]
    assert outputs["MonitorSamplePipelineName"] == "smplat-dev-sample-monitor"
    assert (
        outputs["MonitorSampleReportsUri"]
        == f"s3://{data['ArtifactsBucketName']}/monitoring/smplat-dev-sample/reports/"
    )
    assert outputs["MonitorSampleGroundTruthUri"] == f"s3://{data['ArtifactsBucketName']}/ground-truth/sample/"
    assert outputs["MonitoringNamespace"] == "smplat/Monitoring"
    rule = client(aws, "events").describe_rule(Name=outputs["MonitorSampleScheduleRuleName"])
    assert rule["ScheduleExpression"] == "rate(1 hour)"
    (target,) = client(aws, "events").list_targets_by_rule(Rule=rule["Name"])["Targets"]
    assert target["Arn"].endswith(f":automation-definition/{outputs['MonitorSampleRunbookName']}:$DEFAULT")
    document = client(aws, "ssm").get_document(Name=outputs["MonitorSampleRunbookName"])
    # The local AWS keeps a content that CloudFormation gave as an object in Python's notation.
    step = ast.literal_eval(document["Content"])["mainSteps"][0]
    assert step["inputs"]["Script"] == (ROOT / "ops" / "monitoring_window.py").read_text()
    assert step["inputs"]["InputPayload"]["ArtifactsBucket"] == data["ArtifactsBucketName"]
    roles = client(aws, "iam").list_roles(PathPrefix="/smplat-dev-monitoring/")["Roles"]
    kinds = ("JobRole", "PipelineRole", "RunbookRole", "TriggerRole")
    assert sorted(kind for r in roles for kind in kinds if f"MonitorSample{kind}" in r["RoleName"]) == list(kinds)


def test_deployed_resources_are_what_the_template_says(aws: LocalAws, first_deploy: dict[str, dict[str, str]]) -> None:
    # moto applies only part of each resource's properties (not versioning, access logging or
    # scan-on-push, for instance): those are asserted on the synthesized templates instead.
    data = first_deploy["data"]
    s3 = client(aws, "s3")
    rule = s3.get_bucket_encryption(Bucket=data["DataBucketName"])["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": data["KeyArn"]}
    kms = client(aws, "kms")
    assert kms.get_key_rotation_status(KeyId=data["KeyArn"])["KeyRotationEnabled"] is True
    (repository,) = client(aws, "ecr").describe_repositories(repositoryNames=["smplat-dev-training"])["repositories"]
    assert repository["imageTagMutability"] == "IMMUTABLE"
    subnets = client(aws, "ec2").describe_subnets(SubnetIds=first_deploy["network"]["PrivateSubnetIds"].split(","))[
        "Subnets"
    ]
    assert len({s["AvailabilityZone"] for s in subnets}) == 2
    assert not any(s["MapPublicIpOnLaunch"] for s in subnets)
    notebooks = client(aws, "sagemaker").list_notebook_instances()["NotebookInstances"]
    # moto keeps only the type and role of a notebook (not its name): the rest is asserted on the template.
    assert [n["InstanceType"] for n in notebooks] == ["ml.t3.medium"]

    endpoint, config, model = deployed_endpoint(aws)
    published = first_deploy["endpoints"]
    assert endpoint["EndpointStatus"] == "InService"
    assert [(v["VariantName"], v["InstanceType"], v["InitialInstanceCount"]) for v in config["ProductionVariants"]] == [
        ("primary", "ml.m5.large", 1)
    ]
    assert config["KmsKeyId"] == data["KeyArn"]
    assert config["DataCaptureConfig"]["DestinationS3Uri"] == published["EndpointSampleDataCaptureUri"]
    assert published["EndpointSampleDataCaptureUri"].startswith(f"s3://{data['ArtifactsBucketName']}/data-capture/")
    assert model["PrimaryContainer"] == {
        "Image": f"{data['InferenceRepositoryUri']}:sample-1",
        "ModelDataUrl": f"s3://{data['ArtifactsBucketName']}/models/sample/model.tar.gz",
    }
    assert model["VpcConfig"]["Subnets"] == first_deploy["network"]["PrivateSubnetIds"].split(",")
    assert model["VpcConfig"]["SecurityGroupIds"] == [first_deploy["network"]["EndpointSecurityGroupId"]]
    assert published["EndpointSampleName"] == "smplat-dev-sample"


def test_the_endpoint_model_runs_in_the_serving_container_and_answers_by_the_published_name(
    aws: LocalAws, first_deploy: dict[str, dict[str, str]], trained: TrainingResult, channels: Path, tmp_path: Path
) -> None:
    """The dev endpoint's model, trained by the model code, fetched from where the deployed model
    says, run by the serving entry point under the name the deployed template gives the endpoint,
    and invoked as the README tells consumers to: by the name published in SSM. Another name is
    refused, as SageMaker Runtime refuses an endpoint that does not exist."""
    _, _, model = deployed_endpoint(aws)
    bucket, key = model["PrimaryContainer"]["ModelDataUrl"].removeprefix("s3://").split("/", 1)
    s3 = client(aws, "s3")
    assert trained.model_artifact is not None
    s3.upload_file(str(trained.model_artifact), bucket, key)  # as `make demo` does after training
    s3.download_file(bucket, key, str(tmp_path / "model.tar.gz"))  # as SageMaker does on each instance
    # moto names the endpoint otherwise (see deployed_endpoint): SageMaker would use EndpointName.
    template = client(aws, "cloudformation").get_template(StackName="smplat-dev-endpoints")["TemplateBody"]
    (endpoint_name,) = [
        r["Properties"]["EndpointName"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::SageMaker::Endpoint"
    ]
    assert endpoint_name == "smplat-dev-sample"
    published = client(aws, "ssm").get_parameter(Name="/smplat/dev/endpoint-sample-name")["Parameter"]["Value"]
    rows, labels = labelled_rows(channels / "test", limit=8)
    body = "\n".join(rows).encode()
    with running_server(
        extract_model(tmp_path / "model.tar.gz", tmp_path / "model"), workers=1, endpoint_name=endpoint_name
    ) as url:
        runtime = runtime_client(url)
        response = runtime.invoke_endpoint(
            EndpointName=published, ContentType="text/csv", Accept="application/json", Body=body
        )
        with pytest.raises(runtime.exceptions.ValidationError) as refused:
            runtime.invoke_endpoint(
                EndpointName="smplat-dev-sample-v2", ContentType="text/csv", Accept="application/json", Body=body
            )
    assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert refused.value.response["Error"] == {
        "Code": "ValidationError",
        "Message": "Endpoint smplat-dev-sample-v2 of account local not found.",
    }
    predictions = json.loads(response["Body"].read())["predictions"]
    assert len(predictions) == len(rows) == 8
    assert sum(p["predicted_label"] == int(label) for p, label in zip(predictions, labels, strict=True)) >= 7


def test_a_config_change_updates_in_place_and_keeps_stateful_resources(
    aws: LocalAws, first_deploy: dict[str, dict[str, str]], tmp_path: Path
) -> None:
    raw = yaml_core.load((ROOT / "config" / "dev.yaml").read_text()).data
    raw["data"]["max_images_per_repository"] = 5
    raw["notebooks"][0] |= {"idle_timeout_minutes": 30, "volume_size_gb": 40}
    # A new model version on another instance type, with other scaling settings.
    raw["endpoints"][0]["model"]["artifact_key"] = "models/sample/v2/model.tar.gz"
    raw["endpoints"][0]["variants"][0]["instance_type"] = "ml.c5.large"
    raw["endpoints"][0]["variants"][0]["autoscaling"] |= {"max_capacity": 3, "safety_factor": 0.4}
    endpoint_before, config_before, model_before = deployed_endpoint(aws)
    # (Not a new notebook or repository: moto registers no exports that a stack update adds.)
    (tmp_path / "dev.yaml").write_text(yaml.safe_dump(raw))
    deploy(aws, "dev", config_dir=tmp_path)
    after = stack_outputs(aws, "smplat-dev-data")
    for kept in ("DataBucketName", "ArtifactsBucketName", "AccessLogsBucketName", "KeyArn", "TrainingRepositoryArn"):
        assert after[kept] == first_deploy["data"][kept], kept
    assert stack_outputs(aws, "smplat-dev-notebooks") == first_deploy["notebooks"]
    assert stack_outputs(aws, "smplat-dev-endpoints") == first_deploy["endpoints"]
    # A new model and endpoint configuration replaced the old ones; the endpoint is the same.
    # (moto does not re-resolve the endpoint's unchanged Fn::GetAtt of the configuration's name on
    # update, as CloudFormation does: the endpoint's pointer is asserted on the template instead.)
    sagemaker = client(aws, "sagemaker")
    (endpoint,) = sagemaker.list_endpoints()["Endpoints"]
    assert endpoint["EndpointArn"] == endpoint_before["EndpointArn"]
    (config,) = sagemaker.list_endpoint_configs()["EndpointConfigs"]
    assert config["EndpointConfigName"] != config_before["EndpointConfigName"]
    config = sagemaker.describe_endpoint_config(EndpointConfigName=config["EndpointConfigName"])
    assert config["ProductionVariants"][0]["InstanceType"] == "ml.c5.large"
    model = sagemaker.describe_model(ModelName=config["ProductionVariants"][0]["ModelName"])
    assert model["ModelName"] != model_before["ModelName"]
    assert model["PrimaryContainer"]["ModelDataUrl"].endswith("/models/sample/v2/model.tar.gz")
    assert [m["ModelName"] for m in sagemaker.list_models()["Models"]] == [model["ModelName"]]
    cfn = client(aws, "cloudformation")
    for stack in ("smplat-dev-data", "smplat-dev-notebooks", "smplat-dev-endpoints"):
        assert cfn.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"] == "UPDATE_COMPLETE"
