"""Endpoint entries of a stage file: every bad input is refused before synth, with a message that
names the field, the value and what is allowed."""

from __future__ import annotations

import copy
import re
from typing import Any

import pytest

from config import ConfigError, StageConfig, parse_stage
from tests.config.test_stage_files import DEV, PROD

REGISTRY_ARN = "arn:aws:sagemaker:eu-west-1:123456789012:model-package/smplat-prod/3"
MARKETPLACE_ARN = "arn:aws:sagemaker:eu-west-1:985815980388:model-package/fraud-detector-4f2b1c"


def with_endpoint(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """`base` with its first endpoint updated by `changes` (top-level keys of the entry)."""
    raw = copy.deepcopy(base)
    raw["endpoints"][0] |= changes
    return raw


def with_variant(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    raw = copy.deepcopy(base)
    raw["endpoints"][0]["variants"][0] |= changes
    return raw


def parse(raw: dict[str, Any], stage: str) -> StageConfig:
    return parse_stage(raw, source=f"{stage}.yaml", stage=stage)


def problems(raw: dict[str, Any], stage: str = "dev") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(raw, stage)
    return caught.value.problems


def assert_refused(raw: dict[str, Any], expected: str, stage: str = "dev") -> None:
    found = problems(raw, stage)
    assert any(re.search(expected, p) for p in found), found


SCALING = {"min_capacity": 2, "max_capacity": 4, "target_invocations_per_instance": 1000}


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (
            {"autoscaling": {**SCALING, "min_capacity": 3, "max_capacity": 2}},
            r"^endpoints.0.variants.0.autoscaling: min_capacity 3 > max_capacity 2$",
        ),
        (
            {"initial_instance_count": 5, "autoscaling": SCALING},
            r"^endpoints.0.variants.0.initial_instance_count: 5 is outside autoscaling min_capacity..max_capacity "
            r"\(2..4\)$",
        ),
        (
            {"instance_type": "ml.t2.medium", "autoscaling": {**SCALING, "min_capacity": 1}},
            r"^endpoints.0.variants.0.autoscaling: ml.t2.medium is a burstable instance type, which SageMaker cannot "
            "autoscale",
        ),
        (
            {"instance_type": "m5.large"},
            r"^endpoints.0.variants.0.instance_type: 'm5.large' is not a SageMaker hosting",
        ),
        (
            {"accelerator_type": "ml.eia2.medium"},
            r"^endpoints.0.variants.0.accelerator_type: 'ml.eia2.medium' is refused: Elastic Inference .* end of life"
            r".*GPU .* Inferentia",
        ),
        (
            {"serverless": {"memory_size_mb": 2048, "max_concurrency": 5}},
            r"^endpoints.0.variants.0: give exactly one of instance_type \(instances\) or serverless, got both$",
        ),
        (
            {"instance_type": None},
            r"^endpoints.0.variants.0: give exactly one of instance_type \(instances\) or serverless, got neither$",
        ),
        (
            {"autoscaling": {"min_capacity": 1, "max_capacity": 2}},
            r"^endpoints.0.variants.0.autoscaling: give exactly one of target_invocations_per_instance or "
            r"max_rps_per_instance \(got neither\)$",
        ),
        (
            {
                "autoscaling": {
                    **SCALING,
                    "min_capacity": 1,
                    "scheduled": [{"name": "nights", "schedule": "0 7 * * *", "min_capacity": 3, "max_capacity": 2}],
                }
            },
            r"^endpoints.0.variants.0.autoscaling.scheduled.0.schedule: '0 7 \* \* \*' is not a schedule expression",
        ),
        (
            {
                "autoscaling": {
                    **SCALING,
                    "min_capacity": 1,
                    "scheduled": [
                        {"name": "nights", "schedule": "cron(0 7 * * ? *)", "min_capacity": 3, "max_capacity": 2}
                    ],
                }
            },
            r"^endpoints.0.variants.0.autoscaling.scheduled.0: min_capacity 3 > max_capacity 2$",
        ),
    ],
)
def test_bad_variants_are_named(variant: dict[str, Any], expected: str) -> None:
    assert_refused(with_variant(DEV, **variant), expected)


def test_schedules_need_real_time_zones_and_names_fit_sagemaker() -> None:
    action = {"name": "mornings", "schedule": "cron(0 7 * * ? *)", "timezone": "Europe/Nowhere"}
    raw = with_variant(
        DEV, autoscaling={**SCALING, "min_capacity": 1, "scheduled": [action | {"min_capacity": 1, "max_capacity": 2}]}
    )
    assert_refused(raw, r"^endpoints.0.variants.0.autoscaling.scheduled.0.timezone: 'Europe/Nowhere' is not an IANA")
    long_name = "fraud-scoring-with-a-long-name"  # 30 characters, the most a name may have
    assert_refused(
        with_endpoint(DEV, name=long_name),
        r"^endpoints.0.name: the endpoint name 'smplat-a-very-long-stage-name-.*' has 72 characters; SageMaker "
        "allows 63",
        stage="a-very-long-stage-name-for-testing",
    )


def test_a_shadow_copies_one_production_variant() -> None:
    shadow = {"model": DEV["endpoints"][0]["model"], "instance_type": "ml.m5.large"}
    variants = [{"name": "a", "instance_type": "ml.m5.large"}, {"name": "b", "instance_type": "ml.m5.large"}]
    assert_refused(
        with_endpoint(DEV, variants=variants, shadow=shadow),
        r"^endpoints.0.shadow: a shadow variant needs exactly one production variant to copy traffic from, got 2$",
    )


def test_weights_that_sum_to_zero_are_refused() -> None:
    raw = with_endpoint(
        DEV,
        variants=[
            {"name": "blue", "instance_type": "ml.m5.large", "weight": 0},
            {"name": "green", "instance_type": "ml.m5.large", "weight": 0.0},
        ],
    )
    assert_refused(
        raw, r"^endpoints.0.variants: weights \[0.0, 0.0\] sum to zero; at least one variant must take traffic"
    )


def test_names_must_be_unique() -> None:
    raw = copy.deepcopy(DEV)
    raw["endpoints"].append(copy.deepcopy(raw["endpoints"][0]))
    raw["endpoints"][0]["variants"].append(copy.deepcopy(raw["endpoints"][0]["variants"][0]))
    found = problems(raw)
    assert "endpoints: names ['sample'] are used more than once; each endpoint needs its own name" in found
    assert any(p.startswith("endpoints.0.variants: names ['primary'] are used more than once") for p in found)


@pytest.mark.parametrize(
    ("variant", "expected"),
    [
        (
            {"initial_instance_count": 1},
            r"^endpoints.0.variants.0.initial_instance_count: 1 is refused: sandbox: false stages need at least 2 "
            r"instances per variant, so that SageMaker spreads them over the Availability Zones",
        ),
        (
            {"autoscaling": {**SCALING, "min_capacity": 1}},
            r"^endpoints.0.variants.0.autoscaling.min_capacity: 1 is refused: sandbox: false stages need at least 2",
        ),
        (
            {"instance_type": None, "autoscaling": None, "serverless": {"memory_size_mb": 2048, "max_concurrency": 5}},
            r"^endpoints.0.variants: serverless is refused in a stage with sandbox: false: serverless endpoints cannot "
            "run in a VPC",
        ),
    ],
)
def test_prod_keeps_every_variant_on_two_or_more_instances_in_the_vpc(variant: dict[str, Any], expected: str) -> None:
    assert_refused(with_variant(PROD, **variant), expected, stage="prod")


@pytest.mark.parametrize(
    ("model", "expected"),
    [
        (
            {"source": "registry", "model_package": "arn:aws:sagemaker:eu-west-1:123456789012:model/fraud"},
            r"^endpoints.0.model.model_package: 'arn:aws:sagemaker:eu-west-1:123456789012:model/fraud' is not a model "
            r"package version ARN \(arn:aws:sagemaker:<region>:<account>:model-package/<group>/<version>\) nor "
            "'latest-approved'$",
        ),
        (
            {"source": "registry", "model_package": REGISTRY_ARN.replace("smplat-prod", "other-team")},
            r"^endpoints.0.model.model_package: .* is in group 'other-team'; this stage's registry is 'smplat-prod'$",
        ),
        (
            {"source": "registry", "model_package": REGISTRY_ARN.replace("eu-west-1", "us-east-1")},
            r"^endpoints.0.model.model_package: .* is in region 'us-east-1', the stage deploys to 'eu-west-1'$",
        ),
        (
            {"source": "registry", "model_package": REGISTRY_ARN.replace("123456789012", "210987654321")},
            r"^endpoints.0.model.model_package: .* is in account 210987654321, the stage's is 123456789012$",
        ),
        (
            {"source": "marketplace", "model_package": REGISTRY_ARN},
            r"^endpoints.0.model.model_package: .* is not a marketplace model package ARN",
        ),
        ({"source": "registry"}, r"^endpoints.0.model.model_package: required for source 'registry'$"),
        (
            {"source": "registry", "model_package": "latest-approved", "artifact_key": "models/a/model.tar.gz"},
            r"^endpoints.0.model: \['artifact_key'\] do not apply to source 'registry'; it takes \['model_package'\]$",
        ),
        (
            {"source": "artifact", "artifact_key": "models/a/model.tar.gz"},
            r"^endpoints.0.model: give exactly one of image \(a platform repository and tag\) or image_uri$",
        ),
        (
            {
                "source": "artifact",
                "artifact_key": "models/a/model.zip",
                "image": {"repository": "inference", "tag": "1"},
            },
            r"^endpoints.0.model.artifact_key: 'models/a/model.zip' must be an object key ending in .tar.gz",
        ),
        (
            {
                "source": "artifact",
                "artifact_key": "jobs/x/model.tar.gz",
                "image": {"repository": "inference", "tag": "1"},
            },
            r"^endpoints.0.model.artifact_key: 'jobs/x/model.tar.gz' must be under models/ \(only the model "
            r"publisher writes there; endpoints serve only published models\), e.g. models/fraud/v3/model.tar.gz$",
        ),
        (
            {
                "source": "artifact",
                "artifact_key": "models/m/model.tar.gz",
                "image": {"repository": "serving", "tag": "1"},
            },
            r"^endpoints.0.model.image.repository: 'serving' is not one of the platform's repositories "
            r"\(data.container_repositories: \['training', 'inference'\]\)$",
        ),
        (
            {"source": "artifact", "artifact_key": "models/m/model.tar.gz", "image_uri": "xgboost:latest"},
            r"^endpoints.0.model.image_uri: 'xgboost:latest' is not an ECR image URI with a tag or digest",
        ),
        ({"source": "huggingface"}, r"^endpoints.0.model.source: 'huggingface' is invalid: Input should be 'artifact'"),
    ],
)
def test_bad_model_sources_are_named(model: dict[str, Any], expected: str) -> None:
    assert_refused(with_endpoint(PROD, model=model), expected, stage="prod")


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"model": {"source": "marketplace", "model_package": MARKETPLACE_ARN}},
            r"^endpoints.0.deployment.traffic_shifting: 'canary' is not possible with a marketplace model: SageMaker "
            "falls back to all-at-once",
        ),
        (
            {"variants": [{"instance_type": "ml.inf1.xlarge", "initial_instance_count": 2}]},
            r"^endpoints.0.deployment.traffic_shifting: 'canary' is not possible with Inferentia 1 instances "
            r"\(ml.inf1.xlarge\)",
        ),
        (
            {
                "deployment": {
                    "traffic_shifting": "linear",
                    "linear_step_percent": 20,
                    "wait_minutes": 10,
                    "max_minutes": 40,
                }
            },
            r"^endpoints.0.deployment.max_minutes: 40 leaves no time to deploy: linear waits 4 x 10 min between steps "
            "and bakes 10 min; raise max_minutes above 50$",
        ),
    ],
)
def test_guardrails_that_cannot_work_are_refused(changes: dict[str, Any], expected: str) -> None:
    assert_refused(with_endpoint(PROD, **changes), expected, stage="prod")


def test_serverless_takes_none_of_the_features_it_lacks() -> None:
    raw = with_endpoint(
        DEV,
        variants=[{"serverless": {"memory_size_mb": 1500, "max_concurrency": 5, "provisioned_concurrency": 6}}],
        shadow={"model": DEV["endpoints"][0]["model"], "instance_type": "ml.m5.large"},
    )
    found = problems(raw)
    assert (
        "endpoints.0: a serverless variant cannot be combined with a shadow variant, data capture, network isolation "
        "(on by default: set network_isolation: false) (SageMaker Serverless Inference supports none of them)"
    ) in found
    assert any(
        p.startswith("endpoints.0.variants.0.serverless.memory_size_mb: 1500 is not a serverless") for p in found
    )
    assert "endpoints.0.variants.0.serverless: provisioned_concurrency 6 > max_concurrency 5" in found


def test_valid_sources_and_variants_parse() -> None:
    registry = parse(with_endpoint(PROD, model={"source": "registry", "model_package": REGISTRY_ARN}), "prod")
    assert registry.endpoints[0].model.model_package == REGISTRY_ARN
    marketplace = with_endpoint(
        PROD,
        model={"source": "marketplace", "model_package": MARKETPLACE_ARN},
        deployment={"traffic_shifting": "all_at_once"},
        monitoring=None,
    )
    assert parse(marketplace, "prod").endpoints[0].model.source == "marketplace"
    serverless = with_endpoint(
        DEV,
        variants=[{"serverless": {"memory_size_mb": 2048, "max_concurrency": 5}}],
        data_capture=None,
        monitoring=None,
        network_isolation=False,
    )
    assert parse(serverless, "dev").endpoints[0].variants[0].serverless is not None
    # Defaults: one ml.m5.large variant, network isolation, canary deployment.
    minimal = copy.deepcopy(DEV) | {"endpoints": [{"name": "x", "model": DEV["endpoints"][0]["model"]}]}
    (entry,) = parse(minimal, "dev").endpoints
    assert [(v.name, v.instance_type, v.initial_instance_count) for v in entry.variants] == [
        ("primary", "ml.m5.large", 1)
    ]
    assert entry.network_isolation and entry.deployment.traffic_shifting == "canary" and entry.data_capture is None


@pytest.mark.parametrize(
    "changes",
    [
        {"model": {"source": "marketplace", "model_package": MARKETPLACE_ARN}},
        {"variants": [{"instance_type": "ml.inf1.xlarge", "initial_instance_count": 2}]},
    ],
)
def test_the_default_shifting_follows_what_sagemaker_can_shift(changes: dict[str, Any]) -> None:
    # A retained stage with a Marketplace model (or Inferentia 1 instances) and no traffic_shifting of its own:
    # all at once, the only way SageMaker deploys them, instead of the canary default that it cannot do.
    raw = with_endpoint(PROD, **changes, monitoring=None)
    raw["endpoints"][0]["deployment"].pop("traffic_shifting")
    (entry,) = parse(raw, "prod").endpoints
    assert entry.deployment.traffic_shifting == "all_at_once"
    assert entry.deployment.bake_minutes == 15  # the rest of the stage file's deployment is kept
    # Elsewhere the default stays canary.
    plain = copy.deepcopy(PROD)
    plain["endpoints"][0]["deployment"].pop("traffic_shifting")
    assert parse(plain, "prod").endpoints[0].deployment.traffic_shifting == "canary"
