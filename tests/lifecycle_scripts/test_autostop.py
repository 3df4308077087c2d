"""Idle auto-stop against a real Jupyter server, with the stop request reaching the local AWS."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from tornado.websocket import websocket_connect

from local_aws.deploy import client
from local_aws.moto_server import LocalAws
from tests.lifecycle_scripts.conftest import Jupyter, notebook_metadata

AUTOSTOP = Path(__file__).resolve().parents[2] / "lifecycle_scripts" / "autostop.py"
pytestmark = pytest.mark.integration


def create_notebook(aws: LocalAws) -> str:
    name = f"smplat-dev-{uuid.uuid4().hex[:8]}"
    client(aws, "sagemaker").create_notebook_instance(
        NotebookInstanceName=name, InstanceType="ml.t3.medium", RoleArn="arn:aws:iam::123456789012:role/notebook"
    )
    return name


def status(aws: LocalAws, name: str) -> str:
    return str(client(aws, "sagemaker").describe_notebook_instance(NotebookInstanceName=name)["NotebookInstanceStatus"])


def autostop(jupyter: Jupyter, aws: LocalAws, metadata: Path, timeout_minutes: float, *extra: str) -> str:
    result = subprocess.run(
        [
            sys.executable,
            "-I",  # as the unit runs it
            str(AUTOSTOP),
            "--jupyter-url",
            jupyter.url,
            "--token",
            jupyter.token,
            "--timeout-minutes",
            str(timeout_minutes),
            "--metadata",
            str(metadata),
            *extra,
        ],
        env=aws.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


@pytest.fixture
def clean(jupyter: Jupyter) -> Iterator[None]:
    yield
    for kernel in jupyter.api("/api/kernels"):  # type: ignore[union-attr]
        jupyter.api(f"/api/kernels/{kernel['id']}", method="DELETE")
    for terminal in jupyter.api("/api/terminals"):  # type: ignore[union-attr]
        jupyter.api(f"/api/terminals/{terminal['name']}", method="DELETE")


@contextmanager
def connected_kernel(jupyter: Jupyter, code: str | None = None) -> Iterator[str]:
    """A kernel with an open websocket (like a browser tab), optionally running `code`."""
    kernel = jupyter.api("/api/kernels", method="POST", body={"name": "python3"})
    kernel_id = kernel["id"]  # type: ignore[index]
    loop = asyncio.new_event_loop()
    url = f"{jupyter.url.replace('http', 'ws')}/api/kernels/{kernel_id}/channels?token={jupyter.token}"

    async def connect() -> Any:
        return await websocket_connect(url)

    socket = loop.run_until_complete(connect())
    if code is not None:
        message: dict[str, Any] = {
            "header": {
                "msg_id": uuid.uuid4().hex,
                "msg_type": "execute_request",
                "username": "t",
                "session": "s",
                "version": "5.3",
            },
            "parent_header": {},
            "metadata": {},
            "channel": "shell",
            "content": {
                "code": code,
                "silent": False,
                "store_history": False,
                "user_expressions": {},
                "allow_stdin": False,
            },
        }

        async def send() -> None:
            await socket.write_message(json.dumps(message))

        loop.run_until_complete(send())
        deadline = time.monotonic() + 30
        while jupyter.api(f"/api/kernels/{kernel_id}")["execution_state"] != "busy":  # type: ignore[index]
            assert time.monotonic() < deadline, "the kernel never became busy"
            time.sleep(0.2)
    try:
        yield kernel_id
    finally:
        # Inside the loop: tornado looks the current loop up, and after any asyncio.run() in the
        # same process (tests/model_code does that) there is none outside a running one.
        async def close() -> None:
            socket.close()

        loop.run_until_complete(close())
        loop.close()


def test_nothing_open_and_quiet_beyond_the_timeout_stops_the_instance(
    jupyter: Jupyter, aws: LocalAws, tmp_path: Path, clean: None
) -> None:
    name = create_notebook(aws)
    time.sleep(1.5)
    out = autostop(jupyter, aws, notebook_metadata(tmp_path, name), 0.01)
    assert f"stopping {name}: idle for" in out
    assert status(aws, name) == "Stopped"


def test_reading_the_state_is_not_activity(jupyter: Jupyter, aws: LocalAws, tmp_path: Path, clean: None) -> None:
    name = create_notebook(aws)
    metadata = notebook_metadata(tmp_path, name)
    assert "in use" in autostop(jupyter, aws, metadata, 60)  # the server just started: in use
    time.sleep(1.5)
    assert "stopping" in autostop(jupyter, aws, metadata, 0.01)  # the first check did not count


def test_a_busy_kernel_is_never_idle(jupyter: Jupyter, aws: LocalAws, tmp_path: Path, clean: None) -> None:
    name = create_notebook(aws)
    with connected_kernel(jupyter, "import time; time.sleep(20)"):
        out = autostop(jupyter, aws, notebook_metadata(tmp_path, name), 0.0, "--ignore-connections")
    assert "in use: kernel" in out and "is busy" in out
    assert status(aws, name) != "Stopped"


def test_an_open_notebook_tab_keeps_it_up_unless_told_otherwise(
    jupyter: Jupyter, aws: LocalAws, tmp_path: Path, clean: None
) -> None:
    name = create_notebook(aws)
    metadata = notebook_metadata(tmp_path, name)
    with connected_kernel(jupyter):
        time.sleep(1.5)
        assert "has an open connection" in autostop(jupyter, aws, metadata, 0.01)
        assert status(aws, name) != "Stopped"
        assert f"stopping {name}" in autostop(jupyter, aws, metadata, 0.01, "--ignore-connections")
    assert status(aws, name) == "Stopped"


def use_terminal(jupyter: Jupyter, name: str) -> None:
    """Type a command into terminal `name` over its websocket, as the browser's terminal does, and
    wait for its output."""
    loop = asyncio.new_event_loop()
    url = f"{jupyter.url.replace('http', 'ws')}/terminals/websocket/{name}?token={jupyter.token}"

    async def type_and_read() -> None:
        socket = await websocket_connect(url)
        await socket.write_message(json.dumps(["stdin", "echo terminal-$((6 * 7))\r"]))
        output = ""
        while "terminal-42" not in output:
            message = await asyncio.wait_for(socket.read_message(), timeout=10)
            assert message is not None, "the terminal closed its websocket"
            kind, *content = json.loads(message)
            output += str(content[0]) if kind == "stdout" else ""
        socket.close()

    try:
        loop.run_until_complete(type_and_read())
    finally:
        loop.close()


def test_a_recently_used_terminal_is_not_idle(jupyter: Jupyter, aws: LocalAws, tmp_path: Path, clean: None) -> None:
    # An idle kernel is open too: without it, a check that overlooked terminals would fall back
    # on the server's own last activity, which counts terminal use as well.
    jupyter.api("/api/kernels", method="POST", body={"name": "python3"})
    terminal = jupyter.api("/api/terminals", method="POST")["name"]  # type: ignore[index]
    time.sleep(4)  # everything goes quiet for longer than the 0.05 min (3 s) timeout
    (tmp_path / "control").mkdir()
    control = create_notebook(aws)
    out = autostop(jupyter, aws, notebook_metadata(tmp_path / "control", control), 0.05)
    assert f"stopping {control}: idle for" in out  # so far, nothing keeps an instance up

    name = create_notebook(aws)
    use_terminal(jupyter, terminal)
    out = autostop(jupyter, aws, notebook_metadata(tmp_path, name), 0.05)
    assert "in use: last activity 0 s ago in terminal " + terminal + " (" in out
    assert status(aws, name) != "Stopped"


def test_an_unreachable_server_never_stops_anything(aws: LocalAws, tmp_path: Path) -> None:
    name = create_notebook(aws)
    result = subprocess.run(
        [
            sys.executable,
            "-I",  # as the unit runs it
            str(AUTOSTOP),
            "--jupyter-url",
            "http://127.0.0.1:9",
            "--timeout-minutes",
            "0",
            "--metadata",
            str(notebook_metadata(tmp_path, name)),
            "--log",
            str(tmp_path / "autostop.log"),
        ],
        env=aws.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1
    assert "check failed, not stopping" in (tmp_path / "autostop.log").read_text()
    assert status(aws, name) != "Stopped"
