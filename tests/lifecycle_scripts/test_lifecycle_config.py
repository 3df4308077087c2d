"""The lifecycle configuration: assembled from lifecycle_scripts/, within SageMaker's limits,
shellcheck-clean, fast in the foreground and idempotent when run in a sandbox root."""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from constructs.notebook_lifecycle import MAX_SCRIPT_CHARS, SCRIPTS, LifecycleScriptError, assemble, encode
from tests.conftest import SynthesizedStage

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
    assert "  IDLE_TIMEOUT_MINUTES=120 \\\n" in on_start and "  PIP_PACKAGES=lightgbm==4.6.0 \\\n" in on_start
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
    assert len(encode("on-start.sh", assemble("on-start.sh", {"PIP_PACKAGES": ""}))) < MAX_SCRIPT_CHARS


def run_on_start(script: Path, root: Path, fake: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    env = dict(
        os.environ,
        SMPLAT_ROOT=str(root),
        SMPLAT_PYTHON=sys.executable,
        SMPLAT_SYSTEMCTL=str(fake / "systemctl"),
        SMPLAT_PIP=str(fake / "pip"),
    )
    started = time.monotonic()
    result = subprocess.run(["bash", str(script)], env=env, capture_output=True, text=True, timeout=60, check=False)
    return result, time.monotonic() - started


def test_on_start_is_fast_idempotent_and_backgrounds_the_slow_part(
    stages: dict[str, SynthesizedStage], tmp_path: Path
) -> None:
    script = tmp_path / "on-start.sh"
    script.write_text(deployed_scripts(stages["prod"])["on-start"])
    fake, root = tmp_path / "bin", tmp_path / "root"
    fake.mkdir()
    # Stand-ins for the instance's systemctl and pip: they record their calls; pip takes 3 s.
    (fake / "systemctl").write_text(f'#!/bin/bash\necho "$@" >> {tmp_path}/systemctl.calls\n')
    (fake / "pip").write_text(f'#!/bin/bash\nsleep 3\necho "$@" >> {tmp_path}/pip.calls\n')
    for tool in ("systemctl", "pip"):
        (fake / tool).chmod(0o755)

    first, seconds = run_on_start(script, root, fake)
    assert first.returncode == 0, first.stderr
    assert seconds < 30 and "foreground done" in first.stdout  # the 3 s install is not waited for
    state = root / "home/ec2-user/.smplat"
    units = root / "etc/systemd/system"
    assert (state / "autostop.py").read_text() == (SCRIPTS / "autostop.py").read_text()
    service = (units / "smplat-autostop.service").read_text()
    assert "Environment=IDLE_TIMEOUT_MINUTES=120" in service and f"{state}/autostop.py" in service
    assert "OnUnitActiveSec=5min" in (units / "smplat-autostop.timer").read_text()
    log = root / "var/log/smplat/packages.log"
    deadline = time.monotonic() + 30
    while "installed" not in (log.read_text() if log.exists() else ""):
        assert time.monotonic() < deadline, "the background install never finished"
        time.sleep(0.2)
    assert "installing: lightgbm==4.6.0" in log.read_text()
    assert (tmp_path / "pip.calls").read_text() == "install --quiet lightgbm==4.6.0\n"

    snapshot = {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != "packages.log"}
    second, _ = run_on_start(script, root, fake)
    assert second.returncode == 0, second.stderr
    time.sleep(4)  # long enough for a second install to show up, were one started
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file() and p.name != "packages.log"} == snapshot
    assert (tmp_path / "pip.calls").read_text().count("install") == 1
    assert (tmp_path / "systemctl.calls").read_text().splitlines() == [
        "daemon-reload",
        "enable --now smplat-autostop.timer",
    ] * 2


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
