"""The renderer and evaluator the stack tests rely on render and decide as AWS does for the cases they use."""

from __future__ import annotations

import pytest

from tests.policies import Principal, Renderer, Request, decide

TOPIC = "arn:aws:sns:eu-west-1:123456789012:alarms"
CLOUDWATCH = Principal("cloudwatch.amazonaws.com")
TLS_ONLY = {
    "Sid": "AllowPublishThroughSSLOnly",
    "Effect": "Deny",
    "Principal": "*",
    "Action": "sns:Publish",
    "Resource": TOPIC,
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}
ALARMS = {
    "Effect": "Allow",
    "Principal": {"Service": "cloudwatch.amazonaws.com"},
    "Action": "sns:Publish",
    "Resource": TOPIC,
    "Condition": {
        "StringEquals": {"aws:SourceAccount": "123456789012"},
        "ArnLike": {"aws:SourceArn": ["arn:aws:cloudwatch:eu-west-1:123456789012:alarm:app-*"]},
    },
}


def alarm(name: str, *, tls: str = "true", account: str = "123456789012") -> Request:
    context = {
        "aws:SourceArn": f"arn:aws:cloudwatch:eu-west-1:{account}:alarm:{name}",
        "aws:SourceAccount": account,
        "aws:SecureTransport": tls,
    }
    return Request(CLOUDWATCH, "SNS:Publish", TOPIC, context)


def test_a_deny_alone_allows_nothing_and_an_explicit_deny_wins() -> None:
    # What CDK's enforce_ssl leaves on a topic: the default policy is gone, nothing is allowed.
    assert decide(alarm("app-cpu"), {"Statement": [TLS_ONLY]}) == "ImplicitDeny"
    assert decide(alarm("app-cpu"), {"Statement": [TLS_ONLY, ALARMS]}) == "Allow"
    assert decide(alarm("app-cpu", tls="false"), {"Statement": [TLS_ONLY, ALARMS]}) == "Deny"


def test_every_condition_must_hold_and_a_missing_key_never_matches() -> None:
    policy = {"Statement": [ALARMS]}
    assert decide(alarm("other-cpu"), policy) == "ImplicitDeny"
    assert decide(alarm("app-cpu", account="210987654321"), policy) == "ImplicitDeny"
    assert decide(Request(CLOUDWATCH, "sns:Publish", TOPIC), policy) == "ImplicitDeny"
    sns = Principal("sns.amazonaws.com")
    assert decide(Request(sns, "sns:Publish", TOPIC, alarm("app-cpu").context), policy) == "ImplicitDeny"


def test_an_operator_it_does_not_know_is_refused() -> None:
    statement = ALARMS | {"Condition": {"NumericLessThan": {"aws:SourceAccount": "1234"}}}
    with pytest.raises(NotImplementedError, match="NumericLessThan"):
        decide(alarm("app-cpu"), {"Statement": [statement]})


QUEUE_ARN = "arn:aws:sqs:eu-west-1:123456789012:q"
TEMPLATES = {
    "data": {
        "Resources": {"Queue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": "q"}}},
        "Outputs": {"QueueArn": {"Value": {"Fn::GetAtt": ["Queue", "Arn"]}, "Export": {"Name": "smplat-dev-QueueArn"}}},
    },
    "app": {"Resources": {}},
}


def test_render_joins_and_resolves_pseudo_parameters_resources_and_imports() -> None:
    renderer = Renderer(TEMPLATES)
    value = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sqs:", {"Ref": "AWS::Region"}, ":x"]]}
    assert renderer.render(value, "app") == "arn:aws:sqs:eu-west-1:x"
    assert renderer.render({"Fn::GetAtt": ["Queue", "Arn"]}, "data") == QUEUE_ARN
    assert renderer.render({"Fn::ImportValue": "smplat-dev-QueueArn"}, "app") == QUEUE_ARN  # the exporter's value
    # An export of a stack it was not given: a realistic value all the same.
    elsewhere = {"Fn::ImportValue": "smplat-dev-ArtifactsBucketArn"}
    assert renderer.render(elsewhere, "app") == "arn:aws:s3:::smplat-artifacts"
    with pytest.raises(KeyError):
        renderer.render({"Ref": "Unknown"}, "app")
    with pytest.raises(KeyError):
        renderer.render({"Fn::GetAtt": ["Queue", "Arn"]}, "app")
