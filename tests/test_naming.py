"""The one naming rule: construct IDs, physical names, exports and SSM names, pinned literally."""

from __future__ import annotations

import pytest

from naming import StageNames, entry_id, kebab, pascal, repository_id


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("sample", "Sample"),
        ("fraud-scoring", "FraudScoring"),
        ("sagemaker_api", "SagemakerApi"),
        ("ml2go", "Ml2go"),  # title() gave Ml2Go: docs/upgrading.md says which IDs moved
        ("blue-A", "BlueA"),  # variant names may hold capitals: kept as written
        ("x", "X"),
    ],
)
def test_pascal(name: str, expected: str) -> None:
    assert pascal(name) == expected


@pytest.mark.parametrize(
    ("pascal_id", "expected"),
    [
        ("EndpointSampleName", "endpoint-sample-name"),
        ("Errors5xx", "errors5xx"),
        ("LatencyP99", "latency-p99"),
        ("Errors4xxRate", "errors4xx-rate"),
        ("KeyArn", "key-arn"),
    ],
)
def test_kebab(pascal_id: str, expected: str) -> None:
    assert kebab(pascal_id) == expected


def test_ids_and_names_of_a_stage() -> None:
    names = StageNames("smplat", "dev")
    assert entry_id("Endpoint", "fraud-scoring") == "EndpointFraudScoring"
    assert repository_id("training") == "TrainingRepository"
    assert names.prefix == "smplat-dev" == names.model_package_group
    assert names.physical("inference") == "smplat-dev-inference"
    assert names.stack("Notebooks") == "smplat-dev-notebooks"
    assert names.export("EndpointSampleName") == "smplat-dev-EndpointSampleName"
    assert names.parameter("EndpointSampleName") == "/smplat/dev/endpoint-sample-name"
    assert names.parameter_prefix == "/smplat/dev"
    assert names.key_alias == "alias/smplat-dev"
    assert names.latest_approved_parameter == "/smplat/dev/latest-approved-model-package"
