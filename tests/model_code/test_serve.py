"""The serving container's contract over real HTTP (uvicorn on 127.0.0.1) and through boto3."""

from __future__ import annotations

import asyncio
import http.client
import json
import random
import re
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
import numpy as np
import pytest
import xgboost as xgb

from model_code.contract import MAX_PAYLOAD_BYTES, MODEL_FILE
from model_code.local_training import TrainingResult
from model_code.serve import DataCapture, ServingApp, extract_model, main, running_server

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


# --- Data capture -----------------------------------------------------------------------------

UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
CAPTURE_ENDPOINT, CAPTURE_VARIANT = "smplat-dev-sample", "Blue"


def at(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def captured_lines(root: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(root.rglob("*.jsonl")) for line in path.read_text().splitlines()]


def without_event_id(line: dict[str, Any]) -> dict[str, Any]:
    assert UUID.match(line["eventMetadata"].pop("eventId"))
    return line


def test_a_captured_line_is_sagemakers_format(tmp_path: Path) -> None:
    capture = DataCapture(tmp_path, endpoint="ep", variant="AllTraffic", clock=lambda: at("2026-12-02T10:00:00.250"))
    capture.record(b"text/csv", b"1.5,2\n", "text/csv", b"0.250000\n", b"req-1")
    capture.record(b"application/json", b'{"instances": [[1, 2]]}', "application/json", b'{"predictions": []}')
    capture.record(b"application/x-npy", b"\x93NUMPY", "text/csv", b"0.5\n")
    capture.record(b"text/csv; charset=utf-8", b"\xff,1", "text/csv", b"0.5\n")  # not UTF-8: BASE64
    (written,) = capture.flush()
    assert written.parent == tmp_path / "ep" / "AllTraffic" / "2026" / "12" / "02" / "10"
    lines = [without_event_id(line) for line in captured_lines(tmp_path)]
    assert lines[0] == {
        "captureData": {
            "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": "1.5,2\n", "encoding": "CSV"},
            "endpointOutput": {
                "observedContentType": "text/csv",
                "mode": "OUTPUT",
                "data": "0.250000\n",
                "encoding": "CSV",
            },
        },
        "eventMetadata": {"inferenceId": "req-1", "inferenceTime": "2026-12-02T10:00:00Z"},
        "eventVersion": "0",
    }
    assert lines[1]["captureData"]["endpointInput"] == {
        "observedContentType": "application/json",
        "mode": "INPUT",
        "data": '{"instances": [[1, 2]]}',
        "encoding": "JSON",
    }
    assert lines[1]["captureData"]["endpointOutput"]["encoding"] == "JSON"
    assert lines[1]["eventMetadata"] == {"inferenceTime": "2026-12-02T10:00:00Z"}  # no InferenceId sent
    assert lines[2]["captureData"]["endpointInput"]["encoding"] == "BASE64"
    assert lines[2]["captureData"]["endpointInput"]["data"] == "k05VTVBZ"
    assert lines[3]["captureData"]["endpointInput"] == {
        "observedContentType": "text/csv; charset=utf-8",
        "mode": "INPUT",
        "data": "/ywx",
        "encoding": "BASE64",
    }


def test_lines_go_to_the_utc_hour_of_their_inference(tmp_path: Path) -> None:
    times = iter([at("2026-12-31T23:59:59.500"), at("2027-01-01T00:00:00.200"), at("2027-01-01T00:59:01.000")])
    capture = DataCapture(tmp_path, endpoint="ep", variant="v", clock=lambda: next(times))
    for _ in range(3):
        capture.record(b"text/csv", b"1,2", "text/csv", b"0.5\n")
    written = capture.flush()
    relative = sorted(str(path.relative_to(tmp_path)) for path in written)
    worker = capture.worker
    assert relative == [
        f"ep/v/2026/12/31/23/59-59-500-{worker}-000001.jsonl",
        f"ep/v/2027/01/01/00/00-00-200-{worker}-000002.jsonl",
    ]
    assert [len(path.read_text().splitlines()) for path in sorted(written)] == [1, 2]
    assert [p.name for p in tmp_path.rglob(".*")] == []  # no partial file is left behind


def test_sampling_percentage_by_counting(tmp_path: Path) -> None:
    random.seed(15)
    assert sum(DataCapture(tmp_path, sampling_percentage=0).sampled() for _ in range(10_000)) == 0
    assert sum(DataCapture(tmp_path, sampling_percentage=100).sampled() for _ in range(10_000)) == 10_000
    assert 2_800 <= sum(DataCapture(tmp_path, sampling_percentage=30).sampled() for _ in range(10_000)) <= 3_200
    with pytest.raises(ValueError, match="sampling percentage 101 is outside 0-100"):
        DataCapture(tmp_path, sampling_percentage=101)


@pytest.mark.parametrize("value", ["101", "-1", "half"])
def test_capture_sampling_flag_is_a_percentage(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stopped:
        main(["--capture-sampling", value])
    assert stopped.value.code == 2
    assert (
        f"argument --capture-sampling: {value!r} is not a whole percentage; allowed: 0-100" in capsys.readouterr().err
    )


@pytest.fixture(scope="module")
def capture_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("capture")


@pytest.fixture(scope="module")
def capture_server(model_dir: Path, capture_dir: Path) -> Iterator[str]:
    with running_server(
        model_dir, workers=2, endpoint_name=CAPTURE_ENDPOINT, capture_dir=capture_dir, variant=CAPTURE_VARIANT
    ) as url:
        yield url


def wait_for_lines(root: Path, prefix: str, count: int, timeout: float = 15.0) -> list[dict[str, Any]]:
    """The captured lines whose inferenceId starts with prefix, once there are `count` (workers
    publish what they captured about a second after it)."""
    deadline = time.monotonic() + timeout
    while True:
        lines = [x for x in captured_lines(root) if x["eventMetadata"].get("inferenceId", "").startswith(prefix)]
        if len(lines) >= count or time.monotonic() > deadline:
            return lines
        time.sleep(0.2)


def test_the_server_captures_what_boto3_sends(capture_server: str, capture_dir: Path, rows: list[list[float]]) -> None:
    runtime = boto3.client(
        "sagemaker-runtime",
        endpoint_url=capture_server,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
    )
    body = ",".join(map(str, rows[0]))
    response = runtime.invoke_endpoint(
        EndpointName=CAPTURE_ENDPOINT, ContentType="text/csv", Accept="text/csv", Body=body, InferenceId="boto-1"
    )
    answer = response["Body"].read().decode()
    json_body = json.dumps({"instances": rows[:2]})
    runtime.invoke_endpoint(
        EndpointName=CAPTURE_ENDPOINT, ContentType="application/json", Body=json_body, InferenceId="boto-2"
    )
    with pytest.raises(runtime.exceptions.ClientError):  # a 400 is not captured
        runtime.invoke_endpoint(EndpointName=CAPTURE_ENDPOINT, ContentType="text/csv", Body="1,2", InferenceId="boto-3")
    lines = sorted(wait_for_lines(capture_dir, "boto-", 2), key=lambda x: x["eventMetadata"]["inferenceId"])
    assert [x["eventMetadata"]["inferenceId"] for x in lines] == ["boto-1", "boto-2"]
    first = lines[0]
    assert first["captureData"] == {
        "endpointInput": {"observedContentType": "text/csv", "mode": "INPUT", "data": body, "encoding": "CSV"},
        "endpointOutput": {"observedContentType": "text/csv", "mode": "OUTPUT", "data": answer, "encoding": "CSV"},
    }
    assert first["eventVersion"] == "0" and UUID.match(first["eventMetadata"]["eventId"])
    inferred = datetime.strptime(first["eventMetadata"]["inferenceTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs(time.time() - inferred.timestamp()) < 120
    assert lines[1]["captureData"]["endpointInput"] == {
        "observedContentType": "application/json",
        "mode": "INPUT",
        "data": json_body,
        "encoding": "JSON",
    }
    (path,) = [p for p in capture_dir.rglob("*.jsonl") if "boto-1" in p.read_text()]
    hour = f"{inferred:%Y/%m/%d/%H}"
    assert str(path.parent.relative_to(capture_dir)) == f"{CAPTURE_ENDPOINT}/{CAPTURE_VARIANT}/{hour}"


def test_concurrent_workers_leave_only_whole_lines(
    capture_server: str, capture_dir: Path, rows: list[list[float]]
) -> None:
    body = ",".join(map(str, rows[0])).encode()
    seen_broken: list[str] = []
    stop = threading.Event()

    def read_while_they_write() -> None:
        while not stop.is_set():
            for path in capture_dir.rglob("*.jsonl"):
                text = path.read_bytes()
                if not text.endswith(b"\n") or any(not _is_json(line) for line in text.splitlines()):
                    seen_broken.append(path.name)

    def send(number: int) -> int:
        request = urllib.request.Request(
            capture_server + "/invocations",
            data=body,
            headers={"Content-Type": "text/csv", "X-Amzn-SageMaker-Inference-Id": f"load-{number}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)

    reader = threading.Thread(target=read_while_they_write)
    reader.start()
    try:
        with ThreadPoolExecutor(max_workers=16) as pool:
            assert set(pool.map(send, range(400))) == {200}
        lines = wait_for_lines(capture_dir, "load-", 400)
    finally:
        stop.set()
        reader.join()
    assert seen_broken == []
    assert sorted(x["eventMetadata"]["inferenceId"] for x in lines) == sorted(f"load-{n}" for n in range(400))
    assert len({x["eventMetadata"]["eventId"] for x in lines}) == 400
    workers = {p.name.split("-")[3] for p in capture_dir.rglob("*.jsonl") if "load-" in p.read_text()}
    assert len(workers) == 2  # both workers captured, each into files of its own


def _is_json(line: bytes) -> bool:
    try:
        json.loads(line)
    except ValueError:
        return False
    return True


def test_what_was_captured_is_on_disk_when_the_server_stops(
    model_dir: Path, tmp_path: Path, rows: list[list[float]]
) -> None:
    # Lines wait up to a second in memory; a worker that is stopped publishes them as it shuts down.
    with running_server(model_dir, workers=1, capture_dir=tmp_path, sampling_percentage=100) as url:
        for number in range(3):
            status, _ = post(url, ",".join(map(str, rows[number])).encode(), "text/csv")
            assert status == 200
    lines = captured_lines(tmp_path)
    assert len(lines) == 3
    assert {p.relative_to(tmp_path).parts[:2] for p in tmp_path.rglob("*.jsonl")} == {("local", "AllTraffic")}
