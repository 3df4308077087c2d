"""Acknowledges compliance findings at the construct that causes them, each with its reason."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Acknowledgment, Validations

from constructs import IConstruct

# The cdk-nag packs registered in app.py that carry the HIPAA / NIST / PCI variants of a rule.
COMPLIANCE_PACKS = ("HIPAA.Security", "NIST.800.53.R5", "PCI.DSS.321")


def acknowledge(scope: IConstruct, reasons: Mapping[str, str]) -> None:
    """Acknowledge each rule id in `reasons` on `scope` (and its children) with its reason."""
    for rule_id, reason in reasons.items():
        Validations.of(scope).acknowledge(Acknowledgment(id=rule_id, reason=reason))
