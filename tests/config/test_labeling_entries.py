"""The labeling section of a stage file: every bad input is refused before synth, with a message that names
the field, the value and what is allowed; every problem at once."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from config import CONFIG_DIR, ConfigError, StageConfig, parse_stage, yaml_core
from config.labeling import ImportedWorkforce, NewWorkforce

DEV: dict[str, Any] = yaml_core.load((CONFIG_DIR / "dev.yaml").read_text()).data
IMPORTED = {"source": "import", "user_pool_id": "eu-west-1_AbCdEf123", "client_id": "1example23456789abcdefghij"}
TEAM = {"name": "annotators", "description": "Labels the sample data"}


def with_labeling(**section: Any) -> dict[str, Any]:
    raw = copy.deepcopy(DEV)
    raw["labeling"] = copy.deepcopy(DEV["labeling"]) | section
    return raw


def parse(raw: dict[str, Any], stage: str = "dev") -> StageConfig:
    return parse_stage(raw, source=f"{stage}.yaml", stage=stage)


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(raw)
    return caught.value.problems


def test_dev_creates_a_pool_with_one_team() -> None:
    labeling = parse(DEV).labeling
    assert labeling is not None and isinstance(labeling.workforce, NewWorkforce)
    assert labeling.workforce.domain_prefix == "smplat-dev-labeling"
    assert [team.name for team in labeling.work_teams] == ["annotators"]


def test_labeling_is_optional() -> None:
    raw = copy.deepcopy(DEV)
    del raw["labeling"]
    assert parse(raw).labeling is None


def test_an_imported_workforce_with_several_teams() -> None:
    teams = [TEAM, {"name": "reviewers", "description": "Reviews labels", "notification_email": "qa@example.com"}]
    labeling = parse(with_labeling(workforce=IMPORTED, work_teams=teams)).labeling
    assert labeling is not None and isinstance(labeling.workforce, ImportedWorkforce)
    assert labeling.workforce.client_id == IMPORTED["client_id"]
    assert labeling.work_teams[1].notification_email == "qa@example.com"


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        pytest.param(
            {"work_teams": [TEAM, TEAM | {"description": "again"}]},
            r"^labeling.work_teams: names \['annotators'\] are used more than once; each work team needs its own name$",
            id="duplicate-team",
        ),
        pytest.param(
            {"work_teams": []},
            r"^labeling.work_teams: \[\] is invalid: Tuple should have at least 1 item",
            id="no-team",
        ),
        pytest.param(
            {"work_teams": [TEAM | {"name": "Annotators"}]},
            r"^labeling.work_teams.0.name: 'Annotators' is invalid: String should match pattern",
            id="team-name-uppercase",
        ),
        pytest.param(
            {"work_teams": [TEAM | {"description": ""}]},
            r"^labeling.work_teams.0.description: '' is invalid: String should have at least 1 character",
            id="empty-description",
        ),
        pytest.param(
            {"work_teams": [TEAM | {"description": "x" * 201}]},
            r"^labeling.work_teams.0.description: 'x+' is invalid: String should have at most 200 characters",
            id="long-description",
        ),
        pytest.param(
            {"work_teams": [TEAM | {"notification_email": "annotators"}]},
            r"^labeling.work_teams.0.notification_email: 'annotators' is invalid",
            id="bad-email",
        ),
        pytest.param(
            {"workforce": {"source": "import", "user_pool_id": "eu-west-1_AbCdEf123"}},
            r"^labeling.workforce.client_id: required for source 'import'$",
            id="import-without-client",
        ),
        pytest.param(
            {"workforce": IMPORTED | {"user_pool_id": "AbCdEf123"}},
            r"^labeling.workforce.user_pool_id: 'AbCdEf123' is invalid: String should match pattern",
            id="pool-id-without-region",
        ),
        pytest.param(
            {"workforce": IMPORTED | {"client_id": "not a client"}},
            r"^labeling.workforce.client_id: 'not a client' is invalid: String should match pattern",
            id="bad-client-id",
        ),
        pytest.param(
            {"workforce": IMPORTED | {"portal_url": "http://labeling.example.com"}},
            r"^labeling.workforce.portal_url: 'http://labeling.example.com' is invalid",
            id="portal-not-https",
        ),
        pytest.param(
            {"workforce": IMPORTED | {"domain_prefix": "x"}},
            r"^labeling.workforce: \['domain_prefix'\] do not apply to source 'import'; it takes "
            r"\['user_pool_id', 'client_id', 'portal_url'\]$",
            id="domain-on-import",
        ),
        pytest.param(
            {"workforce": {"source": "create"}},
            r"^labeling.workforce.domain_prefix: required for source 'create'$",
            id="create-without-domain",
        ),
        pytest.param(
            {"workforce": {"source": "create", "domain_prefix": "smplat-cognito-dev"}},
            r"^labeling.workforce.domain_prefix: 'smplat-cognito-dev' contains a word Cognito reserves "
            r"\(aws, amazon, cognito\)$",
            id="reserved-domain-word",
        ),
        pytest.param(
            {"workforce": {"source": "create", "domain_prefix": "Smplat_Dev"}},
            r"^labeling.workforce.domain_prefix: 'Smplat_Dev' is invalid: String should match pattern",
            id="bad-domain",
        ),
        pytest.param(
            {"workforce": {"source": "create", "domain_prefix": "smplat-dev-", "password_minimum_length": 6}},
            r"^labeling.workforce.password_minimum_length: 6 is invalid: Input should be greater than or equal to 8$",
            id="short-passwords",
        ),
        pytest.param(
            {"workforce": {"source": "public"}},
            r"^labeling.workforce.source: 'public' is invalid",
            id="unknown-source",
        ),
    ],
)
def test_bad_labeling_values_are_named(section: dict[str, Any], expected: str) -> None:
    found = problems(with_labeling(**section))
    assert any(re.search(expected, p) for p in found), found


def test_every_problem_is_reported_at_once() -> None:
    found = problems(
        with_labeling(
            workforce={"source": "create", "domain_prefix": "amazon-labels"},
            work_teams=[TEAM, TEAM | {"description": "again", "notification_email": "nobody"}, TEAM],
        )
    )
    assert sorted(p.split(":")[0] for p in found) == [
        "labeling.work_teams.1.notification_email",
        "labeling.workforce.domain_prefix",
    ], found
    # With valid entries, a shared name is reported beside the workforce's problem.
    found = problems(
        with_labeling(workforce={"source": "create", "domain_prefix": "amazon-labels"}, work_teams=[TEAM, TEAM])
    )
    assert sorted(found) == [
        "labeling.work_teams: names ['annotators'] are used more than once; each work team needs its own name",
        "labeling.workforce.domain_prefix: 'amazon-labels' contains a word Cognito reserves (aws, amazon, cognito)",
    ]


def test_an_imported_pool_must_be_of_the_stage_region() -> None:
    raw = with_labeling(workforce=IMPORTED | {"user_pool_id": "us-east-1_AbCdEf123"})
    raw |= {"account": "123456789012", "region": "eu-west-1"}
    raw["network"] = raw["network"] | {"availability_zones": ["eu-west-1a", "eu-west-1b"]}
    found = problems(raw)
    assert found == [
        "labeling.workforce.user_pool_id: 'us-east-1_AbCdEf123' is a user pool of 'us-east-1'; a work team uses "
        "a pool of its own region ('eu-west-1')"
    ]
