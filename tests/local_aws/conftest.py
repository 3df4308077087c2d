"""One local AWS (moto server on loopback) for every deploy test; each module starts from a reset,
freshly bootstrapped account (moto re-creates what deleted stacks reference, so reset, not destroy)."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from local_aws.deploy import bootstrap
from local_aws.moto_server import LocalAws, moto_server

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def local_aws_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    # The CDK CLI from node_modules and this interpreter's tools, as the Makefile sets PATH.
    os.environ["PATH"] = os.pathsep.join(
        [str(ROOT / "node_modules" / ".bin"), str(Path(sys.executable).parent), os.environ["PATH"]]
    )
    with moto_server(log_file=tmp_path_factory.mktemp("moto") / "moto.log") as local:
        yield local


@pytest.fixture(scope="module")
def aws(local_aws_server: LocalAws) -> LocalAws:
    """A fresh account: the server reset, then the CDKToolkit stack created."""
    local_aws_server.reset()
    bootstrap(local_aws_server)
    return local_aws_server
