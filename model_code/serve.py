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

Data capture (`--capture-dir`): each sampled successful invocation becomes one JSON line in
SageMaker's data-capture format under `DIR/<endpoint>/<variant>/yyyy/mm/dd/hh/` (UTC hours), as
an endpoint's DataCaptureConfig writes it to S3 (see DataCapture).
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import re
import sys
import tarfile
import time
import urllib.parse
import uuid
from collections.abc import Awaitable, Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _quote
from pathlib import Path
from typing import Any

import numpy as np

from model_code.contract import CSV, JSON, MAX_PAYLOAD_BYTES, METADATA_FILE, MODEL_FILE

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

RUNTIME_PATH = re.compile(r"^/endpoints/([^/]+)/invocations$")
ENDPOINT_NAME_VARIABLE = "SMPLAT_ENDPOINT_NAME"  # hands --endpoint-name to the uvicorn workers
# Hand the capture options to the uvicorn workers (each builds its own DataCapture).
CAPTURE_DIR_VARIABLE = "SMPLAT_CAPTURE_DIR"
CAPTURE_SAMPLING_VARIABLE = "SMPLAT_CAPTURE_SAMPLING"
VARIANT_VARIABLE = "SMPLAT_VARIANT"
DEFAULT_ENDPOINT = "local"  # the capture folder's endpoint name when none is given
DEFAULT_VARIANT = "AllTraffic"  # SageMaker's default production variant name
INFERENCE_ID_HEADER = b"x-amzn-sagemaker-inference-id"  # InvokeEndpoint's InferenceId
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


class DataCapture:
    """Writes sampled invocations as SageMaker's data-capture JSON lines; one per worker process.

    A line, as SageMaker writes it (endpointOutput's `observedContentType` is the response's):
        {"captureData": {"endpointInput": {"observedContentType": "text/csv", "mode": "INPUT",
         "data": "1.0,2.0", "encoding": "CSV"}, "endpointOutput": {...  "mode": "OUTPUT" ...}},
         "eventMetadata": {"eventId": "<uuid>", "inferenceId": "<the request's InferenceId, if any>",
         "inferenceTime": "2026-12-02T10:00:00Z"}, "eventVersion": "0"}
    Encodings follow DataCaptureConfig.CaptureContentTypeHeader's defaults: `text/csv` bodies are
    captured as CSV text, `application/json` as JSON text, anything else (or a body that is not
    UTF-8) as BASE64.

    Readers only ever see whole files: lines wait in memory and are published, at most
    `flush_seconds` after the first of them (or once `max_buffer_bytes` are waiting, or at
    shutdown), by a writer thread, as a new file written under a hidden name and renamed into its
    UTC hour folder, much as SageMaker uploads many small objects per hour. Each file belongs to
    one worker (its name carries the worker's id), so workers never interleave.
    """

    def __init__(
        self,
        root: Path,
        *,
        endpoint: str = DEFAULT_ENDPOINT,
        variant: str = DEFAULT_VARIANT,
        sampling_percentage: int = 100,
        flush_seconds: float = 1.0,
        max_buffer_bytes: int = 1 << 20,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not 0 <= sampling_percentage <= 100:
            raise ValueError(f"sampling percentage {sampling_percentage} is outside 0-100")
        self.folder = root / endpoint / variant
        self.percentage = sampling_percentage
        self.flush_seconds = flush_seconds
        self.max_buffer_bytes = max_buffer_bytes
        self.clock = clock
        self.worker = uuid.uuid4().hex
        self.pending: dict[str, tuple[datetime, list[bytes]]] = {}  # "yyyy/mm/dd/hh" -> (first time, lines)
        self.pending_bytes = 0
        self.files = 0
        self._timer: asyncio.TimerHandle | None = None
        self._writer: ThreadPoolExecutor | None = None
        self._second = -1  # the current second's inferenceTime and hour folder, formatted once
        self._now = datetime.fromtimestamp(0, UTC)
        self._time_field = self._hour = ""

    def sampled(self) -> bool:
        return self.percentage >= 100 or random.random() * 100 < self.percentage

    def record(
        self,
        request_type: bytes,
        request_body: bytes,
        response_type: str,
        response_body: bytes,
        inference_id: bytes | None = None,
    ) -> None:
        # The line is assembled from pieces (each string JSON-escaped by the C encoder): about 3x
        # cheaper than json.dumps of the nested dict, on every captured request.
        moment = self.clock()
        second = int(moment)
        if second != self._second:
            self._second = second
            self._now = datetime.fromtimestamp(second, UTC)
            self._time_field = f',"inferenceTime":"{self._now:%Y-%m-%dT%H:%M:%SZ}"}},"eventVersion":"0"}}\n'
            self._hour = f"{self._now:%Y/%m/%d/%H}"
        inference = f',"inferenceId":{_quote(inference_id.decode(errors="replace"))}' if inference_id else ""
        line = "".join(
            (
                '{"captureData":{"endpointInput":',
                _captured(request_type.decode(errors="replace"), "INPUT", request_body),
                ',"endpointOutput":',
                _captured(response_type, "OUTPUT", response_body),
                '},"eventMetadata":{"eventId":"',
                str(uuid.uuid4()),
                '"',
                inference,
                self._time_field,
            )
        ).encode()
        group = self.pending.get(self._hour)
        if group is None:
            first = datetime.fromtimestamp(moment, UTC)
            group = self.pending[self._hour] = (first, [])
        group[1].append(line)
        self.pending_bytes += len(line)
        if self.pending_bytes >= self.max_buffer_bytes:
            self.publish()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no event loop (a direct caller): it calls flush() itself
            self._timer = loop.call_later(self.flush_seconds, self.publish)

    def publish(self) -> Future[list[Path]]:
        """Hand every waiting line to the writer thread: file I/O never blocks the event loop (a
        busy disk stalled every request behind it when the loop wrote the files itself)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        pending, self.pending, self.pending_bytes = self.pending, {}, 0
        if self._writer is None:
            self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="capture")  # keeps files in order
        return self._writer.submit(self._write, pending)

    def flush(self) -> list[Path]:
        """Publish every waiting line and wait until it is on disk (at shutdown, and in tests);
        the files this call wrote."""
        return self.publish().result()

    def _write(self, pending: dict[str, tuple[datetime, list[bytes]]]) -> list[Path]:
        """One new file per hour folder, written under a hidden name and renamed into place whole."""
        written = []
        for hour, (first, lines) in pending.items():
            folder = self.folder / hour
            folder.mkdir(parents=True, exist_ok=True)
            self.files += 1
            # Named like SageMaker's capture objects (minute-second-millisecond of the first line), then
            # the worker's id and a sequence number: unique per worker and file.
            name = f"{first:%M-%S}-{first.microsecond // 1000:03d}-{self.worker}-{self.files:06d}.jsonl"
            hidden = folder / f".{name}.partial"  # not *.jsonl: readers skip it until the rename
            hidden.write_bytes(b"".join(lines))
            os.replace(hidden, folder / name)
            written.append(folder / name)
        return written


def _captured(content_type: str, mode: str, body: bytes) -> str:
    """One side of captureData as JSON text: observedContentType, mode, data, encoding."""
    media = content_type.split(";")[0].strip().lower()
    encoding = "CSV" if media == CSV else "JSON" if media == JSON else "BASE64"
    data = ""
    if encoding != "BASE64":
        try:
            data = body.decode("utf-8")
        except UnicodeDecodeError:
            encoding = "BASE64"
    if encoding == "BASE64":
        data = base64.b64encode(body).decode()
    return (
        f'{{"observedContentType":{_quote(content_type)},"mode":"{mode}",'
        f'"data":{_quote(data)},"encoding":"{encoding}"}}'
    )


class ServingApp:
    """The ASGI application; one per worker process."""

    def __init__(self, model_dir: Path, endpoint_name: str | None = None, capture: DataCapture | None = None) -> None:
        self.model_dir = model_dir
        self.endpoint_name = endpoint_name  # None: the runtime path answers for any name
        self.capture = capture  # None: no data capture
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
        answer = render(await self.batcher.predict(rows), accept)
        if self.capture is not None and self.capture.sampled():
            capture_type = headers.get(b"content-type", b"")
            self.capture.record(capture_type, body, accept, answer, headers.get(INFERENCE_ID_HEADER))
        return 200, answer, accept

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
                if self.capture is not None:
                    self.capture.flush()
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
def running_server(
    model_dir: Path,
    *,
    workers: int | None = None,
    endpoint_name: str | None = None,
    capture_dir: Path | None = None,
    sampling_percentage: int = 100,
    variant: str = DEFAULT_VARIANT,
) -> Iterator[str]:
    """Run this server on a free loopback port for the block; yields its URL once /ping is 200.
    With `endpoint_name`, SageMaker Runtime's path answers only for that endpoint name. With
    `capture_dir`, invocations are captured under capture_dir/<endpoint_name or local>/<variant>/;
    every captured line is on disk once the block has ended (the workers flush at shutdown)."""
    import socket
    import subprocess

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    command = [sys.executable, "-m", "model_code.serve", "serve", "--model-dir", str(model_dir)]
    command += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers or os.cpu_count() or 1)]
    command += ["--endpoint-name", endpoint_name] if endpoint_name is not None else []
    if capture_dir is not None:
        command += ["--capture-dir", str(capture_dir), "--capture-sampling", str(sampling_percentage)]
        command += ["--variant", variant]
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
    endpoint_name = os.environ.get(ENDPOINT_NAME_VARIABLE)
    capture = None
    if os.environ.get(CAPTURE_DIR_VARIABLE):
        capture = DataCapture(
            Path(os.environ[CAPTURE_DIR_VARIABLE]),
            endpoint=endpoint_name or DEFAULT_ENDPOINT,
            variant=os.environ.get(VARIANT_VARIABLE, DEFAULT_VARIANT),
            sampling_percentage=int(os.environ.get(CAPTURE_SAMPLING_VARIABLE, "100")),
        )
    return ServingApp(model_dir_from_env(), endpoint_name, capture)


def _percentage(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = -1
    if not 0 <= value <= 100:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole percentage; allowed: 0-100")
    return value


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
    parser.add_argument(
        "--capture-dir",
        type=Path,
        default=None,
        help="write data capture under DIR/<endpoint>/<variant>/ (default off)",
    )
    parser.add_argument(
        "--capture-sampling", type=_percentage, default=100, help="percentage of invocations captured (default 100)"
    )
    parser.add_argument(
        "--variant", default=DEFAULT_VARIANT, help=f"variant name in the capture path ({DEFAULT_VARIANT})"
    )
    options = parser.parse_args(args)
    # Read by every worker's create_app.
    _set_or_drop(ENDPOINT_NAME_VARIABLE, options.endpoint_name)
    _set_or_drop(CAPTURE_DIR_VARIABLE, str(options.capture_dir.resolve()) if options.capture_dir else None)
    os.environ.update({CAPTURE_SAMPLING_VARIABLE: str(options.capture_sampling), VARIANT_VARIABLE: options.variant})
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


def _set_or_drop(name: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(name, None)
    else:
        os.environ[name] = value


if __name__ == "__main__":
    sys.exit(main())
