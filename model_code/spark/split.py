"""PySpark Processing entry point: splits CSV data too large for one instance into the channels.

SageMaker's PySparkProcessor runs it with spark-submit:
    split.py --input s3://bucket/raw/ --output s3://bucket/ [--fractions 0.7,0.15,0.15] [--seed 42]
Reads every CSV file (header row, a `label` column) under --input, splits the rows at random with
the given fractions and seed, and writes each channel as CSV with a header under
<output>/train/, <output>/validation/ and <output>/test/. Values are copied as text, unparsed.
Self-contained: stdlib and pyspark only (model_code/split.py is the single-instance split).
"""

import argparse
import sys
from typing import Any

CHANNELS = ("train", "validation", "test")
LABEL = "label"


def parse_args(argv: Any = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--input", required=True, help="folder (local, s3a:// or s3://) of CSV files")
    parser.add_argument("--output", required=True, help="the channels are written under <output>/<channel>/")
    parser.add_argument("--fractions", default="0.7,0.15,0.15", help="train,validation,test; they sum to 1")
    parser.add_argument("--seed", type=int, default=42)
    args = parser.parse_args(argv)
    try:
        args.fractions = [float(f) for f in args.fractions.split(",")]
    except ValueError:
        parser.error(f"--fractions: {args.fractions!r} is not three numbers separated by commas")
    if len(args.fractions) != len(CHANNELS) or min(args.fractions) < 0 or abs(sum(args.fractions) - 1) > 1e-6:
        parser.error(f"--fractions: {args.fractions} must be {len(CHANNELS)} non-negative numbers summing to 1")
    return args


def main(argv: Any = None) -> int:
    args = parse_args(argv)
    from pyspark.sql import SparkSession
    from pyspark.sql.utils import AnalysisException  # re-exported there by Spark 3 and 4

    spark = SparkSession.builder.appName("split-channels").getOrCreate()
    try:
        try:  # every column stays a string: rows are written back exactly as they were read
            frame = spark.read.csv(args.input, header=True, inferSchema=False, pathGlobFilter="*.csv")
        except AnalysisException as err:
            print(f"split failed: {args.input}: {str(err).splitlines()[0]}", file=sys.stderr)
            return 2
        if LABEL not in frame.columns:
            print(f"split failed: no {LABEL!r} column in the header {frame.columns[:12]}", file=sys.stderr)
            return 2
        parts = frame.randomSplit(args.fractions, seed=args.seed)
        for index, channel in enumerate(CHANNELS):
            target = args.output.rstrip("/") + "/" + channel
            parts[index].write.mode("overwrite").csv(target, header=True)
            print(f"{channel}: written to {target}")
        return 0
    finally:
        spark.stop()


if __name__ == "__main__":
    sys.exit(main())
