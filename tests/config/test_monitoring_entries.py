"""An endpoint's `monitoring` entry: every bad input is refused before synth, naming the field, the value
and what is allowed."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from tests.config.test_endpoint_entries import DEV, PROD, assert_refused, parse, problems, with_endpoint

DEV_MONITORING = DEV["endpoints"][0]["monitoring"]


def with_monitoring(base: dict[str, Any] = DEV, **changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    raw["endpoints"][0]["monitoring"] |= changes
    return raw


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"schedule": "rate(1 hours)"},
            r"^endpoints.0.monitoring.schedule: 'rate\(1 hours\)' is not a schedule expression EventBridge accepts: "
            r"cron\(<6 fields>\) or rate\(<n> <unit>\), e.g. rate\(1 hour\)",
        ),
        ({"schedule": "cron(0 * * *)"}, r"^endpoints.0.monitoring.schedule: 'cron\(0 \* \* \*\)' is not a schedule"),
        (
            {"schedule": "cron(0 2 * * ? *)"},
            r"^endpoints.0.monitoring.window_hours: a cron schedule has no period: give window_hours",
        ),
        (
            {"model_quality": {"ground_truth_prefix": "ground-truth/sample/", "thresholds": {"accuracy": 0.9}}},
            r"^endpoints.0.monitoring.model_quality.problem_type: required",
        ),
        (
            {"model_quality": {"problem_type": "BinaryClassification", "thresholds": {"accuracy": 0.9}}},
            r"^endpoints.0.monitoring.model_quality.ground_truth_prefix: required",
        ),
        (
            {
                "model_quality": {
                    "problem_type": "BinaryClassification",
                    "ground_truth_prefix": "data-capture/x/",
                    "thresholds": {"rmse": 0.1},
                }
            },
            r"^endpoints.0.monitoring.model_quality.ground_truth_prefix: 'data-capture/x/' is refused: folders under "
            r"'ground-truth/' of lowercase letters, digits, '.', '_' and '-', ending with '/'$",
        ),
        (
            {
                "model_quality": {
                    "problem_type": "BinaryClassification",
                    "ground_truth_prefix": "ground-truth/x/",
                    "thresholds": {"rmse": 0.1},
                }
            },
            r"^endpoints.0.monitoring.model_quality.thresholds.rmse: 'rmse' is not a BinaryClassification metric; "
            r"allowed: accuracy, precision, recall, f1, auc$",
        ),
        (
            {"baseline": {"statistics": "s3://someone-elses-bucket/statistics.json", "constraints": "c.json"}},
            r"^endpoints.0.monitoring.baseline.statistics: bucket 'someone-elses-bucket' is not one of the platform's "
            r"buckets of this stage \(their names start with 'smplat-dev-data-'\)",
        ),
        (  # it becomes part of the check's shell command: plain folder names only
            {
                "model_quality": {
                    "problem_type": "BinaryClassification",
                    "ground_truth_prefix": "ground-truth/x$(touch${IFS}/tmp/pwn)/",
                    "thresholds": {"auc": 0.9},
                }
            },
            r"^endpoints.0.monitoring.model_quality.ground_truth_prefix: 'ground-truth/x\$\(touch\$\{IFS\}/tmp/pwn\)/' "
            r"is refused",
        ),
        (  # a wildcard would widen the job role's read grant
            {"baseline": {"statistics": "*.json", "constraints": "c.json"}},
            r"^endpoints.0.monitoring.baseline.statistics: '\*.json' is neither the S3 URI of a JSON file",
        ),
        (
            {"baseline": {"statistics": "../statistics.json", "constraints": "c.json"}},
            r"^endpoints.0.monitoring.baseline.statistics: '../statistics.json' is neither the S3 URI of a JSON file",
        ),
        (
            {"model_monitor": True, "model_quality": None, "schedule": "rate(6 hours)"},
            r"^endpoints.0.monitoring.schedule: 'rate\(6 hours\)': Model Monitor runs hourly or daily",
        ),
    ],
)
def test_bad_monitoring_is_named(changes: dict[str, Any], expected: str) -> None:
    assert_refused(with_monitoring(**changes), expected)


def test_monitoring_needs_the_traffic_captured() -> None:
    assert_refused(
        with_endpoint(DEV, data_capture=None),
        r"^endpoints.0.monitoring: monitoring reads the captured traffic: give the endpoint data_capture",
    )
    assert_refused(
        with_endpoint(DEV, data_capture={"capture": ["input"]}),
        r"^endpoints.0.data_capture.capture: monitoring with model_quality needs the output captured; "
        r"capture \['input', 'output'\]$",
    )


def test_a_model_without_a_published_baseline_needs_one_given() -> None:
    # prod serves the registry: the baseline comes with the package. An artifact has none.
    raw = with_endpoint(
        PROD,
        model={
            "source": "artifact",
            "artifact_key": "models/x/model.tar.gz",
            "image": {"repository": "inference", "tag": "1"},
        },
    )
    assert problems(raw, "prod") == [
        "endpoints.0.monitoring.baseline: a 'artifact' model has no baseline published with it (only registry "
        "packages do): give monitoring.baseline (statistics and constraints)"
    ]
    raw = with_monitoring(PROD, model_monitor=True)
    assert_refused(raw, r"^endpoints.0.monitoring.baseline: model_monitor: true needs an explicit baseline", "prod")


def test_the_shipped_entries_and_their_defaults() -> None:
    dev = parse(DEV, "dev").endpoints[0].monitoring
    prod = parse(PROD, "prod").endpoints[0].monitoring
    assert dev is not None and prod is not None
    assert (dev.schedule, dev.window, dev.instance_type, dev.model_monitor) == ("rate(1 hour)", 1, "ml.m5.large", False)
    assert dev.baseline is not None and dev.baseline.uris("bucket") == (
        "s3://bucket/models/sample/baseline/statistics.json",
        "s3://bucket/models/sample/baseline/constraints.json",
    )
    assert (prod.schedule, prod.window, prod.baseline) == ("rate(6 hours)", 6, None)
    daily = parse(with_monitoring(schedule="rate(2 days)"), "dev").endpoints[0].monitoring
    assert daily is not None and daily.window == 48
