"""RealtimeEndpoint edge cases, each synthesized fresh (with the compliance packs) from a stage
file changed in one place: what a config change replaces, NVMe instances, marketplace and
serverless models, shadow and multiple variants, built-in images."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from app import add_compliance_checks, compose
from config import parse_stage
from tests.config.test_stage_files import DEV
from tests.conftest import new_app
from tests.test_app import acknowledgments

MARKETPLACE_ARN = "arn:aws:sagemaker:us-east-1:865070037744:model-package/fraud-detector-4f2b1c"
XGBOOST_IMAGE = "683313688378.dkr.ecr.us-east-1.amazonaws.com/sagemaker-xgboost:1.7-1"


def endpoint_entry(**changes: Any) -> dict[str, Any]:
    return copy.deepcopy(DEV["endpoints"][0]) | changes


def synthesize(tmp_path: Path, entry: dict[str, Any]) -> tuple[dict[str, Any], dict[str, dict[str, str]]]:
    """The dev stage with `entry` as its only endpoint: the endpoints template and the acknowledgments."""
    raw = copy.deepcopy(DEV) | {"endpoints": [entry]}
    app = new_app(tmp_path)
    stage = compose(app, stage="dev", config=parse_stage(raw, source="test.yaml", stage="dev"))
    add_compliance_checks(app)
    assembly = app.synth()  # fails on any unacknowledged finding
    template = (
        assembly.get_nested_assembly(stage.artifact_id)
        .get_stack_by_name(stage.workloads["Endpoints"].stack_name)
        .template
    )
    return template, acknowledgments(app, "dev")


def of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


def single(template: dict[str, Any], type_name: str) -> dict[str, Any]:
    (resource,) = of_type(template, type_name).values()
    return resource


def test_a_new_model_version_instance_type_or_scaling_keeps_the_endpoint_and_replaces_model_and_config(
    tmp_path: Path,
) -> None:
    before, _ = synthesize(tmp_path / "before", endpoint_entry())
    changed = endpoint_entry()
    changed["model"]["artifact_key"] = "models/sample/v2/model.tar.gz"
    changed["variants"][0]["instance_type"] = "ml.c5.large"
    changed["variants"][0]["autoscaling"] |= {"max_capacity": 3, "max_rps_per_instance": 6000}
    after, _ = synthesize(tmp_path / "after", changed)
    kinds = (
        "AWS::SageMaker::Endpoint",
        "AWS::ApplicationAutoScaling::ScalableTarget",
        "AWS::SageMaker::Model",
        "AWS::SageMaker::EndpointConfig",
    )
    for kind in kinds:
        assert of_type(before, kind).keys() == of_type(after, kind).keys(), kind  # same logical IDs
    # The endpoint keeps its name and is updated in place (its properties are unchanged text:
    # CloudFormation resolves the new configuration's name)...
    assert single(before, kinds[0])["Properties"] == single(after, kinds[0])["Properties"]
    target_before, target_after = single(before, kinds[1])["Properties"], single(after, kinds[1])["Properties"]
    assert target_before["ResourceId"] == target_after["ResourceId"]
    assert (target_before["MaxCapacity"], target_after["MaxCapacity"]) == (2, 3)
    # ...while the model and the configuration, immutable and unnamed, are created anew.
    model_before, model_after = single(before, kinds[2])["Properties"], single(after, kinds[2])["Properties"]
    assert "ModelName" not in model_after and model_before["PrimaryContainer"] != model_after["PrimaryContainer"]
    config_before, config_after = single(before, kinds[3])["Properties"], single(after, kinds[3])["Properties"]
    assert "EndpointConfigName" not in config_after
    assert config_after["ProductionVariants"][0]["InstanceType"] == "ml.c5.large"
    assert config_before["ProductionVariants"][0]["VariantName"] == config_after["ProductionVariants"][0]["VariantName"]


def test_nvme_instances_go_without_a_volume_key_and_say_why(tmp_path: Path) -> None:
    entry = endpoint_entry(variants=[{"instance_type": "ml.g5.xlarge"}])
    template, acknowledged = synthesize(tmp_path, entry)
    config = single(template, "AWS::SageMaker::EndpointConfig")["Properties"]
    assert "KmsKeyId" not in config
    assert "KmsKeyId" in config["DataCaptureConfig"]  # captures are still encrypted with the platform key
    rules = acknowledged["Endpoints/EndpointSample/Config"]
    assert set(rules) == {
        f"{pack}-SageMakerEndpointConfigurationKMSKeyConfigured"
        for pack in ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")
    }
    assert all("ml.g5.xlarge" in reason and "NVMe" in reason for reason in rules.values())


def test_a_marketplace_model_runs_isolated_and_needs_no_bucket_or_image_access(tmp_path: Path) -> None:
    entry = endpoint_entry(
        model={"source": "marketplace", "model_package": MARKETPLACE_ARN},
        network_isolation=False,
        deployment={"traffic_shifting": "all_at_once"},
    )
    template, _ = synthesize(tmp_path, entry)
    model = single(template, "AWS::SageMaker::Model")["Properties"]
    assert model["PrimaryContainer"] == {"ModelPackageName": MARKETPLACE_ARN}
    assert model["EnableNetworkIsolation"] is True  # SageMaker requires it for marketplace models
    role = json.dumps(
        next(p for p in of_type(template, "AWS::IAM::ManagedPolicy").values() if "UsePlatformKey" in json.dumps(p))
    )
    assert '"ReadModel"' not in role and '"PullPlatformImages"' not in role


def test_a_serverless_endpoint_has_no_vpc_no_instance_alarms_and_no_scaling_target(tmp_path: Path) -> None:
    entry = endpoint_entry(
        variants=[{"serverless": {"memory_size_mb": 2048, "max_concurrency": 5}}],
        data_capture=None,
        monitoring=None,
        network_isolation=False,
    )
    template, _ = synthesize(tmp_path, entry)
    assert "VpcConfig" not in single(template, "AWS::SageMaker::Model")["Properties"]
    (variant,) = single(template, "AWS::SageMaker::EndpointConfig")["Properties"]["ProductionVariants"]
    assert variant["ServerlessConfig"] == {"MaxConcurrency": 5, "MemorySizeInMB": 2048}
    assert "InstanceType" not in variant and "InitialInstanceCount" not in variant
    alarms = sorted(a["Properties"]["AlarmName"] for a in of_type(template, "AWS::CloudWatch::Alarm").values())
    assert alarms == [
        "smplat-dev-sample-errors4xx-rate",
        "smplat-dev-sample-errors5xx",
        "smplat-dev-sample-latency-p99",
    ]
    assert of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget") == {}


def test_a_shadow_variant_runs_a_challenger_from_a_built_in_image(tmp_path: Path) -> None:
    entry = endpoint_entry(
        shadow={
            "model": {
                "source": "artifact",
                "artifact_key": "models/challenger/model.tar.gz",
                "image_uri": XGBOOST_IMAGE,
            },
            "instance_type": "ml.m5.large",
            "weight": 0.5,
        },
        deployment={"traffic_shifting": "linear", "linear_step_percent": 25, "wait_minutes": 5, "max_minutes": 60},
    )
    template, _ = synthesize(tmp_path, entry)
    models = of_type(template, "AWS::SageMaker::Model")
    shadow_id = next(k for k in models if "ShadowModel" in k)
    assert models[shadow_id]["Properties"]["PrimaryContainer"]["Image"] == XGBOOST_IMAGE
    (shadow,) = single(template, "AWS::SageMaker::EndpointConfig")["Properties"]["ShadowProductionVariants"]
    assert shadow["ModelName"] == {"Fn::GetAtt": [shadow_id, "ModelName"]} and shadow["InitialVariantWeight"] == 0.5
    routing = single(template, "AWS::SageMaker::Endpoint")["Properties"]["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    assert routing["TrafficRoutingConfiguration"]["LinearStepSize"] == {"Type": "CAPACITY_PERCENT", "Value": 25}
    # The role may pull the built-in image's repository (in AWS's account) besides the platform's,
    # and read the challenger's artifact.
    role = json.dumps(
        [p for p in of_type(template, "AWS::IAM::ManagedPolicy").values() if "ReadModel" in json.dumps(p)]
    )
    assert ":683313688378:repository/sagemaker-xgboost" in role and "/models/challenger/model.tar.gz" in role
    # Alarms watch production only: a failing challenger must not roll production back.
    alarms = json.dumps(of_type(template, "AWS::CloudWatch::Alarm"))
    assert '"Value": "primary"' in alarms and "shadow" not in alarms


def test_weighted_variants_are_watched_together(tmp_path: Path) -> None:
    entry = endpoint_entry(
        variants=[
            {"name": "blue", "instance_type": "ml.m5.large", "weight": 3},
            {"name": "green", "instance_type": "ml.c5.xlarge", "weight": 1},
        ]
    )
    template, _ = synthesize(tmp_path, entry)
    config = single(template, "AWS::SageMaker::EndpointConfig")["Properties"]
    assert [(v["VariantName"], v["InitialVariantWeight"]) for v in config["ProductionVariants"]] == [
        ("blue", 3),
        ("green", 1),
    ]
    # One alarm per signal over both variants; CPU is divided by each type's vCPUs.
    alarms = {
        a["Properties"]["AlarmName"]: a["Properties"] for a in of_type(template, "AWS::CloudWatch::Alarm").values()
    }
    metrics = alarms["smplat-dev-sample-cpu"]["Metrics"]
    variants = {m["MetricStat"]["Metric"]["Dimensions"][1]["Value"] for m in metrics if "MetricStat" in m}
    assert variants == {"blue", "green"}
    (expression,) = [m["Expression"] for m in metrics if "Expression" in m]
    assert expression == "MAX([cpuutilization0 / 2, cpuutilization1 / 4])"
    (errors,) = [m["Expression"] for m in alarms["smplat-dev-sample-errors5xx"]["Metrics"] if "Expression" in m]
    assert errors == "SUM([invocation5xxerrors0, invocation5xxerrors1])"
    # Neither variant autoscales: the stage file's instance counts apply on every deployment.
    excluded = single(template, "AWS::SageMaker::Endpoint")["Properties"]["ExcludeRetainedVariantProperties"]
    assert excluded == [{"VariantPropertyType": "DesiredWeight"}, {"VariantPropertyType": "DesiredInstanceCount"}]


def test_a_registry_version_by_arn_needs_no_deploy_time_lookup(tmp_path: Path) -> None:
    package = "arn:aws:sagemaker:us-east-1:123456789012:model-package/smplat-dev/7"
    entry = endpoint_entry(model={"source": "registry", "model_package": package})
    template, _ = synthesize(tmp_path, entry)
    assert single(template, "AWS::SageMaker::Model")["Properties"]["PrimaryContainer"] == {"ModelPackageName": package}
    assert set(template.get("Parameters", {})) == {"BootstrapVersion"}
