"""Serving benchmark: this project's server against the in-process floor, SageMaker's framework
serving stack (sagemaker-inference on multi-model-server) and the classic Flask + pandas pattern.

Same model (XGBoost, 100 trees, 30 features), same machine, one CSV row per request, two workers
each, concurrency 1 and 16. Load comes from `hey` (a second process on loopback), which records
every request (`-o csv`): throughput, mean, p50 and p99 are computed from those records. Peak RSS
is the sum of the peak RSS of every process of a server (workers, Java, ...).

    python benchmarks/serving.py [--seconds 8]
Targets: at c=16, >= 3x the throughput of multi-model-server and >= 20x that of Flask + pandas;
at c=1, mean latency <= 1.5x the in-process floor.
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from model_code.serve import load_model, parse_csv  # noqa: E402
from model_code.train import Dataset, train  # noqa: E402

FEATURES, TREES, WORKERS = 30, 100, 2


@dataclass
class Run:
    requests: int
    errors: int
    rps: float
    mean_ms: float
    p50_ms: float
    p99_ms: float


def build_model(folder: Path) -> bytes:
    """Train the benchmark model (100 trees, no early stop) and return one CSV request body."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(20_000, FEATURES)).astype(np.float32)
    y = (x @ rng.normal(size=FEATURES) + rng.normal(scale=0.5, size=len(x)) > 0).astype(np.float32)
    names = [f"f{i}" for i in range(FEATURES)]
    hp = {
        "max_depth": 6,
        "eta": 0.1,
        "min_child_weight": 1.0,
        "subsample": 0.9,
        "colsample_bytree": 0.9,
        "lambda": 1.0,
        "num_round": TREES,
        "early_stopping_rounds": TREES,
        "checkpoint_interval": 1000,
    }
    with open(os.devnull, "w") as quiet:
        stdout, sys.stdout = sys.stdout, quiet
        try:
            train(
                hp, Dataset(x[:16_000], y[:16_000], names), Dataset(x[16_000:], y[16_000:], names), None, folder, None
            )
        finally:
            sys.stdout = stdout
    return (",".join(f"{v:.5f}" for v in x[-1]) + "\n").encode()


def in_process_floor(model_dir: Path, body: bytes, *, gap_s: float, calls: int = 3000) -> Run:
    """What a request costs with no server: parse the row and predict, in this process. With
    gap_s > 0 the calls are spaced like requests arriving one after another (caches cool down
    between them, as they do between a server's requests); gap_s = 0 is a hot loop."""
    os.environ["OMP_NUM_THREADS"] = "1"
    model = load_model(model_dir)
    times = []
    for _ in range(calls):
        if gap_s:
            time.sleep(gap_s)
        started = time.perf_counter()
        model.predict(parse_csv(body, FEATURES))
        times.append(time.perf_counter() - started)
    ms = [t * 1000 for t in times]
    return Run(calls, 0, calls / sum(times), statistics.fmean(ms), _pct(ms, 50), _pct(ms, 99))


def hey(url: str, body_file: Path, concurrency: int, seconds: float) -> Run:
    command = [
        "hey",
        "-z",
        f"{seconds}s",
        "-c",
        str(concurrency),
        "-m",
        "POST",
        "-T",
        "text/csv",
        "-D",
        str(body_file),
        "-o",
        "csv",
        url,
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    rows = list(csv.DictReader(io.StringIO(output)))
    ok = [r for r in rows if r["status-code"] == "200"]
    latencies = [float(r["response-time"]) * 1000 for r in ok]
    span = max(float(r["offset"]) + float(r["response-time"]) for r in rows) - min(float(r["offset"]) for r in rows)
    return Run(
        len(rows),
        len(rows) - len(ok),
        len(ok) / span,
        statistics.fmean(latencies),
        _pct(latencies, 50),
        _pct(latencies, 99),
    )


def _pct(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def _free_port() -> int:
    # multi-model-server refuses ports with five digits, so search below 10000 for everyone.
    for port in range(8180, 10000):
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            if port not in _taken:
                _taken.add(port)
                return port
    raise RuntimeError("no free port below 10000")


_taken: set[int] = set()


def _tree_peak_rss_mb(pid: int) -> float:
    import psutil

    try:
        parent = psutil.Process(pid)
        processes = [parent, *parent.children(recursive=True)]
    except psutil.NoSuchProcess:
        return float("nan")
    total = 0
    for process in processes:
        try:
            status = Path(f"/proc/{process.pid}/status").read_text()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM")), 0)
    return total / 1024


@contextmanager
def server(
    command: list[str], env: dict[str, str], ping_url: str, cwd: Path, log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as sink:
        process = subprocess.Popen(
            command, env=env, cwd=cwd, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if urllib.request.urlopen(ping_url, timeout=2).status == 200:
                    break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    tail = log.read_text(errors="replace")[-3000:]
                    raise RuntimeError(f"{command[:3]} did not start; its log ends with:\n{tail}") from None
                time.sleep(0.5)
        yield process
    finally:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=8.0, help="load per run (default 8)")
    args = parser.parse_args()
    if not shutil.which("hey"):
        raise SystemExit("hey is not installed (make bench-serving installs it)")

    work = Path(tempfile.mkdtemp(prefix="bench-serving-"))
    model_dir = work / "opt_ml" / "model"
    body = build_model(model_dir)
    body_file = work / "row.csv"
    body_file.write_bytes(body)
    hot = in_process_floor(model_dir, body, gap_s=0)
    floor = in_process_floor(model_dir, body, gap_s=0.001)

    base_env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS",)}
    base_env["PYTHONPATH"] = str(ROOT)
    python = sys.executable
    stacks: dict[str, tuple[list[str], dict[str, str], str]] = {}
    port = _free_port()
    stacks["this project (uvicorn + lean ASGI)"] = (
        [
            python,
            "-m",
            "model_code.serve",
            "--model-dir",
            str(model_dir),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
        ],
        base_env,
        f"http://127.0.0.1:{port}",
    )
    port = _free_port()
    stacks["sagemaker-inference + multi-model-server"] = (
        [python, "-m", "benchmarks.baselines.mms_handler"],
        {
            **base_env,
            "SAGEMAKER_BASE_DIR": str(work / "opt_ml"),
            "SAGEMAKER_BIND_TO_PORT": str(port),
            "SAGEMAKER_MODEL_SERVER_WORKERS": str(WORKERS),
        },
        f"http://127.0.0.1:{port}",
    )
    port = _free_port()
    stacks["gunicorn + Flask + pandas (classic BYO)"] = (
        [
            python,
            "-m",
            "gunicorn",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{port}",
            "benchmarks.baselines.flask_predictor:app",
        ],
        {**base_env, "MODEL_DIR": str(model_dir)},
        f"http://127.0.0.1:{port}",
    )

    results: dict[str, dict[int, Run]] = {}
    rss: dict[str, float] = {}
    for name, (command, env, url) in stacks.items():
        print(f"measuring {name} ...", file=sys.stderr)
        cwd = work if "multi-model" in name else ROOT  # MMS writes its model archive under the cwd
        with server(command, env, f"{url}/ping", cwd, work / f"server-{len(results)}.log") as process:
            hey(f"{url}/invocations", body_file, 4, 1.0)  # warm-up
            results[name] = {c: hey(f"{url}/invocations", body_file, c, args.seconds) for c in (1, 16)}
            rss[name] = _tree_peak_rss_mb(process.pid)

    print(
        f"\nServing benchmark: XGBoost {TREES} trees x {FEATURES} features, one CSV row per request, "
        f"{WORKERS} workers, {os.cpu_count()} cores, hey for {args.seconds:g} s per run\n"
    )
    print(f"| {'stack':<42} | c=1 rps | c=1 mean ms | c=1 p99 ms | c=16 rps | c=16 p99 ms | errors | peak RSS MB |")
    print(f"|{'-' * 44}|---------|-------------|------------|----------|-------------|--------|-------------|")
    for label, run in (("in-process parse + predict, hot loop", hot), ("in-process, 1 ms gaps (the floor)", floor)):
        print(
            f"| {label:<42} | {run.rps:>7.0f} | {run.mean_ms:>11.3f} | {run.p99_ms:>10.3f} | "
            f"{'-':>8} | {'-':>11} | {'-':>6} | {'-':>11} |"
        )
    for name, runs in results.items():
        one, many = runs[1], runs[16]
        print(
            f"| {name:<42} | {one.rps:>7.0f} | {one.mean_ms:>11.3f} | {one.p99_ms:>10.3f} | {many.rps:>8.0f} | "
            f"{many.p99_ms:>11.2f} | {one.errors + many.errors:>6} | {rss[name]:>11.0f} |"
        )
    ours, mms, flask = (results[n] for n in stacks)
    print("\nRatios (measured side by side in this run):")
    print(f"  c=16 throughput vs multi-model-server:  {ours[16].rps / mms[16].rps:6.1f}x  (target >= 3x)")
    print(f"  c=16 throughput vs Flask + pandas:      {ours[16].rps / flask[16].rps:6.1f}x  (target >= 20x)")
    print(
        f"  c=1 mean latency vs in-process floor:   {ours[1].mean_ms / floor.mean_ms:6.2f}x  "
        "(target <= 1.5x; 1 ms gaps)"
    )
    print(f"  c=1 mean latency vs hot in-process loop: {ours[1].mean_ms / hot.mean_ms:6.2f}x  (for reference)")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
