"""A real Jupyter server on 127.0.0.1 (jupyter_server, with kernels and terminals) for the
auto-stop tests, and the local AWS for the stop request."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from local_aws.moto_server import LocalAws, moto_server


@dataclass(frozen=True)
class Jupyter:
    url: str
    token: str

    def api(self, path: str, method: str = "GET", body: dict[str, object] | None = None) -> object:
        data = json.dumps(body).encode() if body is not None else (b"" if method == "POST" else None)
        request = urllib.request.Request(
            f"{self.url}{path}", data=data, method=method, headers={"Authorization": f"token {self.token}"}
        )
        with urllib.request.urlopen(request, timeout=30) as response:
            text = response.read()
        return json.loads(text) if text else None


@pytest.fixture(scope="module")
def jupyter(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Jupyter]:
    home = tmp_path_factory.mktemp("jupyter")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    token = "autostop-test-token"
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(home / "config"),
        JUPYTER_DATA_DIR=str(home / "data"),
        JUPYTER_RUNTIME_DIR=str(home / "runtime"),
        HOME=str(home),
    )
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "jupyter_server",
            "--no-browser",
            "--allow-root",
            "--ip=127.0.0.1",
            f"--port={port}",
            f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={home}",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    server = Jupyter(f"http://127.0.0.1:{port}", token)
    deadline = time.monotonic() + 60
    while True:
        try:
            server.api("/api/status")
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("jupyter_server did not start") from None
            time.sleep(0.2)
    yield server
    process.terminate()
    process.wait(timeout=20)


@pytest.fixture(scope="module")
def aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    with moto_server(log_file=tmp_path_factory.mktemp("moto") / "moto.log") as local:
        yield local


def notebook_metadata(folder: Path, name: str) -> Path:
    """What SageMaker writes to /opt/ml/metadata/resource-metadata.json on a notebook instance."""
    path = folder / "resource-metadata.json"
    arn = f"arn:aws:sagemaker:us-east-1:123456789012:notebook-instance/{name}"
    path.write_text(json.dumps({"ResourceArn": arn, "ResourceName": name}))
    return path
