"""A notebook lifecycle configuration assembled from the scripts in lifecycle_scripts/."""

from __future__ import annotations

import base64
import shlex
from collections.abc import Mapping
from pathlib import Path

from aws_cdk import aws_sagemaker as sagemaker

from constructs import Construct

SCRIPTS = Path(__file__).resolve().parent.parent / "lifecycle_scripts"
# SageMaker's limit for each script, counted on its base64-encoded content.
MAX_SCRIPT_CHARS = 16384


class LifecycleScriptError(ValueError):
    """A lifecycle script breaks a SageMaker rule; the message names the script and the rule."""


def assemble(script: str, settings: Mapping[str, str], *, scripts_dir: Path = SCRIPTS) -> str:
    """The script with `# @settings` replaced by shell assignments of `settings` (quoted) and each
    `# @embed <file>` by a heredoc that writes that file into `$LIB_DIR`, the script's root-owned
    program folder (the script defines it before the marker)."""
    text = (scripts_dir / script).read_bytes().decode("utf-8")  # bytes: read_text would hide CRLF
    if "\r" in text:
        raise LifecycleScriptError(f"{script}: has CRLF line endings; lifecycle scripts must use LF")
    lines = []
    for line in text.split("\n"):
        marker = line.strip()
        if marker == "# @settings":
            lines += [
                "# Settings from the stage file (written by constructs/notebook_lifecycle.py); both",
                "# scripts get all of them and each uses some.",
                "# shellcheck disable=SC2034",
                "declare -r \\",
            ]
            pairs = [f"  {key}={shlex.quote(value)}" for key, value in settings.items()]
            lines += [pair + " \\" for pair in pairs[:-1]] + pairs[-1:]
        elif marker.startswith("# @embed "):
            name = marker.removeprefix("# @embed ")
            body = (scripts_dir / name).read_bytes().decode("utf-8")
            if "SMPLAT_EMBED_EOF" in body or "\r" in body:
                raise LifecycleScriptError(f"{name}: cannot be embedded (CRLF or the heredoc marker inside)")
            lines += [f"cat >\"$LIB_DIR/{name}\" <<'SMPLAT_EMBED_EOF'", body.rstrip("\n"), "SMPLAT_EMBED_EOF"]
        else:
            lines.append(line)
    return "\n".join(lines)


def encode(script_name: str, content: str) -> str:
    encoded = base64.b64encode(content.encode()).decode()
    if len(encoded) > MAX_SCRIPT_CHARS:
        raise LifecycleScriptError(
            f"{script_name}: {len(encoded)} characters once base64-encoded; SageMaker allows {MAX_SCRIPT_CHARS}"
        )
    return encoded


class NotebookLifecycle(Construct):
    """A notebook lifecycle configuration: `on-create.sh` and `on-start.sh` from lifecycle_scripts/,
    with the notebook's settings and embedded files baked in, within SageMaker's 16,384 characters
    (base64) per script.

    Props:
        settings: shell variables for both scripts, as `declare -r` with shell-quoted values (so a value
            may hold any character, newlines included), e.g. IDLE_TIMEOUT_MINUTES, and PIP_REQUIREMENTS:
            the requirements file on-start writes, one package spec per line (empty: none).
    """

    def __init__(self, scope: Construct, id: str, *, settings: Mapping[str, str]) -> None:
        super().__init__(scope, id)
        self.on_create = assemble("on-create.sh", settings)
        self.on_start = assemble("on-start.sh", settings)
        self.config = sagemaker.CfnNotebookInstanceLifecycleConfig(
            self,
            "Config",
            on_create=[sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty(
                content=encode("on-create.sh", self.on_create)
            )],
            on_start=[sagemaker.CfnNotebookInstanceLifecycleConfig.NotebookInstanceLifecycleHookProperty(
                content=encode("on-start.sh", self.on_start)
            )],
        )  # fmt: skip
