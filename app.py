"""The CDK app: picks the stage(s), validates them, composes the stacks, registers compliance checks."""

from __future__ import annotations

import sys
from pathlib import Path

import aws_cdk as cdk
from cdk_nag import AwsSolutionsChecks, HIPAASecurityChecks, NIST80053R5Checks, PCIDSS321Checks

from config import CONFIG_DIR, ConfigError, StageConfig, available_stages, load_stage
from stacks.platform_stage import PlatformStage

ALL_STAGES = "all"


def compose(app: cdk.App, *, stage: str, config: StageConfig, local_aws: bool = False) -> PlatformStage:
    """Build every stack of one stage into `app` (as the nested stage `<stage>/`)."""
    return PlatformStage(app, stage, config=config, local_aws=local_aws)


def add_compliance_checks(app: cdk.App) -> None:
    """cdk-nag packs run as policy validation inside synth: any finding fails the synth. CDK's own
    template check (CloudFormation schemas and its built-in rules) is registered explicitly without
    its default Rego rules (one GameLift rule in 2.275): the same check, about 0.4 s faster to start."""
    cdk.Validations.of(app).add_plugins(
        cdk.CloudFormationValidatePlugin(include_default_rules=False),
        AwsSolutionsChecks(app),
        HIPAASecurityChecks(app),
        NIST80053R5Checks(app),
        PCIDSS321Checks(app),
    )


def main() -> None:
    # The CLI asks the app to leave validation results to it, but (CLI 2.1148) it neither
    # prints nor fails on findings in nested stages: the app reports and fails by itself.
    app = cdk.App(post_cli_context={"@aws-cdk/core:failSynthOnValidationErrors": True})
    config_dir = Path(app.node.try_get_context("config_dir") or CONFIG_DIR)
    requested = str(app.node.try_get_context("stage") or "dev")
    stages = available_stages(config_dir) if requested == ALL_STAGES else [requested]
    try:
        configs = {stage: load_stage(stage, config_dir) for stage in stages}
    except ConfigError as err:
        print(f"Invalid configuration: {err}", file=sys.stderr)
        sys.exit(1)
    # Set by `make demo` and the deploy tests: adapts the few things the local AWS cannot take.
    local_aws = str(app.node.try_get_context("local_aws")).lower() == "true"
    for stage, config in configs.items():
        compose(app, stage=stage, config=config, local_aws=local_aws)
    add_compliance_checks(app)
    try:
        app.synth()
    except RuntimeError as err:
        if "ValidationFailed" not in str(err):
            raise
        # The findings were printed above, each with its construct path.
        print(f"Compliance checks failed: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
