"""The local lifecycle, one command with subcommands: data, split, train, tune, serve, invoke, transform.

python -m model_code.lifecycle data --out work/raw.csv            # sample (or --rows N synthetic)
python -m model_code.lifecycle split --input work/raw.csv --out work/channels --stratify
python -m model_code.lifecycle train --data work/channels --job work/train
python -m model_code.lifecycle tune --data work/channels --work work/tune --trials 8
python -m model_code.lifecycle serve --model work/train/output/model.tar.gz --port 8080 [--capture-dir work/capture]
python -m model_code.lifecycle invoke --endpoint-url http://127.0.0.1:8080 --csv work/channels/test
python -m model_code.lifecycle transform --model work/train/output/model.tar.gz --input work/score \
    --output work/scored --split-type Line --batch-strategy MultiRecord --input-filter '$[1:]' \
    --join-source Input --output-filter '$[0,-1]' --assemble-with Line

Ground Truth labeling with the stage's published role, key and work teams (--project, --stage):
python -m model_code.lifecycle label manifest --task image-classification --source s3://BUCKET/raw/images/ --name cats
python -m model_code.lifecycle label start --task image-classification --manifest s3://... --labels cat,dog \
    --team reviewers --job-name cats-1 --wait
python -m model_code.lifecycle label status --job-name cats-1 --wait
python -m model_code.lifecycle label convert --task image-classification --job-name cats-1 --out work/raw.csv

Drift monitoring in Model Monitor's formats (model_code/monitor.py, same flags):
python -m model_code.lifecycle monitor baseline --input work/channels/train --output work/baseline
python -m model_code.lifecycle monitor check --capture work/capture --statistics work/baseline/statistics.json \
    --constraints work/baseline/constraints.json --output work/report [--endpoint local] \
    [--ground-truth work/ground-truth --problem-type BinaryClassification]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

from model_code.contract import CHANNELS, CSV, JSON, LABEL_COLUMN, OBJECTIVE


def _progress(total: int, description: str):  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    return tqdm(total=total, desc=description, unit="B", unit_scale=True, leave=False, disable=None)


def cmd_data(args: argparse.Namespace) -> int:
    from model_code.data import write_sample_dataset, write_synthetic_dataset

    if args.rows:
        with _progress(0, "generating") as bar:
            size = write_synthetic_dataset(
                args.out, rows=args.rows, features=args.features, seed=args.seed, progress=bar.update
            )
        print(f"wrote {args.rows} synthetic rows ({size / 1e6:.1f} MB) to {args.out}")
    else:
        rows = write_sample_dataset(args.out)
        print(f"wrote the breast cancer sample ({rows} rows, 30 features) to {args.out}")
    return 0


def cmd_split(args: argparse.Namespace) -> int:
    from model_code.split import SplitError, SplitSpec, split_file

    try:
        fractions = tuple(float(f) for f in args.fractions.split(","))
        spec = SplitSpec(fractions, args.seed, args.stratify, args.label)
        size = args.input.stat().st_size if args.input.exists() else 0
        with _progress(size, "splitting") as bar:
            report = split_file(args.input, args.out, spec, progress=bar.update)
    except (SplitError, ValueError) as err:
        print(f"split failed: {err}", file=sys.stderr)
        return 2
    for channel in CHANNELS:
        labels = f"  labels {report.labels[channel]}" if report.labels[channel] else ""
        print(f"{channel:<11} {report.rows[channel]:>10} rows -> {args.out / channel}{labels}")
    return 0


def cmd_train(args: argparse.Namespace) -> int:
    from model_code.local_training import run_training_job

    hyperparameters = dict(_key_value(item) for item in args.hp)
    result = run_training_job(args.job, args.data, hyperparameters, on_line=_echo if args.verbose else None)
    if result.exit_code != 0:
        print(f"training failed:\n{(result.failure or result.log[-2000:]).strip()}", file=sys.stderr)
        return 2
    print(json.dumps(result.final_metrics, indent=2))
    print(f"model: {result.model_artifact}")
    return 0


def cmd_tune(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from model_code.tuning import plot, table, tune

    static = dict(_key_value(item) for item in args.hp)
    with tqdm(total=args.trials, desc="trials", leave=False, disable=None) as bar:
        trials = tune(
            args.data,
            args.work,
            trials=args.trials,
            parallel=args.parallel,
            seed=args.seed,
            static=static,
            on_trial_done=lambda _: bar.update(1),
        )
    print(table(trials))
    plot(trials, args.work / "trials.png")
    best = trials[0]
    if best.objective is None:
        print("no trial completed", file=sys.stderr)
        return 2
    print(f"best: trial {best.number}, {OBJECTIVE.name}={best.objective:.6f}; plot: {args.work / 'trials.png'}")
    (args.work / "best.json").write_text(json.dumps(best.hyperparameters, indent=2))
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from model_code import serve

    model_dir = args.model
    if model_dir.is_file():  # a model.tar.gz
        model_dir = serve.extract_model(args.model, Path(tempfile.mkdtemp(prefix="model-")))
    command = ["--model-dir", str(model_dir), "--host", args.host, "--port", str(args.port)]
    command += ["--workers", str(args.workers)]
    if args.endpoint_name is not None:
        command += ["--endpoint-name", args.endpoint_name]
    if args.capture_dir is not None:
        command += ["--capture-dir", str(args.capture_dir), "--capture-sampling", str(args.capture_sampling)]
        command += ["--variant", args.variant]
    return serve.main(command)


def cmd_transform(args: argparse.Namespace) -> int:
    from model_code import serve
    from model_code.transform import ObjectResult, TransformError, TransformSpec, run_transform

    spec = TransformSpec(
        content_type=args.content_type,
        accept=args.accept,
        split_type=args.split_type,
        batch_strategy=args.batch_strategy,
        max_payload_mb=args.max_payload_mb,
        assemble_with=args.assemble_with,
        input_filter=args.input_filter,
        join_source=args.join_source,
        output_filter=args.output_filter,
    )

    def done(result: ObjectResult) -> None:
        print(f"{result.name} -> {result.output} ({result.records} records, {result.requests} requests)")

    try:
        spec.check()  # the options first, before a model is unpacked or a server started
        model_dir = args.model
        if not model_dir.exists():
            raise TransformError(f"--model {model_dir}: no such file or folder")
        if model_dir.is_file():  # a model.tar.gz
            model_dir = serve.extract_model(args.model, Path(tempfile.mkdtemp(prefix="model-")))
        run_transform(
            model_dir,
            args.input,
            args.output,
            spec,
            endpoint_url=args.endpoint_url,
            kms_key_id=args.kms_key_id,
            on_object=done,
        )
    except TransformError as err:
        print(f"transform failed: {err}", file=sys.stderr)
        return 2
    return 0


def cmd_invoke(args: argparse.Namespace) -> int:
    rows, _ = labelled_rows(args.csv, args.limit)
    runtime = runtime_client(args.endpoint_url)
    body = (
        "\n".join(rows)
        if args.content_type == CSV
        else json.dumps({"instances": [[float(v) for v in r.split(",")] for r in rows]})
    )
    response = runtime.invoke_endpoint(
        EndpointName=args.endpoint_name, ContentType=args.content_type, Accept=args.accept, Body=body.encode()
    )
    print(response["Body"].read().decode().strip())
    return 0


def cmd_label(args: argparse.Namespace) -> int:
    from model_code.labeling import LabelingError

    try:
        return int(args.label_run(args))
    except LabelingError as err:
        print(f"label {args.label_command} failed: {err}", file=sys.stderr)
        return 2


def _aws(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    import boto3

    from model_code.labeling import StageParameters

    session = boto3.session.Session(region_name=args.region)
    region = session.region_name
    if not region:
        from model_code.labeling import LabelingError

        raise LabelingError("no AWS region: pass --region or set AWS_REGION")
    params = StageParameters(session.client("ssm"), args.project, args.stage)
    # The labeling role trusts only labeling jobs named `<project>-<stage>-*`: job names get that prefix.
    prefix = f"{params.names.prefix}-"
    if getattr(args, "job_name", "") and not args.job_name.startswith(prefix):
        args.job_name = prefix + args.job_name
    return session, region, params


def cmd_label_manifest(args: argparse.Namespace) -> int:
    from model_code.labeling import build_manifest, task_type

    session, _, params = _aws(args)
    uri = build_manifest(
        session.client("s3"), params, source_uri=args.source, task=task_type(args.task), name=args.name
    )
    print(uri)
    return 0


def cmd_label_start(args: argparse.Namespace) -> int:
    from model_code.labeling import JobSpec, start_labeling_job, task_type

    session, region, params = _aws(args)
    task = task_type(args.task)
    spec = JobSpec(
        name=args.job_name,
        task=task,
        manifest_uri=args.manifest,
        labels=tuple(label.strip() for label in args.labels.split(",")),
        team=args.team,
        title=args.title or f"{task.name}: {args.job_name}",
        description=args.description or f"Label each object ({', '.join(args.labels.split(','))})",
        keywords=tuple(args.keywords.split(",")),
        workers_per_object=args.workers_per_object,
        task_time_limit=args.time_limit,
        task_lifetime=args.lifetime,
        max_labeled_objects=args.max_objects,
    )
    sagemaker = session.client("sagemaker")
    print(start_labeling_job(sagemaker, session.client("s3"), params, spec, region=region))
    return _follow(sagemaker, args) if args.wait else 0


def cmd_label_status(args: argparse.Namespace) -> int:
    from model_code.labeling import job_progress

    session, _, _ = _aws(args)
    sagemaker = session.client("sagemaker")
    if args.wait:
        return _follow(sagemaker, args)
    p = job_progress(sagemaker, args.job_name)
    print(f"{args.job_name}: {p.status}, {p.labeled} labeled, {p.failed} failed, {p.unlabeled} not labeled yet")
    return 0


def _follow(sagemaker, args: argparse.Namespace) -> int:  # type: ignore[no-untyped-def]
    from tqdm import tqdm

    from model_code.labeling import Progress, wait_for_job

    with tqdm(desc=args.job_name, unit="object", disable=None) as bar:

        def show(p: Progress) -> None:
            bar.total = p.total
            bar.n = p.labeled + p.failed
            bar.set_postfix_str(f"{p.status}, {p.failed} failed")
            bar.refresh()

        final = wait_for_job(sagemaker, args.job_name, poll_seconds=args.poll, on_progress=show)
    print(f"{args.job_name}: {final.status}, {final.labeled} labeled, {final.failed} failed")
    return 0 if final.status == "Completed" else 2


def cmd_label_convert(args: argparse.Namespace) -> int:
    from model_code.labeling import (
        LabelingError,
        convert_output_manifest,
        dataset_csv,
        finished_job_output,
        read_text,
        task_type,
        unlabeled_csv,
        write_text,
    )

    task = task_type(args.task)
    if bool(args.job_name) == bool(args.manifest):
        raise LabelingError("give either --job-name (a finished job) or --manifest (its output manifest)")
    s3 = sagemaker = None
    if args.job_name or args.manifest.startswith("s3://") or args.out.startswith("s3://"):
        session, _, _ = _aws(args)
        s3, sagemaker = session.client("s3"), session.client("sagemaker")
    manifest, attribute = args.manifest, args.attribute
    if args.job_name:
        manifest, job_attribute = finished_job_output(sagemaker, args.job_name)
        attribute = attribute or job_attribute
    conversion = convert_output_manifest(read_text(s3, manifest).splitlines(), task, attribute)
    written = write_text(s3, args.out, dataset_csv(conversion))
    print(f"{conversion.summary()} -> {written}")
    if conversion.unlabeled or conversion.failed:
        aside = write_text(s3, _beside(args.out, ".unlabeled.csv"), unlabeled_csv(conversion))
        print(f"objects without a label (not in the dataset): {aside}", file=sys.stderr)
    return 0


def _beside(location: str, suffix: str) -> str:
    stem = location[: -len(".csv")] if location.endswith(".csv") else location
    return stem + suffix


def runtime_client(endpoint_url: str):  # type: ignore[no-untyped-def]
    """An unmodified boto3 sagemaker-runtime client aimed at a local server (credentials unused)."""
    import boto3

    return boto3.client(
        "sagemaker-runtime",
        endpoint_url=endpoint_url,
        region_name="us-east-1",
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )


def labelled_rows(path: Path, limit: int) -> tuple[list[str], list[str]]:
    """Up to `limit` rows of a channel file (or the first file of a channel folder): the feature
    columns as a request row, and the label of each."""
    source = path if path.is_file() else sorted(path.glob("*.csv"))[0]
    with source.open() as handle:
        header = handle.readline().rstrip("\n").split(",")
        label = header.index(LABEL_COLUMN)
        rows, labels = [], []
        for line in handle:
            values = line.rstrip("\n").split(",")
            rows.append(",".join(values[:label] + values[label + 1 :]))
            labels.append(values[label])
            if len(rows) == limit:
                break
    return rows, labels


def _key_value(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep:
        raise argparse.ArgumentTypeError(f"--hp {item!r}: expected NAME=VALUE")
    return key, value


def _echo(line: str) -> bool:
    print(line, flush=True)
    return False


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(
        prog="python -m model_code.lifecycle", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    commands = root.add_subparsers(dest="command", required=True)

    data = commands.add_parser("data", help="write the sample dataset, or a synthetic one of any size")
    data.add_argument("--out", type=Path, required=True, help="CSV file to write")
    data.add_argument("--rows", type=int, default=0, help="synthetic rows (default: the breast cancer sample)")
    data.add_argument("--features", type=int, default=30)
    data.add_argument("--seed", type=int, default=0)
    data.set_defaults(run=cmd_data)

    split = commands.add_parser("split", help="split a raw CSV or Parquet file into train/validation/test")
    split.add_argument("--input", type=Path, required=True)
    split.add_argument("--out", type=Path, required=True, help="folder that gets train/, validation/, test/")
    split.add_argument("--fractions", default="0.7,0.15,0.15", help="train,validation,test (default 0.7,0.15,0.15)")
    split.add_argument("--seed", type=int, default=42)
    split.add_argument("--stratify", action="store_true", help="keep the label distribution in every channel")
    split.add_argument("--label", default=LABEL_COLUMN)
    split.set_defaults(run=cmd_split)

    train = commands.add_parser("train", help="run the training entry point through the SageMaker training toolkit")
    train.add_argument("--data", type=Path, required=True, help="folder with the train/ validation/ [test/] channels")
    train.add_argument("--job", type=Path, required=True, help="job folder (gets opt_ml/ and output/model.tar.gz)")
    train.add_argument("--hp", action="append", default=[], metavar="NAME=VALUE", help="hyperparameter (repeatable)")
    train.add_argument("--verbose", action="store_true", help="print the job's output as it runs")
    train.set_defaults(run=cmd_train)

    tune = commands.add_parser("tune", help="search the shared hyperparameter ranges with parallel trials")
    tune.add_argument("--data", type=Path, required=True)
    tune.add_argument("--work", type=Path, required=True, help="folder for trials, trials.png and best.json")
    tune.add_argument("--trials", type=int, default=8)
    tune.add_argument("--parallel", type=int, default=None, help="trials at once (default: one per core)")
    tune.add_argument("--seed", type=int, default=0)
    tune.add_argument("--hp", action="append", default=[], metavar="NAME=VALUE", help="static hyperparameter")
    tune.set_defaults(run=cmd_tune)

    serve = commands.add_parser("serve", help="serve a model on SageMaker's container contract")
    serve.add_argument("--model", type=Path, required=True, help="model.tar.gz or an extracted model folder")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8080)
    serve.add_argument("--workers", type=int, default=0, help="default: one per core")
    serve.add_argument(
        "--endpoint-name",
        default=None,
        help="SageMaker Runtime's path answers for this name only (default: any); the capture folder's endpoint "
        "(default: local)",
    )
    serve.add_argument("--capture-dir", type=Path, default=None, help="data capture under DIR/<endpoint>/<variant>/")
    serve.add_argument(
        "--capture-sampling", type=int, default=100, help="percentage of invocations captured, 0-100 (default 100)"
    )
    serve.add_argument("--variant", default="AllTraffic", help="variant name in the capture path (default AllTraffic)")
    serve.set_defaults(run=cmd_serve)

    transform = commands.add_parser("transform", help="batch transform a folder or S3 prefix, as SageMaker does")
    transform.add_argument("--model", type=Path, required=True, help="model.tar.gz or an extracted model folder")
    transform.add_argument("--input", required=True, help="file, folder or s3://bucket/prefix")
    transform.add_argument("--output", required=True, help="folder or s3://bucket/prefix (gets <name>.out)")
    transform.add_argument(
        "--endpoint-url", default=None, help="S3 endpoint (the local AWS), e.g. http://localhost:5000"
    )
    transform.add_argument("--kms-key-id", default=None, help="upload the outputs to S3 with SSE-KMS and this key")
    transform.add_argument("--content-type", default=CSV, help=f"{CSV} (default) or {JSON}")
    transform.add_argument("--accept", default=CSV, help=f"{CSV} (default) or {JSON}")
    transform.add_argument("--split-type", default="None", help="None (default: an object is a record) or Line")
    transform.add_argument("--batch-strategy", default="SingleRecord", help="SingleRecord (default) or MultiRecord")
    transform.add_argument("--max-payload-mb", type=int, default=6, help="request size limit, 1-6 (default 6)")
    transform.add_argument("--assemble-with", default="None", help="None (default) or Line")
    transform.add_argument("--input-filter", default="$", help="JSONPath applied to each record, e.g. '$[1:]'")
    transform.add_argument("--join-source", default="None", help="None (default) or Input")
    transform.add_argument("--output-filter", default="$", help="JSONPath applied to the joined record, e.g. '$[0,-1]'")
    transform.set_defaults(run=cmd_transform)

    invoke = commands.add_parser("invoke", help="call an endpoint with boto3's sagemaker-runtime client")
    invoke.add_argument("--endpoint-url", required=True, help="e.g. http://127.0.0.1:8080")
    invoke.add_argument("--endpoint-name", default="local")
    invoke.add_argument("--csv", type=Path, required=True, help="channel file or folder; the label column is dropped")
    invoke.add_argument("--limit", type=int, default=5, help="rows to send")
    invoke.add_argument("--content-type", default=CSV, choices=[CSV, JSON])
    invoke.add_argument("--accept", default=JSON, choices=[CSV, JSON])
    invoke.set_defaults(run=cmd_invoke)

    _label_parsers(commands)
    _monitor_parsers(commands)
    return root


def _label_parsers(commands) -> None:  # type: ignore[no-untyped-def]
    from model_code.labeling import TASK_TYPES

    label = commands.add_parser("label", help="Ground Truth labeling jobs with the stage's published resources")
    label.set_defaults(run=cmd_label)
    steps = label.add_subparsers(dest="label_command", required=True)
    stage = argparse.ArgumentParser(add_help=False)
    stage.add_argument("--project", default="smplat", help="project of the stage file (default smplat)")
    stage.add_argument("--stage", default="dev", help="stage whose SSM parameters to read (default dev)")
    stage.add_argument("--region", default=None, help="default: the AWS configuration's region")
    task = argparse.ArgumentParser(add_help=False)
    task.add_argument("--task", required=True, choices=list(TASK_TYPES), help="built-in task type")

    manifest = steps.add_parser("manifest", parents=[stage, task], help="build and upload an input manifest")
    manifest.add_argument("--source", required=True, help="S3 prefix of images or of .txt files (one object a line)")
    manifest.add_argument("--name", required=True, help="manifest name (<manifest prefix><name>.manifest)")
    manifest.set_defaults(label_run=cmd_label_manifest)

    start = steps.add_parser("start", parents=[stage, task], help="start a labeling job")
    start.add_argument("--job-name", required=True)
    start.add_argument("--manifest", required=True, help="S3 URI of the input manifest")
    start.add_argument("--labels", required=True, help="label categories, comma separated")
    start.add_argument("--team", required=True, help="a work team of the stage's labeling section")
    start.add_argument("--title", default="")
    start.add_argument("--description", default="")
    start.add_argument("--keywords", default="labeling")
    start.add_argument(
        "--workers", dest="workers_per_object", type=int, default=1, help="workers per object (default 1)"
    )
    start.add_argument("--time-limit", type=int, default=300, help="seconds per task (default 300)")
    start.add_argument("--lifetime", type=int, default=86400, help="seconds a task stays available (default 1 day)")
    start.add_argument("--max-objects", type=int, default=None, help="stop after this many human-labeled objects")
    start.add_argument("--wait", action="store_true", help="follow the job's progress until it finishes")
    start.add_argument("--poll", type=float, default=30)
    start.set_defaults(label_run=cmd_label_start)

    status = steps.add_parser("status", parents=[stage], help="a job's label counters")
    status.add_argument("--job-name", required=True)
    status.add_argument("--wait", action="store_true", help="show a progress bar until the job finishes")
    status.add_argument("--poll", type=float, default=30)
    status.set_defaults(label_run=cmd_label_status)

    convert = steps.add_parser("convert", parents=[stage, task], help="output manifest -> raw dataset CSV")
    convert.add_argument("--job-name", default="", help="a finished job (its output manifest and label attribute)")
    convert.add_argument("--manifest", default="", help="or an output manifest (file or S3 URI)")
    convert.add_argument("--attribute", default=None, help="label attribute (default: the job's, or found)")
    convert.add_argument("--out", required=True, help="CSV file or S3 URI (e.g. under raw/)")
    convert.set_defaults(label_run=cmd_label_convert)


def cmd_monitor(args: argparse.Namespace) -> int:
    from model_code.monitor import run

    return run(args)


def _monitor_parsers(commands) -> None:  # type: ignore[no-untyped-def]
    from model_code.monitor import add_commands

    monitor = commands.add_parser("monitor", help="drift monitoring: baseline a channel, check captured traffic")
    monitor.set_defaults(run=cmd_monitor)
    add_commands(monitor.add_subparsers(dest="monitor_command", required=True))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if getattr(args, "workers", None) == 0:
        import os

        args.workers = os.cpu_count() or 1
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
