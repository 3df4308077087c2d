"""The endpoints stack of each shipped stage: model, endpoint configuration, guardrails,
autoscaling, alarms, invoke policy and outputs, asserted on the synthesized template."""

from __future__ import annotations

import json
from typing import Any

from tests.conftest import SynthesizedStage
from tests.policies import ACCOUNT, REGION, Principal, Renderer, Request, decide


def only(stage: SynthesizedStage, type_name: str) -> tuple[str, dict[str, Any]]:
    ((logical_id, resource),) = stage.resources("endpoints", type_name).items()
    return logical_id, resource


def endpoint_name(stage: SynthesizedStage) -> str:
    return {"dev": "smplat-dev-sample", "prod": "smplat-prod-fraud-scoring"}[stage.name]


def test_model_runs_isolated_in_the_private_subnets_as_its_own_role(each_stage: SynthesizedStage) -> None:
    _, model = only(each_stage, "AWS::SageMaker::Model")
    props = model["Properties"]
    role_id, _ = only(each_stage, "AWS::IAM::Role")
    assert props["ExecutionRoleArn"] == {"Fn::GetAtt": [role_id, "Arn"]}  # not the shared execution role
    assert props["EnableNetworkIsolation"] is True
    zones = len(each_stage.config.network.availability_zones or ("a", "b"))
    assert len(props["VpcConfig"]["Subnets"]) == zones >= 2  # SageMaker spreads instances over these AZs
    assert len(props["VpcConfig"]["SecurityGroupIds"]) == 1
    assert "ModelName" not in props  # generated: a changed model is a new model
    assert set(model["DependsOn"]) >= {role_id}


def test_model_sources(stages: dict[str, SynthesizedStage]) -> None:
    _, dev_model = only(stages["dev"], "AWS::SageMaker::Model")
    container = json.dumps(dev_model["Properties"]["PrimaryContainer"])
    assert "smplat-dev-InferenceRepositoryArn" in container and "/smplat-dev-inference:sample-1" in container
    assert "smplat-dev-ArtifactsBucketArn" in container and "/models/sample/model.tar.gz" in container
    # prod: the latest approved package, read from SSM by CloudFormation at deploy time.
    prod = stages["prod"]
    _, prod_model = only(prod, "AWS::SageMaker::Model")
    reference = prod_model["Properties"]["PrimaryContainer"]["ModelPackageName"]
    parameter = prod.templates["endpoints"]["Parameters"][reference["Ref"]]
    assert parameter == {
        "Type": "AWS::SSM::Parameter::Value<String>",
        "Default": "/smplat/prod/latest-approved-model-package",
    }


def test_endpoint_config_encrypts_captures_and_spreads_instances(each_stage: SynthesizedStage) -> None:
    _, config = only(each_stage, "AWS::SageMaker::EndpointConfig")
    props = config["Properties"]
    key = {"Fn::ImportValue": f"smplat-{each_stage.name}-KeyArn"}
    assert props["KmsKeyId"] == key
    assert "EndpointConfigName" not in props
    entry = each_stage.config.endpoints[0]
    assert [(v["VariantName"], v["InstanceType"], v["InitialInstanceCount"]) for v in props["ProductionVariants"]] == [
        (v.name, v.instance_type, v.initial_instance_count) for v in entry.variants
    ]
    if each_stage.name == "prod":
        assert all(v["InitialInstanceCount"] >= 2 for v in props["ProductionVariants"])
    capture = props["DataCaptureConfig"]
    assert capture["KmsKeyId"] == key and capture["EnableCapture"] is True
    assert capture["InitialSamplingPercentage"] == entry.data_capture.sampling_percentage  # type: ignore[union-attr]
    assert [o["CaptureMode"] for o in capture["CaptureOptions"]] == ["Input", "Output"]
    assert capture["CaptureContentTypeHeader"] == {
        "CsvContentTypes": ["text/csv"],
        "JsonContentTypes": ["application/json"],
    }
    assert f"/data-capture/{endpoint_name(each_stage)}/" in json.dumps(capture["DestinationS3Uri"])


def test_endpoint_updates_blue_green_and_rolls_back_on_its_alarms(each_stage: SynthesizedStage) -> None:
    config_id, _ = only(each_stage, "AWS::SageMaker::EndpointConfig")
    _, endpoint = only(each_stage, "AWS::SageMaker::Endpoint")
    props = endpoint["Properties"]
    name = endpoint_name(each_stage)
    assert props["EndpointName"] == name
    assert props["EndpointConfigName"] == {"Fn::GetAtt": [config_id, "EndpointConfigName"]}
    assert props["RetainAllVariantProperties"] is True
    assert props["ExcludeRetainedVariantProperties"] == [{"VariantPropertyType": "DesiredWeight"}]
    policy = props["DeploymentConfig"]["BlueGreenUpdatePolicy"]
    # dev: all at once, bake 5 min, at most 30; prod: a 10% canary for 10 min, bake 15, at most 90.
    expected = {
        "dev": {
            "TrafficRoutingConfiguration": {"Type": "ALL_AT_ONCE", "WaitIntervalInSeconds": 0},
            "TerminationWaitInSeconds": 300,
            "MaximumExecutionTimeoutInSeconds": 1800,
        },
        "prod": {
            "TrafficRoutingConfiguration": {
                "Type": "CANARY",
                "CanarySize": {"Type": "CAPACITY_PERCENT", "Value": 10},
                "WaitIntervalInSeconds": 600,
            },
            "TerminationWaitInSeconds": 900,
            "MaximumExecutionTimeoutInSeconds": 5400,
        },
    }[each_stage.name]
    assert policy == expected
    # The rollback alarms are the endpoint's own 5XX and latency alarms, created before it.
    alarms = each_stage.resources("endpoints", "AWS::CloudWatch::Alarm")
    rollback = [a["AlarmName"] for a in props["DeploymentConfig"]["AutoRollbackConfiguration"]["Alarms"]]
    assert rollback == [f"{name}-errors5xx", f"{name}-latency-p99"]
    by_name = {a["Properties"]["AlarmName"]: logical_id for logical_id, a in alarms.items()}
    assert {by_name[n] for n in rollback} <= set(endpoint["DependsOn"])
    metrics = {
        m["MetricStat"]["Metric"]["MetricName"]
        for n in rollback
        for m in alarms[by_name[n]]["Properties"]["Metrics"]
        if "MetricStat" in m
    }
    assert metrics == {"Invocation5XXErrors", "ModelLatency"}


def test_logical_ids_of_the_endpoint_and_its_scaling_target_are_pinned(stages: dict[str, SynthesizedStage]) -> None:
    # The endpoint has a fixed name: if a refactor changed its logical ID, CloudFormation would
    # create the "new" endpoint before deleting the old one, and fail on the name.
    dev = stages["dev"]
    assert only(dev, "AWS::SageMaker::Endpoint")[0] == "EndpointSampleEndpointABDB3F8C"
    assert (
        only(dev, "AWS::ApplicationAutoScaling::ScalableTarget")[0] == "EndpointSamplePrimaryAutoscalingTarget019F3315"
    )


def test_autoscaling_is_registered_after_the_endpoint(each_stage: SynthesizedStage) -> None:
    endpoint_id, _ = only(each_stage, "AWS::SageMaker::Endpoint")
    _, target = only(each_stage, "AWS::ApplicationAutoScaling::ScalableTarget")
    props = target["Properties"]
    variant = each_stage.config.endpoints[0].variants[0]
    scaling = variant.autoscaling
    assert scaling is not None
    assert endpoint_id in target["DependsOn"]  # registered after it exists, removed before it goes
    assert props["ResourceId"] == f"endpoint/{endpoint_name(each_stage)}/variant/{variant.name}"
    assert props["ScalableDimension"] == "sagemaker:variant:DesiredInstanceCount"
    assert (props["MinCapacity"], props["MaxCapacity"]) == (scaling.min_capacity, scaling.max_capacity)
    assert "AWSServiceRoleForApplicationAutoScaling_SageMakerEndpoint" in json.dumps(props["RoleARN"])
    policies = {
        p["Properties"]["PolicyName"].rsplit("/", 1)[-1]: p["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        for p in each_stage.resources("endpoints", "AWS::ApplicationAutoScaling::ScalingPolicy").values()
    }
    invocations = next(p for n, p in policies.items() if "InvocationsPerInstance" in n)
    assert invocations["PredefinedMetricSpecification"] == {
        "PredefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert invocations["ScaleInCooldown"] == scaling.scale_in_cooldown_seconds
    assert invocations["ScaleOutCooldown"] == scaling.scale_out_cooldown_seconds
    if each_stage.name == "dev":
        assert invocations["TargetValue"] == 8000 * 60 * 0.5  # measured max rps x 60 x safety factor
        assert len(policies) == 1 and "ScheduledActions" not in props
    else:
        assert invocations["TargetValue"] == 60000
        cpu = next(p for n, p in policies.items() if "CpuUtilization" in n)
        assert cpu["TargetValue"] == 70 * 4  # CPUUtilization adds up the 4 vCPUs of an ml.c5.xlarge
        assert cpu["CustomizedMetricSpecification"]["Namespace"] == "/aws/sagemaker/Endpoints"
        assert [
            (a["ScheduledActionName"], a["Schedule"], a["Timezone"], a["ScalableTargetAction"]["MinCapacity"])
            for a in props["ScheduledActions"]
        ] == [
            ("BusinessHours", "cron(0 7 ? * MON-FRI *)", "Europe/Dublin", 4),
            ("Evenings", "cron(0 20 ? * MON-FRI *)", "Europe/Dublin", 2),
        ]


def test_alarms_notify_an_encrypted_topic_and_fill_a_dashboard(each_stage: SynthesizedStage) -> None:
    topic_id, topic = only(each_stage, "AWS::SNS::Topic")
    assert topic["Properties"]["KmsMasterKeyId"] == {"Fn::ImportValue": f"smplat-{each_stage.name}-KeyArn"}
    alarms = each_stage.resources("endpoints", "AWS::CloudWatch::Alarm").values()
    name = endpoint_name(each_stage)
    # The drift check's violations; dev's model quality on delivered ground truth.
    quality = ["quality-accuracy", "quality-auc"] if each_stage.name == "dev" else []
    assert sorted(a["Properties"]["AlarmName"].removeprefix(f"{name}-") for a in alarms) == [
        "cpu",
        "data-quality-violations",
        "disk",
        "drift-check-missing",
        "errors4xx-rate",
        "errors5xx",
        "latency-p99",
        "memory",
        *quality,
    ]
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["OKActions"] == [{"Ref": topic_id}]
        assert alarm["Properties"]["TreatMissingData"] == "notBreaching"
    latency = next(a for a in alarms if a["Properties"]["AlarmName"].endswith("latency-p99"))
    # ModelLatency is in microseconds: dev keeps the default 500 ms, prod sets 100 ms.
    assert latency["Properties"]["Threshold"] == {"dev": 500_000, "prod": 100_000}[each_stage.name]
    _, dashboard = only(each_stage, "AWS::CloudWatch::Dashboard")
    assert dashboard["Properties"]["DashboardName"] == name
    subscriptions = each_stage.resources("endpoints", "AWS::SNS::Subscription").values()
    emails = each_stage.config.endpoints[0].alarms.notify_emails
    assert sorted(s["Properties"]["Endpoint"] for s in subscriptions) == sorted(emails)


def test_the_alarm_topic_accepts_publishes_from_this_endpoints_alarms(each_stage: SynthesizedStage) -> None:
    # A topic policy replaces SNS's default policy: without an Allow for CloudWatch, the alarms
    # of the endpoint cannot publish and nobody is notified. Evaluate the request an alarm makes.
    topic_id, _ = only(each_stage, "AWS::SNS::Topic")
    _, policy = only(each_stage, "AWS::SNS::TopicPolicy")
    topic_arn = f"arn:aws:sns:{REGION}:{ACCOUNT}:{topic_id}"
    document = Renderer(each_stage.templates).render(policy["Properties"]["PolicyDocument"], "endpoints")
    assert policy["Properties"]["Topics"] == [{"Ref": topic_id}]
    name = endpoint_name(each_stage)
    alarm_names = sorted(
        a["Properties"]["AlarmName"] for a in each_stage.resources("endpoints", "AWS::CloudWatch::Alarm").values()
    )

    def alarm_arn(alarm: str, account: str = ACCOUNT) -> str:
        return f"arn:aws:cloudwatch:{REGION}:{account}:alarm:{alarm}"

    def publish(
        alarm: str, *, account: str = ACCOUNT, service: str = "cloudwatch.amazonaws.com", tls: str = "true"
    ) -> str:
        context = {"aws:SourceAccount": account, "aws:SourceArn": alarm_arn(alarm, account), "aws:SecureTransport": tls}
        return decide(Request(Principal(service), "sns:Publish", topic_arn, context), document)

    assert len(alarm_names) == {"dev": 10, "prod": 8}[each_stage.name]
    for alarm in alarm_names:
        assert publish(alarm) == "Allow", alarm
    assert publish(alarm_names[0], tls="false") == "Deny"
    assert publish(alarm_names[0], account="210987654321") == "ImplicitDeny"  # the same name elsewhere
    assert publish(f"{name}-shadow-errors5xx") == "ImplicitDeny"  # an endpoint named <name>-shadow
    assert publish(alarm_names[0], service="events.amazonaws.com") == "ImplicitDeny"
    (allow,) = [s for s in document["Statement"] if s["Effect"] == "Allow"]
    assert allow["Condition"] == {
        "StringEquals": {"aws:SourceAccount": ACCOUNT},
        "ArnLike": {
            "aws:SourceArn": [
                alarm_arn(f"{name}-{signal}")
                for signal in (
                    *("errors5xx", "latency-p99", "errors4xx-rate", "cpu", "memory", "disk"),
                    "data-quality-violations",
                    "drift-check-missing",
                    *(("quality-accuracy", "quality-auc") if each_stage.name == "dev" else ()),
                )
            ]
        },
    }


def test_inference_role_reads_its_model_only_and_the_invoke_policy_names_the_endpoint(
    each_stage: SynthesizedStage,
) -> None:
    policies = {
        logical_id: {s["Sid"]: s for s in p["Properties"]["PolicyDocument"]["Statement"]}
        for logical_id, p in each_stage.resources("endpoints", "AWS::IAM::ManagedPolicy").items()
    }
    invoke = next(s for s in policies.values() if "InvokeThisEndpoint" in s)
    assert list(invoke) == ["InvokeThisEndpoint"]
    statement = invoke["InvokeThisEndpoint"]
    assert statement["Action"] == [
        "sagemaker:InvokeEndpoint",
        "sagemaker:InvokeEndpointAsync",
        "sagemaker:InvokeEndpointWithResponseStream",
    ]
    resource = json.dumps(statement["Resource"])
    assert f':endpoint/{endpoint_name(each_stage)}"' in resource and "*" not in resource
    role = next(s for s in policies.values() if "ReadModel" in s)
    everything = json.dumps(role)
    for channel in ("/train/", "/validation/", "/test/"):
        assert channel not in everything  # an endpoint has no business with the training data
    assert "DataBucketArn" not in everything and "iam:PassRole" not in everything
    read = json.dumps(role["ReadModel"]["Resource"])
    expected = "/models/sample/model.tar.gz" if each_stage.name == "dev" else "/models/*"
    assert expected in read
    assert role["WriteDataCapture"]["Action"] == "s3:PutObject"
    assert f"/data-capture/{endpoint_name(each_stage)}/*" in json.dumps(role["WriteDataCapture"]["Resource"])
    each_stage.template("endpoints").resource_count_is("AWS::IAM::Policy", 0)


def test_outputs_are_published_with_exports_and_parameters(each_stage: SynthesizedStage) -> None:
    outputs = each_stage.templates["endpoints"]["Outputs"]
    # output ID -> SSM parameter, per shipped stage
    expected = {
        "dev": {
            "EndpointSampleName": "/smplat/dev/endpoint-sample-name",
            "EndpointSampleArn": "/smplat/dev/endpoint-sample-arn",
            "EndpointSampleInvokePolicyArn": "/smplat/dev/endpoint-sample-invoke-policy-arn",
            "EndpointSampleAlarmTopicArn": "/smplat/dev/endpoint-sample-alarm-topic-arn",
            "EndpointSampleDataCaptureUri": "/smplat/dev/endpoint-sample-data-capture-uri",
        },
        "prod": {
            "EndpointFraudScoringName": "/smplat/prod/endpoint-fraud-scoring-name",
            "EndpointFraudScoringArn": "/smplat/prod/endpoint-fraud-scoring-arn",
            "EndpointFraudScoringInvokePolicyArn": "/smplat/prod/endpoint-fraud-scoring-invoke-policy-arn",
            "EndpointFraudScoringAlarmTopicArn": "/smplat/prod/endpoint-fraud-scoring-alarm-topic-arn",
            "EndpointFraudScoringDataCaptureUri": "/smplat/prod/endpoint-fraud-scoring-data-capture-uri",
        },
    }[each_stage.name]
    assert set(outputs) == set(expected)
    for output_id in expected:
        assert outputs[output_id]["Export"] == {"Name": f"smplat-{each_stage.name}-{output_id}"}
    parameters = {p["Properties"]["Name"] for p in each_stage.resources("endpoints", "AWS::SSM::Parameter").values()}
    assert parameters == set(expected.values())
