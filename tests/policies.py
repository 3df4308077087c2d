"""Policies of a stage's synthesized templates, for tests: CloudFormation values rendered to realistic
strings (`arn:aws:...:123456789012:...`), and a small evaluator that decides a request the way AWS does
for the statements and conditions these templates use.

The evaluator is deliberately small and explicit: an explicit Deny wins, then any Allow, else the
request is implicitly denied. A condition operator it does not know raises, so that a policy using
one cannot pass a test by accident."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

ACCOUNT, REGION = "123456789012", "eu-west-1"
PSEUDO = {"AWS::Partition": "aws", "AWS::Region": REGION, "AWS::AccountId": ACCOUNT, "AWS::URLSuffix": "amazonaws.com"}
Template = dict[str, Any]

# An export of a stack the renderer was not given, by the end of its name (`smplat-<stage>-<OutputId>`);
# `{}` is the rest of the output ID, e.g. `artifacts` for `ArtifactsBucketArn`.
_EXPORTS = {
    "KeyArn": f"arn:aws:kms:{REGION}:{ACCOUNT}:key/smplat-key",
    "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/smplat-{{}}-role",
    "BucketArn": "arn:aws:s3:::smplat-{}",
    "RepositoryArn": f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/smplat-{{}}",
    "SecurityGroupId": "sg-{}",
    "SubnetIds": ",".join(f"subnet-{{}}{i}" for i in range(3)),
    "AvailabilityZones": ",".join(f"{REGION}{z}" for z in "abc"),
    "VpcId": "vpc-{}",
}
# Where each resource type keeps its policy documents.
_DOCUMENTS = {
    "AWS::IAM::ManagedPolicy": ("PolicyDocument",),
    "AWS::IAM::Policy": ("PolicyDocument",),
    "AWS::IAM::Role": ("AssumeRolePolicyDocument",),
    "AWS::S3::BucketPolicy": ("PolicyDocument",),
    "AWS::KMS::Key": ("KeyPolicy",),
    "AWS::SNS::TopicPolicy": ("PolicyDocument",),
    "AWS::SQS::QueuePolicy": ("PolicyDocument",),
    "AWS::ECR::Repository": ("RepositoryPolicyText",),
}
_EC2_IDS = {"VPC": "vpc", "Subnet": "subnet", "SecurityGroup": "sg", "RouteTable": "rtb"}


class Renderer:
    """Renders the values of a stage's templates (role -> template), resolving imports across them.

    A resource is named by its name property (`QueueName`, `Name`, ...) or else its logical ID (in
    lowercase for buckets); a role's ARN carries its `Path`."""

    def __init__(self, templates: Mapping[str, Template]) -> None:
        self.templates = templates
        self.exports = {
            output["Export"]["Name"]: (stack, output["Value"])
            for stack, template in templates.items()
            for output in template.get("Outputs", {}).values()
            if "Export" in output
        }

    def render(self, value: Any, stack: str) -> Any:
        """`value` of template `stack` with Ref, Fn::GetAtt, Fn::ImportValue, Fn::Join, Fn::Select,
        Fn::Split, Fn::Sub, Fn::FindInMap and pseudo parameters replaced by realistic values."""
        if isinstance(value, list):
            return [self.render(v, stack) for v in value]
        if not isinstance(value, dict):
            return value
        if len(value) != 1 or not next(iter(value)).startswith(("Ref", "Fn::")):
            return {k: self.render(v, stack) for k, v in value.items()}
        ((function, argument),) = value.items()
        if function == "Ref":
            return PSEUDO[argument] if argument in PSEUDO else self._resource(stack, argument)[0]
        if function == "Fn::GetAtt":
            logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
            return self._resource(stack, logical_id)[1][attribute]
        if function == "Fn::ImportValue":
            name = self.render(argument, stack)
            if name in self.exports:
                exporter, exported = self.exports[name]
                return self.render(exported, exporter)
            return _unknown_export(name)
        if function == "Fn::Join":
            return self.render(argument[0], stack).join(str(self.render(p, stack)) for p in argument[1])
        if function == "Fn::Select":
            return self.render(argument[1], stack)[int(argument[0])]
        if function == "Fn::Split":
            return self.render(argument[1], stack).split(argument[0])
        if function == "Fn::FindInMap":
            mapping, top, second = (self.render(a, stack) for a in argument)
            return self.templates[stack]["Mappings"][mapping][top][second]
        if function == "Fn::Sub":
            text, variables = (argument, {}) if isinstance(argument, str) else argument

            def substitute(match: re.Match[str]) -> str:
                name = match.group(1)
                if name in variables:
                    return str(self.render(variables[name], stack))
                ref = {"Fn::GetAtt": name.split(".", 1)} if "." in name else {"Ref": name}
                return str(self.render(ref, stack))

            return re.sub(r"\$\{([^}!]+)\}", substitute, text).replace("${!", "${")
        raise AssertionError(f"no rendering for {function}")

    def _resource(self, stack: str, logical_id: str) -> tuple[str, dict[str, str]]:
        """The `Ref` value and the `Fn::GetAtt` attributes of resource `logical_id` of `stack`."""
        resource = self.templates[stack]["Resources"][logical_id]
        type_name, properties = resource["Type"], resource.get("Properties", {})
        service, kind = type_name.split("::")[1].lower(), type_name.split("::")[-1]
        name = properties.get(f"{kind}Name", properties.get("Name"))
        if not isinstance(name, str):
            name = logical_id.lower() if service in ("s3", "ecr") else logical_id
        ref, prefix = name, f"arn:aws:{service}:{REGION}:{ACCOUNT}"
        arn = f"{prefix}:{re.sub(r'(?<!^)(?=[A-Z])', '-', kind).lower()}/{name}"
        match type_name:
            case "AWS::S3::Bucket":
                arn = f"arn:aws:s3:::{name}"
            case "AWS::IAM::Role" | "AWS::IAM::ManagedPolicy":
                path = f"{'role' if kind == 'Role' else 'policy'}{properties.get('Path', '/')}"
                arn = f"arn:aws:iam::{ACCOUNT}:{path}{name}"
                ref = name if kind == "Role" else arn
            case "AWS::SNS::Topic":
                ref = arn = f"{prefix}:{name}"
            case "AWS::SQS::Queue":
                arn, ref = f"{prefix}:{name}", f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}"
            case "AWS::Logs::LogGroup":
                arn = f"{prefix}:log-group:{name}:*"
            case "AWS::CloudWatch::Alarm" | "AWS::Lambda::Function":
                arn = f"{prefix}:{kind.lower()}:{name}"
            case _ if kind in _EC2_IDS and service == "ec2":
                ref = f"{_EC2_IDS[kind]}-{name.lower()}"
        # Fn::GetAtt: the ARN, the name, an ID (a security group's, a key's), a VPC's default group.
        ids = {"GroupId": ref, "KeyId": ref, "DefaultSecurityGroup": f"sg-{name.lower()}"}
        return ref, {"Arn": arn, f"{kind}Arn": arn, f"{kind}Name": name, **ids}


def _unknown_export(name: str) -> str:
    output = name.split("-", 2)[-1]
    for suffix, value in _EXPORTS.items():
        if output.endswith(suffix):
            return value.format(output.removesuffix(suffix).lower())
    raise AssertionError(f"no rendering for export {name}")


def policy_documents(renderer: Renderer, stack: str) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical ID, resource type, rendered document) of every policy document of `stack`, a role's inline ones too."""
    for logical_id, resource in renderer.templates[stack]["Resources"].items():
        properties = resource.get("Properties", {})
        documents = [properties[p] for p in _DOCUMENTS.get(resource["Type"], ()) if p in properties]
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in properties.get("Policies", [])]
        for document in documents:
            yield logical_id, resource["Type"], renderer.render(document, stack)


@dataclass(frozen=True)
class Principal:
    """Who calls: a role (its ARN, with path, and its identity-policy statements) or a service
    (`events.amazonaws.com`, no identity policy)."""

    name: str
    statements: tuple[dict[str, Any], ...] = ()

    def widened(self, *statements: dict[str, Any]) -> Principal:
        """The same role with more identity statements (a broader policy attached later)."""
        return Principal(self.name, (*self.statements, *statements))


def role_principal(renderer: Renderer, stack: str, logical_id: str) -> Principal:
    """The role `logical_id` of `stack` with its inline and attached customer-managed policies."""
    resources = renderer.templates[stack]["Resources"]
    documents = [
        r["Properties"]["PolicyDocument"]
        for r in resources.values()
        if r["Type"] in ("AWS::IAM::ManagedPolicy", "AWS::IAM::Policy")
        and {"Ref": logical_id} in r["Properties"].get("Roles", [])
    ]
    role = resources[logical_id]["Properties"]
    documents += [inline["PolicyDocument"] for inline in role.get("Policies", [])]
    assert not role.get("ManagedPolicyArns"), "AWS managed policies not modelled"
    statements = tuple(s for d in documents for s in renderer.render(d, stack)["Statement"])
    return Principal(renderer.render({"Fn::GetAtt": [logical_id, "Arn"]}, stack), statements)


def bucket_policy(renderer: Renderer, stack: str, bucket_logical_id: str) -> dict[str, Any]:
    """The rendered policy document of bucket `bucket_logical_id` of `stack`."""
    (policy,) = (
        r["Properties"]["PolicyDocument"]
        for r in renderer.templates[stack]["Resources"].values()
        if r["Type"] == "AWS::S3::BucketPolicy" and r["Properties"]["Bucket"] == {"Ref": bucket_logical_id}
    )
    return dict(renderer.render(policy, stack))


@dataclass(frozen=True)
class Request:
    """One call: who makes it, the action, the resource and the request's condition keys
    (`aws:SourceArn`, SSE headers, ...; a multivalued key as a list)."""

    principal: Principal
    action: str
    resource: str
    context: Mapping[str, str | list[str]] = field(default_factory=dict)


def decide(request: Request, resource_policy: Mapping[str, Any] | None = None) -> str:
    """`Deny` (an explicit Deny matches), `Allow` (an Allow matches) or `ImplicitDeny`, from the
    caller's identity statements and the statements of `resource_policy` that name the caller
    (same account: an Allow in either grants)."""
    who = request.principal
    context = {"aws:SecureTransport": "true", **request.context}
    if who.name.startswith("arn:"):
        context.setdefault("aws:PrincipalArn", who.name)
    resource_statements = [s for s in (resource_policy or {}).get("Statement", []) if _names(s["Principal"], who)]
    effects = {s["Effect"] for s in (*who.statements, *resource_statements) if _matches(s, request, context)}
    return "Deny" if "Deny" in effects else "Allow" if "Allow" in effects else "ImplicitDeny"


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _like(value: str, pattern: str, *, ignore_case: bool = False) -> bool:
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.fullmatch(regex, value, re.IGNORECASE if ignore_case else 0) is not None


def _names(principal: Any, who: Principal) -> bool:
    if principal in ("*", {"AWS": "*"}):
        return True
    return any(who.name in _list(principal.get(kind, [])) for kind in ("AWS", "Service"))


def _matches(statement: Mapping[str, Any], request: Request, context: Mapping[str, Any]) -> bool:
    def listed(key: str, value: str, *, ignore_case: bool = False) -> bool:
        if key in statement:
            return any(_like(value, p, ignore_case=ignore_case) for p in _list(statement[key]))
        return not any(_like(value, p, ignore_case=ignore_case) for p in _list(statement[f"Not{key}"]))

    return (
        listed("Action", request.action, ignore_case=True)
        and listed("Resource", request.resource)
        and all(
            _holds(operator, key, expected, context)
            for operator, keys in statement.get("Condition", {}).items()
            for key, expected in keys.items()
        )
    )


# Condition operators without their `Not`: does one request value match one policy value?
_COMPARE = {
    "StringEquals": lambda actual, expected: actual == expected,
    "StringLike": _like,
    "ArnEquals": _like,  # ArnEquals and ArnLike both accept * and ? wildcards
    "ArnLike": _like,
    "Bool": lambda actual, expected: actual.lower() == str(expected).lower(),
}


def _holds(operator: str, key: str, expected: Any, context: Mapping[str, Any]) -> bool:
    if operator == "Null":
        return (key not in context) == (str(expected).lower() == "true")
    qualifier, _, base = operator.rpartition(":")
    negated, base = "Not" in base, base.replace("Not", "")
    if base not in _COMPARE or qualifier not in ("", "ForAllValues"):
        raise NotImplementedError(f"condition operator {operator} is not evaluated here")
    if key not in context:  # no ...IfExists here: only negated operators and ForAllValues hold
        return negated or qualifier == "ForAllValues"
    actual = _list(context[key]) if qualifier else [context[key]]
    return all(any(_COMPARE[base](a, e) for e in _list(expected)) != negated for a in actual)
