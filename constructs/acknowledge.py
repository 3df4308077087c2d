"""Acknowledges compliance findings at the construct that causes them, each with its reason."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from aws_cdk import Acknowledgment, Stack, Validations
from aws_cdk import aws_iam as iam

from constructs import IConstruct

# The cdk-nag packs registered in app.py that carry the HIPAA / NIST / PCI variants of a rule.
COMPLIANCE_PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


def acknowledge(scope: IConstruct, reasons: Mapping[str, str]) -> None:
    """Acknowledge each rule id in `reasons` on `scope` (and its children) with its reason."""
    if reasons:  # one call for all: each call into the CDK is a round trip to its Node process
        Validations.of(scope).acknowledge(*[Acknowledgment(id=rule, reason=why) for rule, why in reasons.items()])


def acknowledge_wildcard_resources(policy: iam.ManagedPolicy, reason: str) -> list[str]:
    """Acknowledge AwsSolutions-IAM5 for exactly the wildcard resources `policy` holds now (call it
    once the policy is complete); returns the finding IDs. cdk-nag names each finding after the
    resource as it renders it, so the IDs are rendered the same way from the resolved policy."""
    document = Stack.of(policy).resolve(policy.document.to_json())
    findings = []
    for statement in document.get("Statement", []):
        resources = statement.get("Resource", [])
        for resource in resources if isinstance(resources, list) else [resources]:
            text = _nag_text(resource)
            if "*" in text:
                findings.append(f"AwsSolutions-IAM5[Resource::{text}]")
    acknowledge(policy, dict.fromkeys(sorted(set(findings)), reason))
    return findings


def _nag_text(value: Any) -> str:
    """A resolved CloudFormation value as cdk-nag prints it in a finding ID."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return f"<{argument}>"
        if function == "Fn::ImportValue" and isinstance(argument, str):
            return argument
        if function == "Fn::GetAtt":
            return f"<{argument[0]}.{argument[1]}>"
        if function == "Fn::Join":
            return argument[0].join(_nag_text(part) for part in argument[1])
    return json.dumps(value, separators=(",", ":"))
