"""The real CDK CLI: every stage synthesizes with no credentials, lint-clean; bad config stops synth."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from config import available_stages

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.integration


def cli_env(home: Path) -> dict[str, str]:
    """No credentials and no AWS configuration at all: synth must not need them."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and not k.startswith("CDK_")}
    env.update(
        HOME=str(home),
        PATH=os.pathsep.join([str(ROOT / "node_modules" / ".bin"), str(Path(sys.executable).parent), env["PATH"]]),
        AWS_CONFIG_FILE=str(home / "missing-config"),
        AWS_SHARED_CREDENTIALS_FILE=str(home / "missing-credentials"),
        AWS_EC2_METADATA_DISABLED="true",
        CDK_DISABLE_VERSION_CHECK="true",
    )
    return env


def cdk(args: list[str], home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["cdk", *args], cwd=ROOT, env=cli_env(home), capture_output=True, text=True, timeout=300, check=False
    )


@pytest.fixture(scope="session")
def cli_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("cli") / "cdk.out"
    result = cdk(["synth", "--quiet", "-c", "stage=all", "-o", str(out)], tmp_path_factory.mktemp("home"))
    assert result.returncode == 0, result.stdout + result.stderr
    return out


def test_every_stage_synthesizes_without_credentials_or_lookups(cli_out: Path) -> None:
    manifest = json.loads((cli_out / "manifest.json").read_text())
    assert "missing" not in manifest
    for stage in available_stages():
        nested = json.loads((cli_out / f"assembly-{stage}" / "manifest.json").read_text())
        assert "missing" not in nested
        stacks = {
            a["properties"]["stackName"]
            for a in nested["artifacts"].values()
            if a["type"] == "aws:cloudformation:stack"
        }
        roles = {
            "dev": ("data", "network", "notebooks", "endpoints", "pipelines", "labeling", "monitoring"),
            "examples": ("data", "network", "pipelines"),
            "prod": ("data", "network", "notebooks", "endpoints", "monitoring"),
        }[stage]
        assert stacks == {f"smplat-{stage}-{role}" for role in roles}


def test_cfn_lint_reports_nothing(cli_out: Path) -> None:
    templates = sorted(str(p) for p in cli_out.glob("assembly-*/*.template.json"))
    assert len(templates) == 7 + 3 + 5  # dev, examples, prod (tests/test_app.py names them)
    cfn_lint = Path(sys.executable).parent / "cfn-lint"
    result = subprocess.run(
        [str(cfn_lint), "--ignore-checks", "W3005,W6001", "--", *templates], capture_output=True, text=True, check=False
    )
    assert (result.returncode, result.stdout) == (0, ""), result.stdout


def test_checkov_reports_nothing_but_the_inline_skip(cli_out: Path) -> None:
    checkov = ROOT / ".venv-checkov" / "bin" / "checkov"
    result = subprocess.run(
        [str(checkov), "--skip-download", "--framework", "cloudformation", "-d", str(cli_out), "-o", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    reports = json.loads(result.stdout)
    reports = reports if isinstance(reports, list) else [reports]
    failed = [c for r in reports for c in r["results"]["failed_checks"]]
    skipped = [(c["check_id"], c["resource"]) for r in reports for c in r["results"]["skipped_checks"]]
    assert failed == [], [(c["check_id"], c["resource"]) for c in failed]
    # The network stack's two deploy-time functions (closing the default group, looking up S3's
    # prefix list) skip the checks for functions that serve traffic: VPC, concurrency, DLQ.
    functions = (
        "AWS::Lambda::Function.CustomVpcRestrictDefaultSGCustomResourceProviderHandlerDC833E5E",
        "AWS::Lambda::Function.AWS679f53fac002430cb0da5b7982bd22872D164C4C",
    )
    per_stage = [("CKV_AWS_18", "AWS::S3::Bucket.AccessLogsBucketCD784A59")] + [
        (check, function) for function in functions for check in ("CKV_AWS_117", "CKV_AWS_115", "CKV_AWS_116")
    ]
    assert sorted(skipped) == sorted(per_stage * len(available_stages()))
    assert result.returncode == 0


def test_bad_stage_file_stops_synth_with_a_clear_message(tmp_path: Path) -> None:
    dev = (ROOT / "config" / "dev.yaml").read_text()
    bad = dev.replace("cidr: 10.40.0.0/16", "cidr: 10.40.0.0/33").replace("min_capacity: 1", "min_capacity: 3")
    (tmp_path / "dev.yaml").write_text(bad + "colour: blue\n")
    result = cdk(
        ["synth", "--quiet", "-c", "stage=dev", "-c", f"config_dir={tmp_path}", "-o", str(tmp_path / "out")], tmp_path
    )
    assert result.returncode != 0
    assert f"Invalid configuration: {tmp_path / 'dev.yaml'}: 3 problems" in result.stderr
    assert "  - colour: unknown key (value 'blue')" in result.stderr
    assert "  - network.cidr: '10.40.0.0/33' is not a valid IPv4 CIDR block" in result.stderr
    assert "  - endpoints.0.variants.0.autoscaling: min_capacity 3 > max_capacity 2" in result.stderr
    assert "Traceback" not in result.stderr


def test_unknown_stage_lists_the_valid_ones(tmp_path: Path) -> None:
    result = cdk(["synth", "--quiet", "-c", "stage=qa", "-o", str(tmp_path / "out")], tmp_path)
    assert result.returncode != 0
    assert "valid stages: dev, examples, prod" in result.stderr and "Traceback" not in result.stderr
