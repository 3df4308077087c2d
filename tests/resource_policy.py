"""Renders synthesized CloudFormation values to realistic strings and evaluates a resource policy
against one request, the way AWS decides it for the statements and conditions these templates use.

Deliberately small and explicit: an explicit Deny wins, then any Allow, else the request is
implicitly denied. Condition operators other than the few below raise, so that a policy using one
this evaluator does not know cannot pass a test by accident."""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

PARTITION, REGION, ACCOUNT = "aws", "eu-west-1", "123456789012"
PSEUDO = {"AWS::Partition": PARTITION, "AWS::Region": REGION, "AWS::AccountId": ACCOUNT}


def render(value: Any, refs: Mapping[str, str] | None = None) -> Any:
    """`value` with `Fn::Join`s joined, `Ref`s to pseudo parameters and to the logical IDs in `refs`
    replaced (an unknown `Ref` raises), and `Fn::GetAtt`s replaced where `refs` has `<id>.<attribute>`."""
    known = {**PSEUDO, **(refs or {})}
    if isinstance(value, list):
        return [render(v, refs) for v in value]
    if isinstance(value, dict) and len(value) == 1:
        ((function, argument),) = value.items()
        if function == "Ref":
            return known[argument]
        if function == "Fn::GetAtt" and ".".join(argument) in known:
            return known[".".join(argument)]
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(render(p, refs) for p in parts)
    if isinstance(value, dict):
        return {k: render(v, refs) for k, v in value.items()}
    return value


@dataclass(frozen=True)
class Request:
    """One call as a resource policy sees it: the calling service, the action, the resource and the
    request context keys (`aws:SourceArn`, `aws:SourceAccount`, `aws:SecureTransport`, ...)."""

    service: str
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)


def _values(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, str]) -> bool:
    if key not in context:
        return False  # none of these operators is ...IfExists: a missing key never matches
    actual = context[key]
    if operator == "StringEquals":
        return any(actual == e for e in _values(expected))
    if operator in ("ArnLike", "ArnEquals"):
        # ArnEquals and ArnLike both accept * and ? wildcards (per ARN segment; whole-string glob here).
        return any(fnmatch.fnmatchcase(actual, e) for e in _values(expected))
    if operator == "Bool":
        return any(actual.lower() == str(e).lower() for e in _values(expected))
    raise NotImplementedError(f"condition operator {operator} is not evaluated here")


def _matches(statement: Mapping[str, Any], request: Request) -> bool:
    principal = statement["Principal"]
    if principal not in ("*", {"AWS": "*"}) and request.service not in _values(principal.get("Service", [])):
        return False
    if not any(fnmatch.fnmatch(request.action.lower(), a.lower()) for a in _values(statement["Action"])):
        return False
    if not any(fnmatch.fnmatchcase(request.resource, r) for r in _values(statement["Resource"])):
        return False
    return all(
        _condition_holds(operator, key, expected, request.context)
        for operator, keys in statement.get("Condition", {}).items()
        for key, expected in keys.items()
    )


def decide(document: Mapping[str, Any], request: Request) -> str:
    """`Deny` (an explicit Deny matches), `Allow` (an Allow matches) or `ImplicitDeny`."""
    effects = {s["Effect"] for s in document["Statement"] if _matches(s, request)}
    return "Deny" if "Deny" in effects else "Allow" if "Allow" in effects else "ImplicitDeny"
