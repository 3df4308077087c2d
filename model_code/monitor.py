"""The platform's own data-quality monitor, in Model Monitor's file formats (Model Monitor is closed
to new customers; baselines and reports stay interchangeable with it both ways).

    PYTHONPATH=. python3 model_code/monitor.py baseline --input train/ --output baseline/
    PYTHONPATH=. python3 model_code/monitor.py check --capture capture/ --statistics baseline/statistics.json \
        --constraints baseline/constraints.json --output report/ [--endpoint NAME] \
        [--ground-truth gt/ --problem-type BinaryClassification [--model-quality-constraints FILE]]
(or `python -m model_code.lifecycle monitor baseline|check ...`, same flags).

`baseline` reads a CSV channel (a file or a folder of *.csv, header row, the label column left out)
twice in bounded memory: types, counts, sums and ranges first, then 10 equal-width buckets between
each feature's min and max (Model Monitor materializes 10). `check` streams data-capture JSON lines
(SageMaker's capture format, CSV / JSON / BASE64 bodies) in chunks of rows parsed by numpy, with
the baseline's bucket edges fixed, so memory stays flat whatever the capture size.

Drift of a numeric feature is the largest gap between the baseline's and the traffic's CDFs on the
baseline's bucket edges (the L-infinity distance that Model Monitor's comparison_method describes).
"Simple" flags it above comparison_threshold; "Robust" (what baselines get here, as Model Monitor's
do) also requires it to exceed the two-sample Kolmogorov-Smirnov critical distance at 5 % for the
two sample sizes, so that a small window of normal traffic is not flagged by chance. String
features use the L-infinity gap between value frequencies the same way (a baseline asking for
ChiSquared gets LInfinity too). Checks: data_type_check (share of values of another type above
datatype_check_threshold; a fraction in an Integral feature counts), completeness_check (below the
baseline's completeness), baseline_drift_check, missing_column_check / extra_column_check (rows
narrower / wider than the baseline; more than half such rows is bad input), categorical_values_check
(share outside string_constraints.domains above domain_content_threshold). Read and ignored:
emit_metrics, is_non_negative, monitoringConfigOverrides, the KLL sketches.

With ground truth, the labels (one per labelled event) are held in memory and joined with each
captured request's eventMetadata.inferenceId or eventId (model_code/monitor_quality.py).
The metric lines go to stdout and to the report's metrics.jsonl, which the platform's runbook publishes
to CloudWatch; everything else goes to stderr. Exit 0 with or
without violations, 2 on bad input. Python 3.8+, standard library and numpy only (the scikit-learn
processing image).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # run as a script (python3 model_code/monitor.py): the root on the path
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from model_code.contract import LABEL_COLUMN

# Model Monitor's problem types for model quality (the argument parser stays free of numpy).
PROBLEM_TYPES = ("BinaryClassification", "MulticlassClassification", "Regression")


def add_commands(commands: Any) -> None:
    """The `baseline` and `check` subcommands, on this module's parser and on the lifecycle's."""
    base = commands.add_parser("baseline", help="statistics.json + constraints.json of a CSV channel")
    base.add_argument("--input", type=Path, required=True, help="CSV file or folder of *.csv (header row)")
    base.add_argument("--output", type=Path, required=True, help="folder for statistics.json, constraints.json")
    base.add_argument("--label", default=LABEL_COLUMN, help=f"column left out of the features (default {LABEL_COLUMN})")
    base.set_defaults(monitor_run=_run_baseline)

    run = commands.add_parser("check", help="check captured traffic against a baseline")
    run.add_argument("--capture", type=Path, required=True, help="a capture *.jsonl file or a folder of them")
    run.add_argument("--statistics", type=Path, required=True, help="the baseline's statistics.json")
    run.add_argument("--constraints", type=Path, required=True, help="the baseline's constraints.json")
    run.add_argument("--output", type=Path, required=True, help="folder for the report")
    run.add_argument("--endpoint", default="local", help="endpoint name in the metric lines (default local)")
    run.add_argument("--ground-truth", type=Path, default=None, help="ground-truth *.jsonl file or folder")
    run.add_argument("--problem-type", default=None, help=" | ".join(PROBLEM_TYPES) + " (with --ground-truth)")
    run.add_argument("--model-quality-constraints", type=Path, default=None, help="model-quality constraints.json")
    run.set_defaults(monitor_run=_run_check)


def _run_baseline(args: argparse.Namespace) -> None:
    from model_code.monitor_baseline import baseline

    baseline(args.input, args.output, args.label)


def _run_check(args: argparse.Namespace) -> None:
    from model_code.monitor_check import check

    check(
        args.capture,
        args.statistics,
        args.constraints,
        args.output,
        endpoint=args.endpoint,
        ground_truth=args.ground_truth,
        problem_type=args.problem_type,
        quality_constraints=args.model_quality_constraints,
    )


def run(args: argparse.Namespace) -> int:
    """Run a parsed `baseline` or `check`: 0 when done (violations or not), 2 on bad input."""
    from model_code.monitor_formats import MonitorError

    try:
        args.monitor_run(args)
    except MonitorError as err:
        print(f"monitor {args.monitor_command}: {err}", file=sys.stderr)
        return 2
    except OSError as err:
        print(f"monitor {args.monitor_command}: {err.filename or ''}: {err.strerror or err}", file=sys.stderr)
        return 2
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="model_code/monitor.py", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    add_commands(parser.add_subparsers(dest="monitor_command", required=True))
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
