"""Synth benchmark: CLI synth of every stage of this app against CLI synth of an empty CDK app.

Both run in the same session, interleaved, through the same pinned CLI, Node and Python, so the
ratio cancels out the machine. Target: all stages / empty app <= 2.0 (issue 12; it was 1.5 before
the training pipelines). "cold" clears the SageMaker SDK's cache (.cache/sagemaker-sdk) before each
run: the first synth after a change to a pipeline entry, the SDK or the builder imports the SDK.

    python benchmarks/synth.py [--rounds 5]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGET = 2.0  # all stages, four cdk-nag packs, against an empty CDK app on the same CLI
SDK_CACHE = ROOT / ".cache" / "sagemaker-sdk"
EMPTY_APP = """
import aws_cdk as cdk

app = cdk.App()
cdk.Stack(app, "Empty")
app.synth()
"""


def timed_synth(cwd: Path, out: Path, extra: list[str], env: dict[str, str], *, cold: bool = False) -> float:
    if cold:
        shutil.rmtree(SDK_CACHE, ignore_errors=True)
    started = time.perf_counter()
    subprocess.run(
        ["cdk", "synth", "--quiet", "-o", str(out), *extra],
        cwd=cwd,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5, help="interleaved runs of each (default 5)")
    args = parser.parse_args()

    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(ROOT / "node_modules" / ".bin"), str(Path(sys.executable).parent), env["PATH"]])
    env.update(AWS_EC2_METADATA_DISABLED="true", CDK_DISABLE_VERSION_CHECK="true")

    with tempfile.TemporaryDirectory() as tmp:
        empty = Path(tmp) / "empty-app"
        empty.mkdir()
        (empty / "app.py").write_text(EMPTY_APP)
        (empty / "cdk.json").write_text('{"app": "python app.py"}\n')
        cases = {
            "empty CDK app (one empty stack)": (empty, []),
            "this app, all stages (-c stage=all)": (ROOT, ["-c", "stage=all"]),
            "this app, all stages, cold SDK cache": (ROOT, ["-c", "stage=all"]),
            "this app, dev only": (ROOT, ["-c", "stage=dev"]),
        }
        times: dict[str, list[float]] = {name: [] for name in cases}
        for round_ in range(args.rounds + 1):  # round 0 warms caches and is discarded
            for name, (cwd, extra) in cases.items():
                seconds = timed_synth(cwd, Path(tmp) / f"out-{len(times[name])}", extra, env, cold="cold" in name)
                if round_:
                    times[name].append(seconds)

    baseline = statistics.median(times["empty CDK app (one empty stack)"])
    print(f"CLI synth, median of {args.rounds} interleaved runs (Node {_node_version(env)}):")
    print(f"  {'case':<40} {'median s':>9} {'min s':>7} {'ratio':>6}")
    for name, samples in times.items():
        median = statistics.median(samples)
        print(f"  {name:<40} {median:>9.2f} {min(samples):>7.2f} {median / baseline:>6.2f}")
    ratio = statistics.median(times["this app, all stages (-c stage=all)"]) / baseline
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(f"all stages / empty app = {ratio:.2f} ({verdict} the target of {TARGET})")
    return 0


def _node_version(env: dict[str, str]) -> str:
    return subprocess.run(["node", "--version"], env=env, capture_output=True, text=True).stdout.strip()


if __name__ == "__main__":
    sys.exit(main())
