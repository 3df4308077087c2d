"""Serving entry point: SageMaker's container contract on port 8080, as a lean ASGI app on uvicorn.

`GET /ping` answers 200 only once the model is loaded. `POST /invocations` (and SageMaker
Runtime's own path, `POST /endpoints/<name>/invocations`, so that an unmodified boto3
`sagemaker-runtime` client with `endpoint_url` can call it; given `--endpoint-name`, that path
answers for that name only, any other gets SageMaker Runtime's 400 ValidationError) takes
`text/csv` (one row per line, no header, features only) or `application/json`
(`{"instances": [[...], ...]}`, `[[...]]` or one flat row), and answers scores as CSV or JSON
(`Accept`). Bad requests get a short 4xx message: 415 for an unknown content type, 406 for an
unknown accept type, 400 for malformed rows or the wrong number of features, 413 for bodies over
SageMaker's 6 MB limit; never a 500 or a trace.

Math threads are pinned to one per worker and there is one worker per core (`--workers`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tarfile
import urllib.parse
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model_code.contract import CSV, JSON, MAX_PAYLOAD_BYTES, METADATA_FILE, MODEL_FILE

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

RUNTIME_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
ENDPOINT_NAME_VARIABLE = "SMPLAT_ENDPOINT_NAME"  # hands --endpoint-name to the uvicorn workers
# How much of an oversized body is still read (and dropped) after the 413, and for how long.
LINGER_BYTES = 64 * 1024 * 1024
LINGER_SECONDS = 10.0


class BadRequest(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class Model:
    booster: Any
    feature_names: list[str]

    @property
    def width(self) -> int:
        return len(self.feature_names)

    def predict(self, rows: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.inplace_predict(rows, validate_features=False))


def extract_model(archive: Path, model_dir: Path) -> Path:
    """Unpack a training job's model.tar.gz into model_dir, as SageMaker does into /opt/ml/model."""
    model_dir.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive) as tar:
        tar.extractall(model_dir, filter="data")
    return model_dir


def load_model(model_dir: Path) -> Model:
    """Load the model SageMaker extracted into model_dir (or a model.tar.gz found there)."""
    import xgboost as xgb

    archive = model_dir / "model.tar.gz"
    if not (model_dir / MODEL_FILE).exists() and archive.exists():
        extract_model(archive, model_dir)
    booster = xgb.Booster()
    booster.load_model(model_dir / MODEL_FILE)
    booster.set_param({"nthread": 1})
    metadata = json.loads((model_dir / METADATA_FILE).read_text())
    return Model(booster, metadata["feature_names"])


def parse_csv(body: bytes, width: int) -> np.ndarray:
    if body.count(b"\n", 0, len(body) - 1) == 0:  # one row, the common case: no per-line work
        values = body.strip().split(b",")
        if len(values) == width and values != [b""]:
            try:
                return np.array(values, dtype=np.float32).reshape(1, width)
            except ValueError:
                pass  # the general path below names the bad value
    lines = [line for line in body.splitlines() if line.strip()]
    if not lines:
        raise BadRequest(400, "empty body: send one CSV row of features per line")
    fields: list[bytes] = []
    for number, line in enumerate(lines, start=1):
        values = line.split(b",")
        if len(values) != width:
            raise BadRequest(400, f"row {number} has {len(values)} values; the model expects {width}")
        fields += values
    try:
        return np.array(fields, dtype=np.float32).reshape(len(lines), width)
    except ValueError:
        bad = next(f for f in fields if not _is_number(f))
        row = fields.index(bad) // width + 1
        raise BadRequest(400, f"row {row}: {bad.decode(errors='replace')[:40]!r} is not a number") from None


def parse_json(body: bytes, width: int) -> np.ndarray:
    try:
        document = json.loads(body)
    except ValueError as err:
        raise BadRequest(400, f"malformed JSON: {err}") from None
    rows = document.get("instances") if isinstance(document, dict) else document
    if isinstance(rows, list) and rows and not isinstance(rows[0], list):
        rows = [rows]  # one flat row
    if not isinstance(rows, list) or not rows:
        raise BadRequest(400, 'expected {"instances": [[...], ...]}, a list of rows, or one row')
    for number, row in enumerate(rows, start=1):
        if not isinstance(row, list) or len(row) != width:
            size = len(row) if isinstance(row, list) else type(row).__name__
            raise BadRequest(400, f"row {number} has {size} values; the model expects {width}")
    try:
        return np.array(rows, dtype=np.float32)
    except (ValueError, TypeError):
        raise BadRequest(400, "every value must be a number") from None


def _is_number(text: bytes) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def render(scores: np.ndarray, accept: str) -> bytes:
    if accept == JSON:
        return json.dumps(
            {"predictions": [{"score": round(float(s), 6), "predicted_label": int(s >= 0.5)} for s in scores]}
        ).encode()
    return "".join(f"{s:.6f}\n" for s in scores.tolist()).encode()


class Batcher:
    """Predicts the rows of every request that is waiting in one model call.

    A prediction costs mostly a fixed overhead per call (about 0.2 ms for one row, 0.3 ms for a
    hundred), so under concurrent load one call per event-loop turn serves everyone who arrived
    meanwhile. Nothing waits on a timer: the call runs as soon as the handlers that were already
    runnable have queued their rows, so a lone request is not delayed."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.pending: list[tuple[np.ndarray, asyncio.Future[np.ndarray]]] = []

    async def predict(self, rows: np.ndarray) -> np.ndarray:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[np.ndarray] = loop.create_future()
        if not self.pending:
            loop.call_soon(self._flush)
        self.pending.append((rows, future))
        return await future

    def _flush(self) -> None:
        batch, self.pending = self.pending, []
        try:
            scores = self.model.predict(np.concatenate([rows for rows, _ in batch]))
        except Exception as err:
            for _, future in batch:
                future.set_exception(err)
            return
        offset = 0
        for rows, future in batch:
            future.set_result(scores[offset : offset + len(rows)])
            offset += len(rows)


class ServingApp:
    """The ASGI application; one per worker process."""

    def __init__(self, model_dir: Path, endpoint_name: str | None = None) -> None:
        self.model_dir = model_dir
        self.endpoint_name = endpoint_name  # None: the runtime path answers for any name
        self.model: Model | None = None
        self.batcher: Batcher | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path, method = scope["path"], scope["method"]
        runtime = None if path in ("/ping", "/invocations") else RUNTIME_PATH.match(path)
        if path == "/ping":
            ready = self.model is not None
            await _respond(send, 200 if ready else 503, b"" if ready else b"model not loaded\n", "text/plain")
        elif path == "/invocations" or runtime:
            if method != "POST":
                await _respond(send, 405, b"use POST\n", "text/plain")
                return
            name = urllib.parse.unquote(runtime.group(1)) if runtime else None
            if name is not None and self.endpoint_name is not None and name != self.endpoint_name:
                # What SageMaker Runtime answers for an endpoint that does not exist (rest-json:
                # botocore reads the code from x-amzn-ErrorType and raises ValidationError).
                message = json.dumps({"message": f"Endpoint {name} of account local not found."}).encode()
                await _respond(send, 400, message, "application/json", [(b"x-amzn-errortype", b"ValidationError")])
                return
            try:
                status, body, content_type = await self._invoke(scope, receive)
            except BadRequest as err:
                # An oversized body is answered at once and then read to its end (see _discard_body).
                drain = receive if err.status == 413 else None
                await _respond(send, err.status, f"{err}\n".encode(), "text/plain", drain=drain)
                return
            await _respond(send, status, body, content_type)
        else:
            await _respond(send, 404, b"not found: use GET /ping or POST /invocations\n", "text/plain")

    async def _invoke(self, scope: Scope, receive: Receive) -> tuple[int, bytes, str]:
        if self.model is None or self.batcher is None:
            raise BadRequest(503, "model not loaded")
        headers = dict(scope["headers"])
        content_type = headers.get(b"content-type", b"").split(b";")[0].strip().decode().lower()
        if content_type not in (CSV, JSON):
            raise BadRequest(415, f"content type {content_type or '(none)'!r} is not supported; use {CSV} or {JSON}")
        accept = headers.get(b"accept", b"").split(b",")[0].split(b";")[0].strip().decode().lower()
        accept = content_type if accept in ("", "*/*") else accept
        if accept not in (CSV, JSON):
            raise BadRequest(406, f"accept type {accept!r} is not supported; use {CSV} or {JSON}")
        body = await _read_body(headers, receive)
        parse = parse_csv if content_type == CSV else parse_json
        rows = parse(body, self.model.width)
        return 200, render(await self.batcher.predict(rows), accept), accept

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    self.model = load_model(self.model_dir)
                    self.batcher = Batcher(self.model)
                except (OSError, ValueError, KeyError) as err:
                    await send({"type": "lifespan.startup.failed", "message": f"cannot load the model: {err}"})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return


async def _read_body(headers: dict[bytes, bytes], receive: Receive) -> bytes:
    declared = headers.get(b"content-length")
    if declared is not None and declared.isdigit() and int(declared) > MAX_PAYLOAD_BYTES:
        raise BadRequest(413, f"body of {int(declared)} bytes exceeds the limit of {MAX_PAYLOAD_BYTES}")
    chunks, size = [], 0
    while True:
        message = await receive()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_PAYLOAD_BYTES:
            raise BadRequest(413, f"body exceeds the limit of {MAX_PAYLOAD_BYTES} bytes")
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    content_type: str,
    extra: list[tuple[bytes, bytes]] | None = None,
    *,
    drain: Receive | None = None,
) -> None:
    """Send a whole response; with `drain`, the rest of the request body is read and dropped
    before the response completes (the client already has every byte of it)."""
    headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
    headers += extra or []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": drain is not None})
    if drain is not None:
        await _discard_body(drain)
        await send({"type": "http.response.body", "body": b""})


async def _discard_body(receive: Receive) -> None:
    """A lingering close, as nginx does it. The server closes the connection once a response
    completes (urllib and many clients send `Connection: close`), and closing a socket with
    request bytes still unread makes the kernel reset the connection: a client that writes its
    whole body before reading the answer then sees the reset, not the 413. So read on and drop
    the rest, up to LINGER_BYTES and LINGER_SECONDS, then let the connection close."""
    dropped = 0
    try:
        async with asyncio.timeout(LINGER_SECONDS):
            while dropped <= LINGER_BYTES:
                message = await receive()  # an `http.disconnect` has no body and ends it too
                dropped += len(message.get("body", b""))
                if not message.get("more_body"):
                    return
    except TimeoutError:
        return


def wait_until_ready(url: str, timeout: float = 30.0) -> bool:
    """Poll `url`/ping until it answers 200 (the model is loaded); False after `timeout` seconds."""
    import time
    import urllib.request

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/ping", timeout=1) as response:
                if response.status == 200:
                    return True
        except OSError:
            time.sleep(0.1)
    return False


@contextmanager
def running_server(model_dir: Path, *, workers: int | None = None, endpoint_name: str | None = None) -> Iterator[str]:
    """Run this server on a free loopback port for the block; yields its URL once /ping is 200.
    With `endpoint_name`, SageMaker Runtime's path answers only for that endpoint name."""
    import socket
    import subprocess

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "model_code.serve", "serve", "--model-dir", str(model_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers or os.cpu_count() or 1)]
    command += ["--endpoint-name", endpoint_name] if endpoint_name is not None else []
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        if not wait_until_ready(url):
            process.kill()
            output = process.stdout.read().decode(errors="replace") if process.stdout else ""
            raise RuntimeError(f"the server did not become ready:\n{output[-2000:]}")
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def model_dir_from_env() -> Path:
    return Path(os.environ.get("SM_MODEL_DIR", "/opt/ml/model"))


def create_app() -> ServingApp:
    """Factory for uvicorn workers (each loads the model in its own lifespan startup)."""
    return ServingApp(model_dir_from_env(), os.environ.get(ENDPOINT_NAME_VARIABLE))


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:  # SageMaker starts the container as `<image> serve`
        args = args[1:]
    parser = argparse.ArgumentParser(prog="serve", description="Serve the model on SageMaker's contract.")
    parser.add_argument("--model-dir", type=Path, default=model_dir_from_env())
    parser.add_argument("--host", default="0.0.0.0")
    parser.add_argument("--port", type=int, default=int(os.environ.get("SAGEMAKER_BIND_TO_PORT", 8080)))
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="default: one per core")
    parser.add_argument(
        "--endpoint-name", default=None, help="answer SageMaker Runtime's path for this endpoint only (default: any)"
    )
    options = parser.parse_args(args)
    if options.endpoint_name is not None:  # read by every worker's create_app
        os.environ[ENDPOINT_NAME_VARIABLE] = options.endpoint_name
    else:
        os.environ.pop(ENDPOINT_NAME_VARIABLE, None)
    # One math thread per worker: with workers = cores, more would only oversubscribe them.
    os.environ.update(OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", SM_MODEL_DIR=str(options.model_dir))
    import uvicorn

    uvicorn.run(
        "model_code.serve:create_app",
        factory=True,
        host=options.host,
        port=options.port,
        workers=options.workers,
        http="httptools",
        loop="uvloop",
        access_log=False,
        log_level="warning",
        lifespan="on",
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
