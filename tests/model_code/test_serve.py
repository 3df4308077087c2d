"""The serving container's contract over real HTTP (uvicorn on 127.0.0.1) and through boto3."""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import xgboost as xgb

from model_code.contract import MAX_PAYLOAD_BYTES, MODEL_FILE
from model_code.local_training import TrainingResult
from model_code.serve import ServingApp, extract_model, running_server

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model_dir(trained: TrainingResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract_model(Path(str(trained.model_artifact)), tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def server(model_dir: Path) -> Iterator[str]:
    with running_server(model_dir, workers=2) as url:
        yield url


@pytest.fixture(scope="module")
def rows(channels: Path) -> list[list[float]]:
    lines = (channels / "test" / "part-00000.csv").read_text().splitlines()[1:6]
    return [[float(v) for v in line.split(",")[1:]] for line in lines]


def post(
    url: str, body: bytes, content_type: str, accept: str | None = None, path: str = "/invocations"
) -> tuple[int, str]:
    headers = {"Content-Type": content_type, **({"Accept": accept} if accept else {})}
    request = urllib.request.Request(url + path, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def expected_scores(model_dir: Path, rows: list[list[float]]) -> np.ndarray:
    booster = xgb.Booster()
    booster.load_model(model_dir / MODEL_FILE)
    return booster.inplace_predict(np.array(rows, dtype=np.float32))


def test_ping_fails_until_the_model_is_loaded(model_dir: Path) -> None:
    app = ServingApp(model_dir)
    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    async def no_body() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def startup_then_shutdown(queue: list[str] = ["lifespan.startup", "lifespan.shutdown"]) -> dict[str, Any]:  # noqa: B006
        return {"type": queue.pop(0)}

    ping = {"type": "http", "path": "/ping", "method": "GET", "headers": []}
    asyncio.run(app(ping, no_body, send))
    assert sent[0]["status"] == 503
    asyncio.run(app({"type": "lifespan"}, startup_then_shutdown, send))
    sent.clear()
    asyncio.run(app(ping, no_body, send))
    assert sent[0]["status"] == 200


def test_csv_one_row_and_many_rows(server: str, model_dir: Path, rows: list[list[float]]) -> None:
    expected = expected_scores(model_dir, rows)
    status, body = post(server, ",".join(map(str, rows[0])).encode(), "text/csv")
    assert status == 200 and float(body) == pytest.approx(expected[0], abs=1e-6)
    status, body = post(server, "\n".join(",".join(map(str, r)) for r in rows).encode(), "text/csv; charset=utf-8")
    assert status == 200 and [float(v) for v in body.split()] == pytest.approx(expected.tolist(), abs=1e-6)


def test_json_in_json_out(server: str, model_dir: Path, rows: list[list[float]]) -> None:
    status, body = post(server, json.dumps({"instances": rows}).encode(), "application/json")
    assert status == 200
    predictions = json.loads(body)["predictions"]
    assert [p["score"] for p in predictions] == pytest.approx(expected_scores(model_dir, rows).tolist(), abs=1e-6)
    assert all(p["predicted_label"] == int(p["score"] >= 0.5) for p in predictions)
    status, body = post(server, json.dumps(rows[0]).encode(), "application/json", accept="text/csv")
    assert status == 200 and len(body.split()) == 1


def test_unmodified_boto3_runtime_client_invokes_it(server: str, model_dir: Path, rows: list[list[float]]) -> None:
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=server,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    response = runtime.invoke_endpoint(
        EndpointName="smplat-dev",
        ContentType="text/csv",
        Accept="application/json",
        Body="\n".join(",".join(map(str, r)) for r in rows[:2]).encode(),
    )
    assert response["ContentType"] == "application/json"
    scores = [p["score"] for p in json.loads(response["Body"].read())["predictions"]]
    assert scores == pytest.approx(expected_scores(model_dir, rows[:2]).tolist(), abs=1e-6)


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status", "message"),
    [
        (
            b"1,2",
            "text/plain",
            None,
            415,
            "content type 'text/plain' is not supported; use text/csv or application/json",
        ),
        (b"1,2", "text/csv", "application/xml", 406, "accept type 'application/xml' is not supported"),
        (b"1,2,3", "text/csv", None, 400, "row 1 has 3 values; the model expects 30"),
        (b"", "text/csv", None, 400, "empty body"),
        (b"{not json", "application/json", None, 400, "malformed JSON"),
        (b'{"instances": [[1, 2]]}', "application/json", None, 400, "row 1 has 2 values; the model expects 30"),
        (b'{"rows": 1}', "application/json", None, 400, 'expected {"instances"'),
    ],
)
def test_bad_requests_get_a_4xx_and_the_server_keeps_serving(
    server: str, body: bytes, content_type: str, accept: str | None, status: int, message: str
) -> None:
    got, text = post(server, body, content_type, accept)
    assert (got, message in text) == (status, True), text
    assert urllib.request.urlopen(f"{server}/ping", timeout=5).status == 200


def test_non_numeric_value_names_the_row(server: str, rows: list[list[float]]) -> None:
    good = ",".join(map(str, rows[0]))
    got, text = post(server, f"{good}\n{good.replace(',', ',abc,', 1).rsplit(',', 1)[0]}".encode(), "text/csv")
    assert got == 400 and "row 2: 'abc' is not a number" in text


def test_oversized_body_gets_413_before_it_is_read(server: str) -> None:
    host, port = server.removeprefix("http://").split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10)
    connection.putrequest("POST", "/invocations")
    connection.putheader("Content-Type", "text/csv")
    connection.putheader("Content-Length", str(MAX_PAYLOAD_BYTES + 1))
    connection.endheaders(b"1,2,3\n")
    response = connection.getresponse()
    assert response.status == 413 and b"exceeds the limit of 6291456" in response.read()
    connection.close()


def test_a_client_that_sends_the_whole_oversized_body_first_reads_the_413(server: str) -> None:
    # urllib writes the whole body before it reads the answer: the server must read and discard
    # the rest of the body (a lingering close) rather than close on it, which resets the connection.
    for size in (MAX_PAYLOAD_BYTES + 1, 3 * MAX_PAYLOAD_BYTES):
        got, text = post(server, b"1" * size, "text/csv")
        assert (got, text) == (413, f"body of {size} bytes exceeds the limit of 6291456\n")
    assert urllib.request.urlopen(f"{server}/ping", timeout=5).status == 200


def test_unknown_path_and_method(server: str) -> None:
    assert post(server, b"", "text/csv", path="/predict")[0] == 404
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(f"{server}/invocations", timeout=5)
    assert caught.value.code == 405


def test_concurrent_requests_each_get_their_own_scores(server: str, model_dir: Path, channels: Path) -> None:
    # Under load the server predicts many requests' rows in one call; each must get its own back.
    lines = (channels / "test" / "part-00000.csv").read_text().splitlines()[1:41]
    rows = [[float(v) for v in line.split(",")[1:]] for line in lines]
    expected = expected_scores(model_dir, rows)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda r: post(server, ",".join(map(str, r)).encode(), "text/csv"), rows))
    assert [status for status, _ in answers] == [200] * len(rows)
    assert [float(body) for _, body in answers] == pytest.approx(expected.tolist(), abs=1e-6)
