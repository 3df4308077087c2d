"""A small IAM evaluator over synthesized templates: renders CloudFormation values to realistic
ARNs and decides a same-account request from a role's identity policies and a bucket policy
(explicit Deny wins, then any Allow), with the condition operators the platform uses."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::AccountId": ACCOUNT,
    "AWS::Region": REGION,
    "AWS::URLSuffix": "amazonaws.com",
}

Template = dict[str, Any]


class Renderer:
    """Turns the values of a stage's templates into strings, resolving imports across them: a
    bucket's ARN is `arn:aws:s3:::<logical id in lowercase>`, a role's carries its `Path`."""

    def __init__(self, templates: Mapping[str, Template]) -> None:
        self.templates = templates
        self.exports = {
            output["Export"]["Name"]: (role, output["Value"])
            for role, template in templates.items()
            for output in template.get("Outputs", {}).values()
            if "Export" in output
        }

    def render(self, value: Any, role: str) -> str:
        resources = self.templates[role]["Resources"]
        if isinstance(value, str):
            return value
        ((function, argument),) = value.items()
        if function == "Ref":
            if argument in PSEUDO:
                return PSEUDO[argument]
            return self._name(argument, resources[argument])
        if function == "Fn::GetAtt":
            logical_id, attribute = argument
            if attribute == "GroupId":  # a security group in a condition
                return f"sg-{logical_id.lower()}"
            assert attribute == "Arn", value
            return self._arn(logical_id, resources[logical_id])
        if function == "Fn::ImportValue":
            exporter, exported = self.exports[self.render(argument, role)]
            return self.render(exported, exporter)
        if function == "Fn::Join":
            separator, parts = argument
            return separator.join(self.render(part, role) for part in parts)
        if function == "Fn::Select":
            index, listed = argument
            return self.render(listed["Fn::Split"][1], role).split(listed["Fn::Split"][0])[int(index)]
        raise AssertionError(f"cannot render {value}")

    def _name(self, logical_id: str, resource: dict[str, Any]) -> str:
        return logical_id.lower() if resource["Type"] == "AWS::S3::Bucket" else logical_id

    def _arn(self, logical_id: str, resource: dict[str, Any]) -> str:
        kind = resource["Type"]
        if kind == "AWS::S3::Bucket":
            return f"arn:aws:s3:::{logical_id.lower()}"
        if kind == "AWS::IAM::Role":
            return f"arn:aws:iam::{ACCOUNT}:role{resource['Properties'].get('Path', '/')}{logical_id}"
        if kind == "AWS::KMS::Key":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{logical_id}"
        if kind == "AWS::ECR::Repository":
            return f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/{logical_id.lower()}"
        raise AssertionError(f"no ARN rule for {kind}")

    def statements(self, document: dict[str, Any], role: str) -> list[dict[str, Any]]:
        """A policy document's statements with every value rendered."""

        def deep(value: Any) -> Any:
            if isinstance(value, list):
                return [deep(v) for v in value]
            if isinstance(value, dict) and not _is_function(value):
                return {k: deep(v) for k, v in value.items()}
            return self.render(value, role)

        return [deep(statement) for statement in document["Statement"]]


def _is_function(value: dict[str, Any]) -> bool:
    return len(value) == 1 and next(iter(value)).startswith(("Ref", "Fn::"))


@dataclass(frozen=True)
class Principal:
    """A role as IAM sees it: its ARN (with path) and its identity-policy statements."""

    arn: str
    statements: tuple[dict[str, Any], ...]

    def widened(self, *statements: dict[str, Any]) -> Principal:
        """The same role with more identity statements (a broader policy attached later)."""
        return Principal(self.arn, (*self.statements, *statements))


def role_principal(renderer: Renderer, role: str, logical_id: str) -> Principal:
    """The role `logical_id` of template `role` with its inline and attached customer policies."""
    resources = renderer.templates[role]["Resources"]
    statements: list[dict[str, Any]] = []
    for resource in resources.values():
        props = resource.get("Properties", {})
        if resource["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy") and {"Ref": logical_id} in props.get(
            "Roles", []
        ):
            statements += renderer.statements(props["PolicyDocument"], role)
    for inline in resources[logical_id]["Properties"].get("Policies", []):
        statements += renderer.statements(inline["PolicyDocument"], role)
    assert not resources[logical_id]["Properties"].get("ManagedPolicyArns"), "AWS managed policies not modelled"
    return Principal(renderer.render({"Fn::GetAtt": [logical_id, "Arn"]}, role), tuple(statements))


def bucket_policy(renderer: Renderer, role: str, bucket_logical_id: str) -> tuple[dict[str, Any], ...]:
    (policy,) = (
        r["Properties"]["PolicyDocument"]
        for r in renderer.templates[role]["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket_logical_id}
    )
    return tuple(renderer.statements(policy, role))


@dataclass(frozen=True)
class Request:
    action: str
    resource: str
    context: Mapping[str, str] = field(default_factory=dict)  # request condition keys, e.g. SSE headers


def allowed(principal: Principal, request: Request, resource_policy: Iterable[dict[str, Any]]) -> bool:
    """Same-account evaluation: an explicit Deny in either policy refuses; else an Allow in either grants."""
    context = {"aws:PrincipalArn": principal.arn, "aws:SecureTransport": "true", **request.context}
    identity = [(s, True) for s in principal.statements]
    resource = [(s, _names(principal.arn, s.get("Principal"))) for s in resource_policy]
    matching = [s for s, applies in identity + resource if applies and _matches(s, request, context)]
    return not any(s["Effect"] == "Deny" for s in matching) and any(s["Effect"] == "Allow" for s in matching)


def _names(arn: str, principal: Any) -> bool:
    if principal == "*" or principal == {"AWS": "*"}:
        return True
    if isinstance(principal, dict) and "AWS" in principal:
        return arn in _list(principal["AWS"])
    return False  # service principals


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _wildcard(pattern: str, value: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _matches(statement: dict[str, Any], request: Request, context: Mapping[str, str]) -> bool:
    if "Action" in statement:
        action = any(_wildcard(a, request.action, ignore_case=True) for a in _list(statement["Action"]))
    else:
        action = not any(_wildcard(a, request.action, ignore_case=True) for a in _list(statement["NotAction"]))
    if "Resource" in statement:
        resource = any(_wildcard(r, request.resource) for r in _list(statement["Resource"]))
    else:
        resource = not any(_wildcard(r, request.resource) for r in _list(statement["NotResource"]))
    return action and resource and _conditions(statement.get("Condition", {}), context)


_NEGATED = {"StringNotEquals", "StringNotLike", "ArnNotEquals", "ArnNotLike"}
_WILDCARD = {"StringLike", "StringNotLike", "ArnLike", "ArnNotLike"}
_KNOWN = _NEGATED | _WILDCARD | {"StringEquals", "ArnEquals", "Bool", "Null"}


def _conditions(conditions: Mapping[str, Mapping[str, Any]], context: Mapping[str, str]) -> bool:
    for operator, keys in conditions.items():
        assert operator in _KNOWN, f"condition operator {operator} is not modelled"
        for key, expected in keys.items():
            values = [str(v).lower() if operator in ("Bool", "Null") else v for v in _list(expected)]
            present = key in context
            if operator == "Null":
                if (not present) != (values[0] == "true"):
                    return False
                continue
            if not present:
                if operator not in _NEGATED:
                    return False
                continue
            actual = context[key].lower() if operator == "Bool" else context[key]
            hit = any(_wildcard(v, actual) if operator in _WILDCARD else v == actual for v in values)
            if hit == (operator in _NEGATED):
                return False
    return True
