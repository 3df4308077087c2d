"""Stage files: the shipped ones load; every kind of bad input gets a message naming field, value and rule."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, available_stages, load_stage, parse_stage, yaml_core
from config.reference import BEGIN, END, REFERENCE_DOC, SCHEMA_FILE, json_schema, readme_with_reference

CONFIG_DIR = Path(__file__).resolve().parents[2] / "config"
DEV: dict[str, Any] = yaml_core.load((CONFIG_DIR / "dev.yaml").read_text()).data
PROD: dict[str, Any] = yaml_core.load((CONFIG_DIR / "prod.yaml").read_text()).data


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_stage(raw, source="test.yaml")
    return caught.value.problems


def changed(base: dict[str, Any], path: str, value: Any) -> dict[str, Any]:
    """A deep copy of `base` with the dotted `path` set to `value` (or removed when value is DELETE)."""
    raw = copy.deepcopy(base)
    *parents, last = path.split(".")
    node = raw
    for part in parents:
        node = node[part]
    if value is DELETE:
        del node[last]
    else:
        node[last] = value
    return raw


DELETE = object()


def test_shipped_stages_are_valid() -> None:
    assert available_stages() == ["dev", "examples", "prod"]
    dev, prod = load_stage("dev"), load_stage("prod")
    assert dev.env_agnostic and dev.sandbox
    assert (prod.account, prod.region, prod.sandbox) == ("123456789012", "eu-west-1", False)


def test_config_is_frozen() -> None:
    with pytest.raises(Exception, match="frozen"):
        load_stage("dev").sandbox = False  # type: ignore[misc]


def test_unknown_stage_lists_the_valid_ones() -> None:
    with pytest.raises(ConfigError, match=r"(?s)stage 'staging'.*valid stages: dev, examples, prod"):
        load_stage("staging")


@pytest.mark.parametrize(
    ("path", "value", "expected"),
    [
        (
            "colour",
            "blue",
            r"^colour: unknown key \(value 'blue'\); allowed keys here: account, data, endpoints, labeling, network, "
            "notebooks, pipelines, project",
        ),
        ("network.subnet_mask", 24, r"^network.subnet_mask: unknown key .*allowed keys here: .*az_count"),
        ("sandbox", "yes", r"^sandbox: 'yes' is invalid: Input should be a valid boolean"),
        ("project", "My_Project", r"^project: 'My_Project' is invalid: String should match pattern"),
        ("project", DELETE, r"^project: required but missing$"),
        ("network.az_count", 7, r"^network.az_count: 7 is invalid: Input should be less than or equal to 6"),
        ("network.az_count", 1, r"^network.az_count: 1 is invalid: Input should be greater than or equal to 2"),
        ("network.az_count", 3, r"^network.az_count: 3 needs an explicit account and region .* exactly 2 AZs"),
        ("network.cidr", "10.0.0.0/33", r"^network.cidr: '10.0.0.0/33' is not a valid IPv4 CIDR block"),
        ("network.cidr", "10.0.0.1/16", r"^network.cidr: '10.0.0.1/16' is not a valid IPv4 CIDR block .*host bits"),
        (
            "network.cidr",
            "10.0.0.0/8",
            r"^network.cidr: '10.0.0.0/8' must be an IPv4 block with a prefix from /16 to /24",
        ),
        (
            "network.flow_log_retention_days",
            10,
            r"^network.flow_log_retention_days: 10 is not a CloudWatch Logs retention period; allowed: 1, 3, 5",
        ),
        (
            "network.source",
            "peer",
            r"^network.source: 'peer' is invalid: Input should be 'create' or 'import'$",
        ),
        (
            "network.interface_endpoints",
            ["sts", "s3"],
            r"^network.interface_endpoints.1: 's3' is invalid: Input should be 'sagemaker_api'",
        ),
        (
            "data.container_repositories",
            ["training", "training"],
            r"^data.container_repositories: \['training'\] listed more than once",
        ),
        (
            "data.container_repositories",
            ["Training"],
            r"^data.container_repositories.0: 'Training' is invalid: String should match pattern",
        ),
        (
            "data.noncurrent_version_expiration_days",
            0,
            r"^data.noncurrent_version_expiration_days: 0 is invalid: Input should be greater than or equal to 1",
        ),
        ("tags", {"Stage": "x"}, r"^tags: the key 'Stage' is reserved"),
        ("tags", {"team": "a", "Team": "b"}, r"^tags: keys \['Team', 'team'\] differ only in case"),
        ("account", "123456789012", r"^account/region: account '123456789012' and region None must be set together"),
    ],
)
def test_bad_dev_values_are_named(path: str, value: Any, expected: str) -> None:
    found = problems(changed(DEV, path, value))
    assert any(__import__("re").search(expected, p) for p in found), found


def test_prod_without_account_and_region_is_refused() -> None:
    raw = changed(changed(PROD, "account", DELETE), "region", DELETE)
    assert "sandbox: false needs an explicit account and region" in "\n".join(problems(raw))


def test_fixed_environment_needs_explicit_zones_of_its_region() -> None:
    missing = problems(changed(PROD, "network.availability_zones", DELETE))
    assert any(p.startswith("network.availability_zones: required when region is set ('eu-west-1')") for p in missing)
    foreign = problems(changed(PROD, "network.availability_zones", ["eu-west-1a", "us-east-1b", "eu-west-1c"]))
    assert any("['us-east-1b'] are not AZs of region 'eu-west-1'" in p for p in foreign)
    count = problems(changed(PROD, "network.az_count", 2))
    assert any("3 AZs listed but az_count is 2" in p for p in count)


def test_retired_elastic_inference_points_to_replacements() -> None:
    found = problems(changed(DEV, "data.accelerator_type", "ml.eia2.medium"))
    assert found == [
        "data.accelerator_type: 'ml.eia2.medium' is refused: Elastic Inference accelerators reached end of life in "
        "April 2024 and can no longer be attached; use a GPU (ml.g5, ml.g6) or AWS Inferentia (ml.inf2) "
        "instance type instead"
    ]


def test_every_problem_is_reported_at_once() -> None:
    raw = changed(PROD, "colour", "blue")
    raw = changed(raw, "network.cidr", "300.1.1.0/16")
    raw = changed(raw, "region", DELETE)
    raw = changed(raw, "data.max_images_per_repository", -1)
    found = problems(raw)
    assert [p.split(":")[0] for p in found] == [
        "colour",
        "data.max_images_per_repository",
        "account/region",
        "sandbox",
        "network.cidr",
    ], found


def test_imported_vpc_needs_one_subnet_and_route_table_per_zone() -> None:
    raw = changed(
        DEV,
        "network",
        {
            "source": "import",
            "vpc_id": "vpc-0123456789abcdef0",
            "cidr": "10.1.0.0/16",
            "availability_zones": ["us-east-1a"],
            "private_subnet_ids": ["subnet-01234567", "subnet-89abcdef"],
            "private_route_table_ids": ["rtb-0"],
        },
    )
    found = problems(raw)
    assert any(p.startswith("network.availability_zones: ['us-east-1a'] has 1 AZ") for p in found)
    assert any(p.startswith("network.private_subnet_ids: 2 ids for 1 availability_zones") for p in found)
    assert any(p.startswith("network.private_route_table_ids.0: 'rtb-0' is invalid") for p in found)


def test_not_a_mapping_and_not_yaml(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="must hold a mapping of settings, got list"):
        parse_stage(["a"], source="x.yaml")
    (tmp_path / "broken.yaml").write_text("project: [unclosed\n")
    with pytest.raises(ConfigError, match=r"broken\.yaml: 1 problem\n  - not valid YAML"):
        load_stage("broken", tmp_path)


def test_generated_schema_and_configuration_reference_are_current() -> None:
    assert SCHEMA_FILE.read_text() == json_schema(), "run `make schema`"
    doc = REFERENCE_DOC.read_text()
    assert BEGIN in doc and END in doc, f"{REFERENCE_DOC.name} lost its reference markers"
    assert readme_with_reference(doc) == doc, "run `make schema`"
    assert json.loads(json_schema())["additionalProperties"] is False


NOTEBOOK = {"name": "team-a", "owner": "team-a@example.com"}


@pytest.mark.parametrize(
    ("entry", "expected"),
    [
        (
            {"platform_identifier": "notebook-al3-v9"},
            r"^notebooks.0.platform_identifier: 'notebook-al3-v9' is invalid: "
            r"Input should be 'notebook-al2-v2', 'notebook-al2-v3' or 'notebook-al2023-v1'",
        ),
        (
            {"platform_identifier": "notebook-al1-v1"},
            r"^notebooks.0.platform_identifier: 'notebook-al1-v1' is refused: "
            r"Amazon Linux 1 notebooks reached end of support; use notebook-al2023-v1$",
        ),
        (
            {"volume_size_gb": 4},
            r"^notebooks.0.volume_size_gb: 4 is invalid: Input should be greater than or equal to 5",
        ),
        (
            {"volume_size_gb": 20000},
            r"^notebooks.0.volume_size_gb: 20000 is invalid: Input should be less than or equal to 16384",
        ),
        (
            {"instance_type": "ml.t3.nano"},
            r"^notebooks.0.instance_type: 'ml.t3.nano' is not an instance type SageMaker offers for notebooks",
        ),
        (
            {"instance_type": "ml.m5.mega"},
            r"^notebooks.0.instance_type: 'ml.m5.mega' is not an instance type SageMaker offers for notebooks",
        ),
        (
            {"idle_timeout_minutes": 2},
            r"^notebooks.0.idle_timeout_minutes: 2 is invalid: Input should be greater than or equal to 5",
        ),
        (
            {"pip_packages": ["numpy; curl evil"]},
            r"^notebooks.0.pip_packages.0: 'numpy; curl evil' is invalid: String should match pattern",
        ),
        (
            {"code_repositories": [{"url": "git@github.com:a/b.git"}]},
            r"^notebooks.0.code_repositories.0.url: 'git@github.com:a/b.git' is invalid",
        ),
        (
            {"accelerator_types": ["ml.eia2.medium"]},
            r"^notebooks.0.accelerator_types: \['ml.eia2.medium'\] is refused: Elastic Inference",
        ),
    ],
)
def test_bad_notebook_entries_are_named(entry: dict[str, Any], expected: str) -> None:
    found = problems(changed(DEV, "notebooks", [{**NOTEBOOK, **entry}]))
    assert any(__import__("re").search(expected, p) for p in found), found


def test_notebook_names_must_be_unique() -> None:
    found = problems(changed(DEV, "notebooks", [NOTEBOOK, {**NOTEBOOK, "owner": "someone else"}]))
    assert found == ["notebooks: names ['team-a'] are used more than once; each notebook needs its own name"]


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        ({"cidr": "10.40.0.0/16"}, "network.source: required but missing; allowed: 'create' or 'import'"),
        (
            {"source": "import", "vpc_id": "vpc-01234567", "cidr": "10.1.0.0/16", "availability_zones": ["a"]},
            "network.private_subnet_ids: required for source 'import'",
        ),
        (
            {"source": "create", "vpc_id": "vpc-01234567", "private_subnet_ids": []},
            "network: ['private_subnet_ids', 'vpc_id'] do not apply to source 'create'; it takes "
            "['az_count', 'flow_log_retention_days']",
        ),
        (
            {"source": "create", "peering": True},
            "network.peering: unknown key (value True); allowed keys here: availability_zones, az_count, cidr, "
            "flow_log_retention_days, interface_endpoints, source",
        ),
    ],
)
def test_tagged_union_messages_follow_the_tag(network: dict[str, Any], expected: str) -> None:
    assert expected in problems(changed(DEV, "network", network))


def test_an_invalid_list_item_is_not_also_reported_as_a_short_list() -> None:
    raw = copy.deepcopy(DEV)
    raw["endpoints"][0]["variants"][0]["weight"] = -1
    assert problems(raw) == ["endpoints.0.variants.0.weight: -1 is invalid: Input should be greater than or equal to 0"]
