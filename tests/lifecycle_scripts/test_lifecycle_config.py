"""The lifecycle configuration: assembled from lifecycle_scripts/, within SageMaker's limits,
shellcheck-clean, fast in the foreground and idempotent when run in a sandbox root."""

from __future__ import annotations

import base64
import os
import shutil
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
from aws_cdk.assertions import Template

from app import compose
from config import load_stage
from constructs.notebook_lifecycle import MAX_SCRIPT_CHARS, SCRIPTS, LifecycleScriptError, assemble, encode
from tests.conftest import SynthesizedStage, new_app

pytestmark = pytest.mark.integration


def deployed_scripts(stage: SynthesizedStage) -> dict[str, str]:
    (config,) = stage.resources("notebooks", "AWS::SageMaker::NotebookInstanceLifecycleConfig").values()
    props = config["Properties"]
    return {
        hook: base64.b64decode(props[key][0]["Content"]).decode()
        for hook, key in (("on-create", "OnCreate"), ("on-start", "OnStart"))
    }


def test_settings_and_the_autostop_script_are_baked_in(stages: dict[str, SynthesizedStage]) -> None:
    scripts = deployed_scripts(stages["prod"])
    on_start = scripts["on-start"]
    assert "  IDLE_TIMEOUT_MINUTES=120 \\\n" in on_start and "  PIP_REQUIREMENTS=lightgbm==4.6.0 \\\n" in on_start
    assert (SCRIPTS / "autostop.py").read_text().rstrip("\n") in on_start
    assert "  SSM_PREFIX=/smplat/prod\n" in scripts["on-create"]
    assert "# @settings" not in on_start and "# @embed" not in on_start


def test_shellcheck_finds_nothing(stages: dict[str, SynthesizedStage], tmp_path: Path) -> None:
    files = sorted(str(p) for p in SCRIPTS.glob("*.sh"))
    for hook, text in deployed_scripts(stages["dev"]).items():
        (tmp_path / f"{hook}.sh").write_text(text)
        files.append(str(tmp_path / f"{hook}.sh"))
    shellcheck = Path(sys.executable).parent / "shellcheck"
    result = subprocess.run([str(shellcheck), *files], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (0, ""), result.stdout


def test_no_crlf_and_the_size_limit_is_checked_at_synth(tmp_path: Path) -> None:
    assert not any(b"\r" in p.read_bytes() for p in SCRIPTS.iterdir() if p.is_file())
    (tmp_path / "crlf.sh").write_bytes(b"#!/bin/bash\r\necho hi\r\n")
    with pytest.raises(LifecycleScriptError, match=r"crlf\.sh: has CRLF line endings"):
        assemble("crlf.sh", {}, scripts_dir=tmp_path)
    with pytest.raises(
        LifecycleScriptError, match=rf"big.sh: \d+ characters once base64-encoded; SageMaker allows {MAX_SCRIPT_CHARS}"
    ):
        encode("big.sh", "#" * 13_000)
    assert len(encode("on-start.sh", assemble("on-start.sh", {"PIP_REQUIREMENTS": ""}))) < MAX_SCRIPT_CHARS


# Where on-start puts things, as the instance sees them (the sandbox adds SMPLAT_ROOT in front).
CHECKER = "/usr/local/lib/smplat/autostop.py"
REQUIREMENTS = "/var/lib/smplat/requirements.txt"
KERNEL_PYTHON = "/opt/fake/envs/python3/bin/python"  # stands for the user's conda Python


def sandbox(tmp_path: Path) -> dict[str, str]:
    """The environment for on-start in a sandbox root, with stand-ins for systemctl and runuser
    that record their arguments (one per line); the runuser stand-in takes 3 s, like an install."""
    fake = tmp_path / "bin"
    fake.mkdir()
    (fake / "systemctl").write_text(f'#!/bin/bash\necho "$@" >> {tmp_path}/systemctl.calls\n')
    (fake / "runuser").write_text(f"#!/bin/bash\nsleep 3\nprintf '%s\\n' \"$@\" >> {tmp_path}/runuser.calls\n")
    for tool in ("systemctl", "runuser"):
        (fake / tool).chmod(0o755)
    return dict(
        os.environ,
        SMPLAT_ROOT=str(tmp_path / "root"),
        SMPLAT_PYTHON=sys.executable,
        SMPLAT_SYSTEMCTL=str(fake / "systemctl"),
        SMPLAT_RUNUSER=str(fake / "runuser"),
        SMPLAT_KERNEL_PYTHON=KERNEL_PYTHON,
    )


def run_on_start(script: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.monotonic()
    result = subprocess.run(
        ["bash", str(script)], cwd=script.parent, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    return result, time.monotonic() - started


def wait_for_install(root: Path) -> str:
    log = root / "var/log/smplat/packages.log"
    deadline = time.monotonic() + 30
    while "installed" not in (text := log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, f"the background install never finished: {text!r}"
        time.sleep(0.2)
    return text


def test_on_start_is_fast_idempotent_and_backgrounds_the_slow_part(
    stages: dict[str, SynthesizedStage], tmp_path: Path
) -> None:
    script = tmp_path / "on-start.sh"
    script.write_text(deployed_scripts(stages["prod"])["on-start"])
    env = sandbox(tmp_path)
    root = tmp_path / "root"

    first, seconds = run_on_start(script, env)
    assert first.returncode == 0, first.stderr
    assert seconds < 30 and "foreground done" in first.stdout  # the 3 s install is not waited for
    assert (root / CHECKER.lstrip("/")).read_text() == (SCRIPTS / "autostop.py").read_text()
    assert "OnUnitActiveSec=5min" in (root / "etc/systemd/system/smplat-autostop.timer").read_text()
    assert "installing: lightgbm==4.6.0" in wait_for_install(root)
    assert (tmp_path / "runuser.calls").read_text().count("install\n") == 1

    snapshot = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != "packages.log"}
    second, _ = run_on_start(script, env)
    assert second.returncode == 0, second.stderr
    time.sleep(4)  # long enough for a second install to show up, were one started
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != "packages.log"} == snapshot
    assert (tmp_path / "runuser.calls").read_text().count("install\n") == 1
    assert (tmp_path / "systemctl.calls").read_text().splitlines() == [
        "daemon-reload",
        "enable --now smplat-autostop.timer",
    ] * 2


def test_autostop_is_root_owned_outside_the_home_and_runs_as_the_user(
    stages: dict[str, SynthesizedStage], tmp_path: Path
) -> None:
    """The checker and everything on-start writes live in root-owned folders; the unit runs it as
    ec2-user, without new privileges, on a read-only system, logging through systemd."""
    script = tmp_path / "on-start.sh"
    script.write_text(deployed_scripts(stages["dev"])["on-start"])
    result, _ = run_on_start(script, sandbox(tmp_path))
    assert result.returncode == 0, result.stderr
    root = tmp_path / "root"
    assert not (root / "home").exists()  # nothing of it in the user's home
    written = sorted(str(p.relative_to(root)) for p in root.rglob("*"))
    assert written == [
        "etc",
        "etc/systemd",
        "etc/systemd/system",
        "etc/systemd/system/smplat-autostop.service",
        "etc/systemd/system/smplat-autostop.timer",
        "usr",
        "usr/local",
        "usr/local/lib",
        "usr/local/lib/smplat",
        "usr/local/lib/smplat/autostop.py",
        "var",
        "var/lib",
        "var/lib/smplat",
        "var/log",
        "var/log/smplat",
    ]
    # Writable by root alone, whatever umask SageMaker runs the script with.
    assert {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) & 0o022 for p in root.rglob("*")} == dict.fromkeys(
        written, 0
    )
    unit = tmp_path / "smplat-autostop.service"
    unit.write_text((root / "etc/systemd/system/smplat-autostop.service").read_text())
    service = dict(line.split("=", 1) for line in unit.read_text().split("[Service]\n")[1].splitlines() if "=" in line)
    assert service["ExecStart"] == f"{sys.executable} -I {CHECKER}"
    assert {key: service.get(key) for key in ("User", "NoNewPrivileges", "ProtectSystem", "ProtectHome")} == {
        "User": "ec2-user",
        "NoNewPrivileges": "yes",
        "ProtectSystem": "strict",
        "ProtectHome": "read-only",
    }
    assert service["StandardOutput"] == "append:/var/log/smplat/autostop.log"
    assert service["Environment"] == "IDLE_TIMEOUT_MINUTES=60 IDLE_IGNORES_OPEN_BROWSERS=false"
    assert "ReadWritePaths" not in service  # nothing on disk is writable for it (systemd opens the log)
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        pytest.skip("systemd-analyze is not installed")
    verify = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, check=False)
    assert (verify.returncode, verify.stderr) == (0, "")  # it warns about keys and values it does not know
    # systemd 252, as on Amazon Linux 2023; what is left is what the check needs: network, the
    # user's Python in their home, a log the user can read.
    security = subprocess.run(
        [analyze, "security", "--offline=yes", "--no-pager", str(unit)], capture_output=True, text=True, check=False
    )
    assert "Overall exposure level for smplat-autostop.service: 1.4 OK" in security.stdout, security.stdout


def test_packages_reach_pip_as_data_one_per_line_as_the_user(tmp_path: Path) -> None:
    """Specs with shell metacharacters (`>`, `<`, `[`) are written to a requirements file and
    installed with `pip install -r` as ec2-user, never expanded in a shell command."""
    dev = load_stage("dev")
    packages = ("pkg>=1,<2", "extras[a,b]==1.0", "other~=2.0")
    notebook = dev.notebooks[0].model_copy(update={"pip_packages": packages})
    stage = compose(
        new_app(tmp_path / "cdk.out"), stage="dev", config=dev.model_copy(update={"notebooks": (notebook,)})
    )
    (config,) = (
        Template.from_stack(stage.workloads["Notebooks"])
        .find_resources("AWS::SageMaker::NotebookInstanceLifecycleConfig")
        .values()
    )
    script = tmp_path / "on-start.sh"
    script.write_bytes(base64.b64decode(config["Properties"]["OnStart"][0]["Content"]))
    result, _ = run_on_start(script, sandbox(tmp_path))
    assert result.returncode == 0, result.stderr
    root = tmp_path / "root"
    assert "installing: pkg>=1,<2 extras[a,b]==1.0 other~=2.0" in wait_for_install(root)
    assert (root / REQUIREMENTS.lstrip("/")).read_text() == "pkg>=1,<2\nextras[a,b]==1.0\nother~=2.0\n"
    assert (tmp_path / "runuser.calls").read_text().splitlines() == [
        "-u",
        "ec2-user",
        "--",
        KERNEL_PYTHON,
        "-m",
        "pip",
        "install",
        "--quiet",
        "-r",
        f"{root}{REQUIREMENTS}",
    ]
    assert not list(tmp_path.glob("=*")) and not (tmp_path / "2").exists()  # no shell redirection happened


def test_on_create_leaves_a_note_once(stages: dict[str, SynthesizedStage], tmp_path: Path) -> None:
    script = tmp_path / "on-create.sh"
    script.write_text(deployed_scripts(stages["dev"])["on-create"])
    env = dict(os.environ, SMPLAT_ROOT=str(tmp_path / "root"))
    note = tmp_path / "root/home/ec2-user/SageMaker/PLATFORM.md"
    subprocess.run(["bash", str(script)], env=env, check=True, timeout=30)
    text = note.read_text()
    assert "aws ssm get-parameters-by-path --path /smplat/dev/" in text and "after 60 minutes" in text
    # The note is the user's file on their persistent volume: a second run leaves their edit be.
    edited = "# my notes\n" + text.replace("after 60 minutes", "after 60 minutes (I asked for 90)")
    note.write_text(edited)
    subprocess.run(["bash", str(script)], env=env, check=True, timeout=30)
    assert note.read_text() == edited
    shutil.rmtree(tmp_path / "root")
