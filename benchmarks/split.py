"""Split benchmark: model_code.split against pandas + scikit-learn train_test_split on the same
generated CSV, and against a plain sequential read of it (`cat file > /dev/null`, the floor).

All runs read the file from the page cache (it is read once first) and write their channels to
the same disk. Each runs as its own process; peak RSS is that process's ru_maxrss.

    python benchmarks/split.py [--size-gb 2]
Targets: >= 5x the throughput of pandas + train_test_split; peak RSS <= 256 MB whatever the input
size; further goal: half the speed of the sequential read.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

PANDAS_SPLIT = """
import sys
import pandas as pd
from sklearn.model_selection import train_test_split
source, out = sys.argv[1], sys.argv[2]
frame = pd.read_csv(source)
train, rest = train_test_split(frame, train_size=0.7, random_state=42, stratify=frame["label"])
validation, test = train_test_split(rest, train_size=0.5, random_state=42, stratify=rest["label"])
for name, part in (("train", train), ("validation", validation), ("test", test)):
    part.to_csv(f"{out}/{name}.csv", index=False)
"""


@dataclass
class Measured:
    seconds: float
    peak_rss_mb: float


def measure(command: list[str]) -> Measured:
    started = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, cwd=ROOT)
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{command[:4]} failed")
    return Measured(seconds, usage.ru_maxrss / 1024)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size-gb", type=float, default=2.0, help="size of the generated CSV (default 2)")
    parser.add_argument("--keep", type=Path, help="reuse/keep the generated file here")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-split-"))
    source = args.keep or work / "raw.csv"
    rows = int(args.size_gb * 1e9 / 250)  # about 254 bytes a row with 30 features
    if not (source.exists() and source.stat().st_size >= args.size_gb * 1e9):
        print(f"generating {source} ({args.size_gb:g} GB) ...", file=sys.stderr)
        # In a child process: this one stays small, since children start from its peak RSS.
        command = [sys.executable, "-m", "model_code.lifecycle", "data", "--rows", str(rows), "--out", str(source)]
        subprocess.run(command, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
    small = work / "small.csv"
    with source.open("rb") as whole, small.open("wb") as part:  # in chunks: keep this process small
        left = source.stat().st_size // 10
        while left > 0:
            chunk = whole.read(min(left, 1 << 22))
            left -= len(chunk)
            part.write(chunk if left > 0 else chunk[: chunk.rfind(b"\n") + 1])
    size = source.stat().st_size
    subprocess.run(["cat", str(source)], stdout=subprocess.DEVNULL, check=True)  # into the page cache

    python = sys.executable
    ours = [python, "-m", "model_code.lifecycle", "split", "--stratify", "--input"]
    print("measuring ...", file=sys.stderr)
    results = {
        "cat file > /dev/null (sequential read)": measure(["cat", str(source)]),
        "model_code.split, stratified": measure([*ours, str(source), "--out", str(work / "ours")]),
        "model_code.split, stratified, 1/10 of the file": measure([*ours, str(small), "--out", str(work / "small")]),
    }
    (work / "pandas").mkdir()
    results["pandas read_csv + train_test_split + to_csv"] = measure(
        [python, "-c", PANDAS_SPLIT, str(source), str(work / "pandas")]
    )

    lines = size // 254
    print(
        f"\nSplit benchmark: {size / 1e9:.2f} GB CSV (~{lines:,} rows x 31 columns), "
        f"warm page cache, {os.cpu_count()} cores\n"
    )
    print(f"| {'run':<48} | seconds | MB/s   | peak RSS MB |")
    print(f"|{'-' * 50}|---------|--------|-------------|")
    for name, result in results.items():
        read = size / 10 if "1/10" in name else size
        print(
            f"| {name:<48} | {result.seconds:>7.2f} | {read / 1e6 / result.seconds:>6.0f} | "
            f"{result.peak_rss_mb:>11.0f} |"
        )
    cat, full, _, pandas = results.values()
    print("\nRatios (measured side by side in this run):")
    print(f"  throughput vs pandas + train_test_split: {pandas.seconds / full.seconds:6.1f}x  (target >= 5x)")
    print(f"  throughput vs sequential read (cat):     {cat.seconds / full.seconds:6.2f}x  (further goal >= 0.5x)")
    tenth = results["model_code.split, stratified, 1/10 of the file"]
    print(f"  peak RSS: {full.peak_rss_mb:.0f} MB on the whole file, {tenth.peak_rss_mb:.0f} MB on a tenth (<= 256 MB)")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
