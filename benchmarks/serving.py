"""Serving benchmark: this project's server against the in-process floor, SageMaker's framework
serving stack (sagemaker-inference on multi-model-server) and the classic Flask + pandas pattern.

Same model (XGBoost, 100 trees, 30 features), same machine, one CSV row per request, two workers
each, concurrency 1 and 16. Load comes from `hey` (a second process on loopback), which records
every request (`-o csv`): throughput, mean, p50 and p99 are computed from those records. Peak RSS
is the sum of the peak RSS of every process of a server (workers, Java, ...).

    python benchmarks/serving.py [--seconds 8] [--rounds 3] [--only-ours]
Targets: at c=16, >= 3x the throughput of multi-model-server and >= 20x that of Flask + pandas;
at c=1, mean latency <= 1.5x the in-process floor.

This project's server runs twice: as is, and with data capture on (`--capture-dir`, every request
captured), both up at once and loaded in turn (interleaved rounds, the median kept), so that the
cost of capture is measured side by side. `--only-ours` skips the two
baselines (they need requirements-bench.txt and Java).
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
from contextlib import ExitStack, contextmanager
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


def _median_run(runs: list[Run]) -> Run:
    """The run of median throughput (its own latencies kept with it)."""
    return sorted(runs, key=lambda run: run.rps)[len(runs) // 2]


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
    parser.add_argument("--rounds", type=int, default=3, help="interleaved rounds with and without capture (3)")
    parser.add_argument("--only-ours", action="store_true", help="this project with and without capture only")
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

    def ours(port: int, *extra: str) -> list[str]:
        command = [python, "-m", "model_code.serve", "--model-dir", str(model_dir), "--host", "127.0.0.1"]
        return [*command, "--port", str(port), "--workers", str(WORKERS), *extra]

    port = _free_port()
    stacks["this project (uvicorn + lean ASGI)"] = (ours(port), base_env, f"http://127.0.0.1:{port}")
    port = _free_port()
    capture_dir = work / "capture"
    stacks["this project + data capture (100%)"] = (
        ours(port, "--capture-dir", str(capture_dir)),
        base_env,
        f"http://127.0.0.1:{port}",
    )
    if not args.only_ours:
        _add_baselines(stacks, work, model_dir, base_env, python)

    results: dict[str, dict[int, Run]] = {}
    rss: dict[str, float] = {}
    # This project with and without capture: both servers up at once, their runs interleaved
    # (A B A B ...) for `--rounds` rounds and the median run of each kept, so that load from
    # elsewhere on the machine falls on both alike.
    paired = ["this project (uvicorn + lean ASGI)", "this project + data capture (100%)"]
    with ExitStack() as running:
        processes = {}
        for index, name in enumerate(paired):
            command, env, url = stacks[name]
            processes[name] = running.enter_context(
                server(command, env, f"{url}/ping", ROOT, work / f"ours-{index}.log")
            )
            hey(f"{url}/invocations", body_file, 4, 1.0)  # warm-up
        rounds: dict[str, dict[int, list[Run]]] = {name: {1: [], 16: []} for name in paired}
        for number in range(args.rounds):
            print(f"measuring this project with and without capture, round {number + 1} ...", file=sys.stderr)
            for concurrency in (1, 16):
                for name in paired:
                    url = stacks[name][2]
                    rounds[name][concurrency].append(hey(f"{url}/invocations", body_file, concurrency, args.seconds))
        for name in paired:
            results[name] = {c: _median_run(runs) for c, runs in rounds[name].items()}
            rss[name] = _tree_peak_rss_mb(processes[name].pid)
    for name, (command, env, url) in stacks.items():
        if name in paired:
            continue
        print(f"measuring {name} ...", file=sys.stderr)
        cwd = work if "multi-model" in name else ROOT  # MMS writes its model archive under the cwd
        with server(command, env, f"{url}/ping", cwd, work / f"server-{len(results)}.log") as process:
            hey(f"{url}/invocations", body_file, 4, 1.0)  # warm-up
            results[name] = {c: hey(f"{url}/invocations", body_file, c, args.seconds) for c in (1, 16)}
            rss[name] = _tree_peak_rss_mb(process.pid)
    captured = sum(len(f.read_bytes().splitlines()) for f in capture_dir.rglob("*.jsonl"))
    capture_runs = results["this project + data capture (100%)"]
    sent = sum(run.requests - run.errors for runs in rounds[paired[1]].values() for run in runs)

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
    ours_runs, with_capture = results["this project (uvicorn + lean ASGI)"], capture_runs
    print("\nRatios (measured side by side in this run):")
    print(
        f"  data capture on vs off, c=16 throughput: {with_capture[16].rps / ours_runs[16].rps:6.2f}x, "
        f"c=1 mean latency: {with_capture[1].mean_ms / ours_runs[1].mean_ms:6.2f}x "
        f"({captured} lines captured for {sent} requests, warm-up included)"
    )
    print(
        f"  c=1 mean latency vs in-process floor:   {ours_runs[1].mean_ms / floor.mean_ms:6.2f}x  "
        "(target <= 1.5x; 1 ms gaps)"
    )
    print(f"  c=1 mean latency vs hot in-process loop: {ours_runs[1].mean_ms / hot.mean_ms:6.2f}x  (for reference)")
    if not args.only_ours:
        mms = results["sagemaker-inference + multi-model-server"]
        flask = results["gunicorn + Flask + pandas (classic BYO)"]
        print(f"  c=16 throughput vs multi-model-server:  {ours_runs[16].rps / mms[16].rps:6.1f}x  (target >= 3x)")
        print(f"  c=16 throughput vs Flask + pandas:      {ours_runs[16].rps / flask[16].rps:6.1f}x  (target >= 20x)")
    shutil.rmtree(work, ignore_errors=True)
    return 0


def _add_baselines(
    stacks: dict[str, tuple[list[str], dict[str, str], str]],
    work: Path,
    model_dir: Path,
    base_env: dict[str, str],
    python: str,
) -> None:
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


if __name__ == "__main__":
    sys.exit(main())
