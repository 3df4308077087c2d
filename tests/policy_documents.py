"""Every IAM policy document of a synthesized template, with CloudFormation's functions rendered to
realistic values (`arn:aws:...:123456789012:...`), so that an offline linter sees real ARNs."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

ACCOUNT = "123456789012"
REGION = "eu-west-1"
PSEUDO = {
    "AWS::Partition": "aws",
    "AWS::Region": REGION,
    "AWS::AccountId": ACCOUNT,
    "AWS::URLSuffix": "amazonaws.com",
    "AWS::StackName": "smplat-stage-stack",
    "AWS::StackId": f"arn:aws:cloudformation:{REGION}:{ACCOUNT}:stack/smplat-stage-stack/0",
    "AWS::NoValue": "",
}
_KEY_ID = "1234abcd-12ab-34cd-56ef-1234567890ab"


def _name(logical_id: str) -> str:
    return re.sub(r"[^a-z0-9-]", "", logical_id.lower())[:40]


def _resource(type_name: str, logical_id: str) -> tuple[str, dict[str, str]]:
    """The `Ref` value and the `Fn::GetAtt` attributes of a resource of `type_name`."""
    name = _name(logical_id)
    arn = f"arn:aws:{{}}:{REGION}:{ACCOUNT}:{{}}"
    match type_name:
        case "AWS::S3::Bucket":
            return name, {"Arn": f"arn:aws:s3:::{name}", "DomainName": f"{name}.s3.amazonaws.com"}
        case "AWS::KMS::Key":
            return _KEY_ID, {"Arn": arn.format("kms", f"key/{_KEY_ID}"), "KeyId": _KEY_ID}
        case "AWS::IAM::Role":
            return name, {"Arn": f"arn:aws:iam::{ACCOUNT}:role/{name}", "RoleId": "AROAEXAMPLE"}
        case "AWS::IAM::ManagedPolicy":
            return f"arn:aws:iam::{ACCOUNT}:policy/{name}", {}
        case "AWS::Logs::LogGroup":
            return name, {"Arn": arn.format("logs", f"log-group:{name}:*")}
        case "AWS::SNS::Topic":
            return arn.format("sns", name), {"TopicArn": arn.format("sns", name), "TopicName": name}
        case "AWS::SQS::Queue":
            return (
                f"https://sqs.{REGION}.amazonaws.com/{ACCOUNT}/{name}",
                {"Arn": arn.format("sqs", name), "QueueName": name},
            )
        case "AWS::EC2::VPC":
            return "vpc-0a1b2c3d4e5f60718", {"CidrBlock": "10.0.0.0/16", "DefaultSecurityGroup": "sg-0a1b2c3d4e5f60700"}
        case "AWS::EC2::Subnet":
            return "subnet-0a1b2c3d4e5f60718", {}
        case "AWS::EC2::SecurityGroup":
            return "sg-0a1b2c3d4e5f60718", {"GroupId": "sg-0a1b2c3d4e5f60718"}
        case "AWS::ECR::Repository":
            return name, {"Arn": arn.format("ecr", f"repository/{name}")}
        case "AWS::SSM::Parameter":
            return f"/smplat/stage/{name}", {}
        case "AWS::SSM::Document":
            return name, {}
        case "AWS::Events::Rule":
            return name, {"Arn": arn.format("events", f"rule/{name}")}
        case "AWS::CloudWatch::Alarm":
            return name, {"Arn": arn.format("cloudwatch", f"alarm:{name}")}
        case _ if type_name.startswith("AWS::SageMaker::"):
            kind = re.sub(r"(?<!^)(?=[A-Z])", "-", type_name.split("::")[2]).lower()
            return name, {"Arn": arn.format("sagemaker", f"{kind}/{name}")}
    return name, {"Arn": arn.format("unknown", name)}


def _import(export: str) -> str:
    """A value for the data and network stacks' exports (`smplat-<stage>-<OutputId>`)."""
    output = export.split("-", 2)[-1]
    match output:
        case "KeyArn":
            return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{_KEY_ID}"
        case "ExecutionRoleArn":
            return f"arn:aws:iam::{ACCOUNT}:role/smplat-execution-role"
        case "PrivateSubnetIds":
            return ",".join(f"subnet-0a1b2c3d4e5f6071{i}" for i in range(3))
        case "AvailabilityZones":
            return ",".join(f"{REGION}{z}" for z in "abc")
        case "VpcId":
            return "vpc-0a1b2c3d4e5f60718"
    if output.endswith("SecurityGroupId"):
        return "sg-0a1b2c3d4e5f60719"
    if output.endswith("BucketArn"):
        return f"arn:aws:s3:::smplat-{_name(output.removesuffix('BucketArn'))}"
    if output.endswith("RepositoryArn"):
        return f"arn:aws:ecr:{REGION}:{ACCOUNT}:repository/smplat-{_name(output.removesuffix('RepositoryArn'))}"
    raise AssertionError(f"no rendering for export {export}")


def render(value: Any, resources: Mapping[str, Any]) -> Any:
    """`value` with Ref, Fn::GetAtt, Fn::ImportValue, Fn::Join, Fn::Select, Fn::Split, Fn::Sub
    and pseudo parameters replaced by realistic values."""
    if isinstance(value, list):
        return [render(v, resources) for v in value]
    if not isinstance(value, dict):
        return value
    if len(value) != 1:
        return {k: render(v, resources) for k, v in value.items()}
    ((function, argument),) = value.items()
    if function == "Ref":
        if argument in PSEUDO:
            return PSEUDO[argument]
        return _resource(resources[argument]["Type"], argument)[0]
    if function == "Fn::GetAtt":
        logical_id, attribute = argument if isinstance(argument, list) else argument.split(".", 1)
        return _resource(resources[logical_id]["Type"], logical_id)[1][attribute]
    if function == "Fn::ImportValue":
        return _import(render(argument, resources))
    if function == "Fn::Join":
        return render(argument[0], resources).join(str(render(p, resources)) for p in argument[1])
    if function == "Fn::Select":
        return render(argument[1], resources)[int(argument[0])]
    if function == "Fn::Split":
        return render(argument[1], resources).split(argument[0])
    if function == "Fn::Sub":
        text, variables = (argument, {}) if isinstance(argument, str) else argument

        def substitute(match: re.Match[str]) -> str:
            name = match.group(1)
            if name in variables:
                return str(render(variables[name], resources))
            if name in PSEUDO:
                return PSEUDO[name]
            logical_id, _, attribute = name.partition(".")
            ref, attributes = _resource(resources[logical_id]["Type"], logical_id)
            return attributes[attribute] if attribute else ref

        return re.sub(r"\$\{([^}!]+)\}", substitute, text)
    if function.startswith("Fn::"):
        raise AssertionError(f"no rendering for {function}")
    return {function: render(argument, resources)}


# Where each resource type keeps its policy documents, and whether they are resource policies.
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


def policy_documents(template: Mapping[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(logical ID, resource type, rendered document) for every policy document of `template`,
    including a role's inline policies."""
    resources = template["Resources"]
    for logical_id, resource in resources.items():
        properties = resource.get("Properties", {})
        documents = [properties[p] for p in _DOCUMENTS.get(resource["Type"], ()) if p in properties]
        if resource["Type"] == "AWS::IAM::Role":
            documents += [p["PolicyDocument"] for p in properties.get("Policies", [])]
        for document in documents:
            yield logical_id, resource["Type"], render(document, resources)
