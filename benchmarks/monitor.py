"""Monitor benchmark: `model_code/monitor.py check` against the same check written straightforwardly
with pandas (read_json(lines=True), json_normalize, str.split, the same statistics and drift).

Generated data capture in SageMaker's format (JSON lines, CSV bodies, one request of 30 features a
line, every third block of 20,000 requests with one feature shifted by 3 standard deviations), checked against
a baseline of 100,000 rows from the same distribution. Files are read from the page cache (read once
first). Each run is its own process; peak RSS is that process's ru_maxrss.

    python benchmarks/monitor.py [--size-mb 1024] [--pandas-mb 100]
pandas holds the whole capture in memory several times over (about 10x its size), so it runs on the
first --pandas-mb of the capture, and so does ours for the side-by-side ratio; its time on the whole
capture is extrapolated linearly and printed as such.
Targets: peak RSS <= 256 MB for 1 GB of capture; >= 5x faster than pandas.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FEATURES = 30

GENERATE = """
import sys
import numpy as np
path, size = sys.argv[1], int(float(sys.argv[2]) * 1e6)
rng = np.random.default_rng(7)
head = '{"captureData":{"endpointInput":{"observedContentType":"text/csv","mode":"INPUT","data":"'
middle = '","encoding":"CSV"},"endpointOutput":{"observedContentType":"text/csv","mode":"OUTPUT","data":"'
tail = ('","encoding":"CSV"}},"eventMetadata":{"eventId":"%s",'
        '"inferenceTime":"2026-12-02T10:00:00Z"},"eventVersion":"0"}\\n')
written, row, block = 0, 0, 0
with open(path, "w") as out:
    while written < size:
        x = np.round(rng.normal(size=(20000, 30)), 5)
        block += 1
        if block % 3 == 0:
            x[:, 0] += 3.0  # drift: every third block of 20,000 requests has f0 shifted by 3 standard deviations
        scores = rng.random(20000)
        lines = []
        for values, score in zip(x.tolist(), scores.tolist()):
            row += 1
            event = "%08x-0000-4000-8000-%012x" % (row >> 48, row)
            lines.append(head + ",".join(map(repr, values)) + middle + "%.6f" % score + tail % event)
        written += out.write("".join(lines))
"""

# The check as a data scientist would write it with pandas: same inputs, same outputs.
PANDAS_CHECK = """
import json, sys
import numpy as np
import pandas as pd
capture, statistics, out = sys.argv[1], sys.argv[2], sys.argv[3]
baseline = json.load(open(statistics))["features"]
frame = pd.read_json(capture, lines=True)
requests = pd.json_normalize(frame["captureData"].tolist())
rows = requests["endpointInput.data"].str.split("\\n").explode()
values = rows.str.split(",", expand=True).apply(pd.to_numeric, errors="coerce")
features, violations = [], []
for j, feature in enumerate(baseline):
    column = values[j]
    buckets = feature["numerical_statistics"]["distribution"]["kll"]["buckets"]
    edges = np.array([buckets[0]["lower_bound"]] + [b["upper_bound"] for b in buckets])
    counts = np.array([b["count"] for b in buckets], dtype=float)
    present = column.dropna()
    below, above = int((present < edges[0]).sum()), int((present > edges[-1]).sum())
    inside, _ = np.histogram(present[(present >= edges[0]) & (present <= edges[-1])], bins=edges)
    current = np.concatenate(([below], inside, [above]))
    base_cdf = np.concatenate(([0.0], np.cumsum(counts))) / counts.sum()
    drift = float(np.max(np.abs(base_cdf - np.cumsum(current[:-1]) / current.sum())))
    features.append({"name": feature["name"], "num_present": int(present.size), "num_missing": int(column.isna().sum()),
                     "mean": float(present.mean()), "std_dev": float(present.std(ddof=0)), "min": float(present.min()),
                     "max": float(present.max()), "drift": drift})
    if drift > 0.1:
        violations.append({"feature_name": feature["name"], "constraint_check_type": "baseline_drift_check"})
json.dump({"item_count": int(len(values)), "features": features}, open(out + "/statistics.json", "w"))
json.dump({"violations": violations}, open(out + "/constraint_violations.json", "w"))
"""


@dataclass
class Measured:
    seconds: float
    cpu_seconds: float
    peak_rss_mb: float
    stdout: str


def measure(command: list[str]) -> Measured:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, cwd=ROOT, text=True)
    stdout = process.stdout.read() if process.stdout else ""
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[:4]} failed")
    return Measured(seconds, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, stdout)


def first_megabytes(source: Path, target: Path, megabytes: float) -> None:
    """The first whole lines of `source` up to `megabytes`, copied in chunks (this process stays small)."""
    with source.open("rb") as whole, target.open("wb") as part:
        left = int(megabytes * 1e6)
        while left > 0:
            chunk = whole.read(min(left, 1 << 22))
            if not chunk:
                break
            left -= len(chunk)
            part.write(chunk if left > 0 else chunk[: chunk.rfind(b"\n") + 1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-mb", type=float, default=1024, help="size of the generated capture (default 1024)")
    parser.add_argument(
        "--pandas-mb", type=float, default=100, help="slice that pandas (and ours, for the ratio) runs on"
    )
    parser.add_argument("--keep", type=Path, help="reuse/keep the generated capture in this folder")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-monitor-"))
    data = args.keep or work
    capture = data / "capture" / "AllTraffic" / "capture.jsonl"
    capture.parent.mkdir(parents=True, exist_ok=True)
    python = sys.executable
    if not (capture.exists() and capture.stat().st_size >= args.size_mb * 1e6):
        print(f"generating {capture} ({args.size_mb:g} MB) ...", file=sys.stderr)
        subprocess.run([python, "-c", GENERATE, str(capture), str(args.size_mb)], check=True)
    train = data / "train.csv"
    if not train.exists():
        subprocess.run([python, "-m", "model_code.lifecycle", "data", "--rows", "100000", "--out", str(train)],
                       cwd=ROOT, check=True, stdout=subprocess.DEVNULL)  # fmt: skip
    base = work / "baseline"
    subprocess.run([python, "model_code/monitor.py", "baseline", "--input", str(train), "--output", str(base)],
                   cwd=ROOT, check=True)  # fmt: skip
    pandas_mb = min(args.pandas_mb, args.size_mb)
    part = work / "part" / "capture.jsonl"
    part.parent.mkdir()
    first_megabytes(capture, part, pandas_mb)
    size, part_size = capture.stat().st_size, part.stat().st_size
    subprocess.run(["cat", str(capture)], stdout=subprocess.DEVNULL, check=True)  # into the page cache

    def ours(source: Path, out: str) -> list[str]:
        check = [python, "model_code/monitor.py", "check", "--capture", str(source), "--output", str(work / out)]
        return [*check, "--statistics", str(base / "statistics.json"), "--constraints", str(base / "constraints.json")]

    print("measuring ...", file=sys.stderr)
    full = measure(ours(capture, "ours"))
    ours_part = measure(ours(part, "ours-part"))
    (work / "pandas").mkdir()
    pandas = measure([python, "-c", PANDAS_CHECK, str(part), str(base / "statistics.json"), str(work / "pandas")])
    summary = json.loads(full.stdout.splitlines()[-1])
    ours_part_summary = json.loads(ours_part.stdout.splitlines()[-1])
    pandas_report = json.loads((work / "pandas" / "statistics.json").read_text())
    pandas_violations = json.loads((work / "pandas" / "constraint_violations.json").read_text())["violations"]
    # Same rows and the same drift per feature: the two did the same work.
    assert pandas_report["item_count"] == ours_part_summary["records"], "pandas and ours read different rows"
    ours_drift = [json.loads(line)["drift"] for line in ours_part.stdout.splitlines()[:-1]]
    assert max(abs(a - f["drift"]) for a, f in zip(ours_drift, pandas_report["features"], strict=True)) < 1e-5

    print(f"\nMonitor benchmark: {size / 1e6:,.0f} MB of capture ({summary['records']:,} requests x {FEATURES} "
          f"features, CSV bodies), warm page cache, {os.cpu_count()} cores\n")  # fmt: skip
    print(f"| {'run':<52} | MB    | seconds | CPU seconds | MB/s  | peak RSS MB |")
    print(f"|{'-' * 54}|-------|---------|-------------|-------|-------------|")
    for name, result, megabytes in (
        ("model_code/monitor.py check, whole capture", full, size / 1e6),
        ("model_code/monitor.py check, slice", ours_part, part_size / 1e6),
        ("pandas read_json + json_normalize + split, slice", pandas, part_size / 1e6),
    ):
        print(f"| {name:<52} | {megabytes:>5.0f} | {result.seconds:>7.2f} | {result.cpu_seconds:>11.2f} | "
              f"{megabytes / result.seconds:>5.1f} | "
              f"{result.peak_rss_mb:>11.0f} |")  # fmt: skip
    scaled = pandas.seconds * size / part_size
    print("\nRatios (measured side by side in this run):")
    print(f"  speed vs pandas on the same {part_size / 1e6:.0f} MB slice: "
          f"{pandas.seconds / ours_part.seconds:5.1f}x  (target >= 5x); in CPU seconds "
          f"{pandas.cpu_seconds / ours_part.cpu_seconds:.1f}x")  # fmt: skip
    print(f"  pandas on the whole capture, extrapolated linearly from the slice: {scaled:.0f} s "
          f"({scaled / full.seconds:.1f}x ours; not run: its peak RSS on the slice is "
          f"{pandas.peak_rss_mb / (part_size / 1e6):.1f}x the slice's size)")  # fmt: skip
    print(f"  peak RSS: {full.peak_rss_mb:.0f} MB on {size / 1e6:.0f} MB of capture, "
          f"{ours_part.peak_rss_mb:.0f} MB on the slice (target <= 256 MB)")  # fmt: skip
    on_slice = ours_part_summary["violations"]
    print(f"  violations: ours {summary['violations']} (max drift {summary['max_drift']}), "
          f"pandas on the slice {len(pandas_violations)}, ours on the slice {on_slice}")  # fmt: skip
    shutil.rmtree(work, ignore_errors=True)  # the generated capture stays only in --keep
    return 0


if __name__ == "__main__":
    sys.exit(main())
