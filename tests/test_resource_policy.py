"""The resource-policy evaluator the stack tests rely on decides as AWS does for the cases they use."""

from __future__ import annotations

import pytest

from tests.resource_policy import Request, decide, render

TOPIC = "arn:aws:sns:eu-west-1:123456789012:alarms"
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
    return Request("cloudwatch.amazonaws.com", "SNS:Publish", TOPIC, context)


def test_a_deny_alone_allows_nothing_and_an_explicit_deny_wins() -> None:
    # What CDK's enforce_ssl leaves on a topic: the default policy is gone, nothing is allowed.
    assert decide({"Statement": [TLS_ONLY]}, alarm("app-cpu")) == "ImplicitDeny"
    assert decide({"Statement": [TLS_ONLY, ALARMS]}, alarm("app-cpu")) == "Allow"
    assert decide({"Statement": [TLS_ONLY, ALARMS]}, alarm("app-cpu", tls="false")) == "Deny"


def test_every_condition_must_hold_and_a_missing_key_never_matches() -> None:
    policy = {"Statement": [ALARMS]}
    assert decide(policy, alarm("other-cpu")) == "ImplicitDeny"
    assert decide(policy, alarm("app-cpu", account="210987654321")) == "ImplicitDeny"
    assert decide(policy, Request("cloudwatch.amazonaws.com", "sns:Publish", TOPIC)) == "ImplicitDeny"
    assert decide(policy, Request("sns.amazonaws.com", "sns:Publish", TOPIC, alarm("app-cpu").context)) == (
        "ImplicitDeny"
    )


def test_an_operator_it_does_not_know_is_refused() -> None:
    statement = ALARMS | {"Condition": {"StringLike": {"aws:SourceAccount": "1234*"}}}
    with pytest.raises(NotImplementedError, match="StringLike"):
        decide({"Statement": [statement]}, alarm("app-cpu"))


def test_render_joins_and_resolves_pseudo_parameters_and_given_ids() -> None:
    value = {"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":sqs:", {"Ref": "AWS::Region"}, ":x"]]}
    assert render(value) == "arn:aws:sqs:eu-west-1:x"
    assert render({"Fn::GetAtt": ["Queue", "Arn"]}, {"Queue.Arn": "q"}) == "q"
    assert render({"Fn::GetAtt": ["Queue", "Arn"]}) == {"Fn::GetAtt": ["Queue", "Arn"]}
    with pytest.raises(KeyError):
        render({"Ref": "Unknown"})
