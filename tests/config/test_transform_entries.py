"""The `transform` section of a pipeline entry: SageMaker's defaults, and every bad value refused before
synth with a message naming the field, the value and what is allowed."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from config import CONFIG_DIR, ConfigError, StageConfig, parse_stage, yaml_core
from config.transform import TransformConfig

DEV: dict[str, Any] = yaml_core.load((CONFIG_DIR / "dev.yaml").read_text()).data
MARKETPLACE = {"source": "marketplace", "algorithm_arn": "arn:aws:sagemaker:eu-west-1:123456789012:algorithm/x"}


def with_transform(**transform: Any) -> dict[str, Any]:
    """DEV with its sample pipeline's transform section replaced by `transform`."""
    raw = copy.deepcopy(DEV)
    raw["pipelines"][0]["transform"] = transform
    return raw


def parse(raw: dict[str, Any]) -> StageConfig:
    return parse_stage(raw, source="dev.yaml", stage="dev")


def problems(raw: dict[str, Any]) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse(raw)
    return raised.value.problems


def test_the_dev_sample_scores_raw_score_line_by_line_in_batches() -> None:
    (pipeline,) = parse(DEV).pipelines
    assert pipeline.transform == TransformConfig(
        input_prefix="raw/score/", split_type="Line", batch_strategy="MultiRecord", assemble_with="Line"
    )


def test_sagemakers_defaults() -> None:
    (pipeline,) = parse(with_transform(input_prefix="raw/score/")).pipelines
    assert pipeline.transform is not None
    assert pipeline.transform.model_dump() == {
        "input_prefix": "raw/score/",
        "instance_type": "ml.m5.large",
        "instance_count": 1,
        "content_type": "text/csv",
        "accept": "text/csv",
        "split_type": "None",
        "batch_strategy": "SingleRecord",
        "max_payload_mb": 6,
        "max_concurrent_transforms": None,
        "assemble_with": "None",
        "input_filter": "$",
        "join_source": "None",
        "output_filter": "$",
    }


@pytest.mark.parametrize(
    "path", ["$", "$[1:]", "$[0,-1]", "$[0, 3:5]", "$.features", "$.data[2:]", "$['id','SageMakerOutput']", "$[-1]"]
)
def test_filters_in_the_supported_jsonpath_subset_are_taken(path: str) -> None:
    (pipeline,) = parse(with_transform(input_prefix="raw/score/", input_filter=path, output_filter=path)).pipelines
    assert pipeline.transform is not None and pipeline.transform.input_filter == path


SUBSET = r"\(root, children, indices and slices\)$"


@pytest.mark.parametrize(
    ("transform", "expected"),
    [
        pytest.param(
            {"split_type": "Line"},
            r"^pipelines.0.transform.input_prefix: required but missing$",
            id="no-input-prefix",
        ),
        pytest.param(
            {"input_prefix": "raw/../labeling/"},
            r"^pipelines.0.transform.input_prefix: 'raw/../labeling/' must be a folder under raw/ ending in /, "
            r"e.g. raw/score/$",
            id="input-prefix-climbing-out-of-raw",
        ),
        pytest.param(
            {"input_prefix": "raw/*/"},
            r"^pipelines.0.transform.input_prefix: 'raw/\*/' must be a folder under raw/",
            id="input-prefix-with-a-wildcard",
        ),
        pytest.param(
            {"input_prefix": "train/sample/"},
            r"^pipelines.0.transform.input_prefix: 'train/sample/' must be a folder under raw/",
            id="input-prefix-outside-raw",
        ),
        pytest.param(
            {"input_prefix": "raw/score/", "batch_strategy": "MultiRecord"},
            r"^pipelines.0.transform.batch_strategy: MultiRecord batches records, and split_type None makes each "
            r"object one record; use split_type Line, or batch_strategy SingleRecord$",
            id="multi-record-without-a-split",
        ),
        pytest.param(
            {"input_prefix": "raw/score/", "split_type": "RecordIO"},
            r"^pipelines.0.transform.split_type: 'RecordIO' is invalid: Input should be 'None' or 'Line'$",
            id="split-the-serving-container-cannot-take",
        ),
        pytest.param(
            {"input_prefix": "raw/score/", "batch_strategy": "Batched"},
            r"^pipelines.0.transform.batch_strategy: 'Batched' is invalid: Input should be 'SingleRecord' or "
            r"'MultiRecord'$",
            id="unknown-batch-strategy",
        ),
        pytest.param(
            {"input_prefix": "raw/score/", "max_payload_mb": 101},
            r"^pipelines.0.transform.max_payload_mb: 101 is invalid: Input should be less than or equal to 100$",
            id="payload-over-100-mb",
        ),
        pytest.param(
            {"input_prefix": "raw/score/", "max_payload_mb": 30, "max_concurrent_transforms": 4},
            r"^pipelines.0.transform.max_concurrent_transforms: 4 x max_payload_mb 30 = 120 MB; SageMaker allows "
            r"at most 100 MB in flight per instance$",
            id="concurrent-payloads-over-100-mb",
        ),
        pytest.param(
            {"input_prefix": "raw/score/", "content_type": "application/x-recordio-protobuf"},
            r"^pipelines.0.transform.content_type: 'application/x-recordio-protobuf' is invalid: Input should be "
            r"'text/csv' or 'application/json'$",
            id="content-type-the-serving-container-refuses",
        ),
        pytest.param(
            {"input_prefix": "raw/score/", "input_filter": "$..features"},
            rf"^pipelines.0.transform.input_filter: '\$..features' is outside the JSONPath subset batch transform "
            rf"supports: .*{SUBSET}",
            id="recursive-descent-filter",
        ),
        pytest.param(
            {"input_prefix": "raw/score/", "output_filter": "$[?(@.score > 0.5)]"},
            rf"^pipelines.0.transform.output_filter: '\$\[\?\(@.score > 0.5\)\]' is outside the JSONPath subset .*"
            rf"{SUBSET}",
            id="filter-expression",
        ),
        pytest.param(
            {"input_prefix": "raw/score/", "input_filter": "features"},
            rf"^pipelines.0.transform.input_filter: 'features' is outside the JSONPath subset .*{SUBSET}",
            id="filter-without-the-root",
        ),
        pytest.param(
            {"input_prefix": "raw/score/", "join_source": "Output"},
            r"^pipelines.0.transform.join_source: 'Output' is invalid: Input should be 'None' or 'Input'$",
            id="unknown-join-source",
        ),
        pytest.param(
            {"input_prefix": "raw/score/", "instance_count": 0},
            r"^pipelines.0.transform.instance_count: 0 is invalid: Input should be greater than or equal to 1$",
            id="no-instances",
        ),
    ],
)
def test_bad_transforms_are_named(transform: dict[str, Any], expected: str) -> None:
    found = problems(with_transform(**transform))
    assert any(re.search(expected, p) for p in found), found


def test_a_marketplace_model_cannot_be_transformed_in_the_pipeline() -> None:
    raw = with_transform(input_prefix="raw/score/")
    raw["pipelines"][0] |= {"algorithm": MARKETPLACE, "tuning": None, "hyperparameters": {}}
    assert (
        "pipelines.0.transform: a Marketplace algorithm's model runs only from its model package, in the seller's "
        "container; remove transform"
    ) in problems(raw)
