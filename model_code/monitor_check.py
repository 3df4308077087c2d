"""The monitor's `check`: streams data-capture files against a baseline, writes Model Monitor's
statistics.json and constraint_violations.json (and model quality with ground truth), and prints
one JSON line per metric, also written to the report's metrics.jsonl, which the platform publishes to
CloudWatch. See model_code/monitor.py.
Python 3.8+, standard library and numpy only.
"""

from __future__ import annotations

import base64
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from model_code import monitor_formats as fmt
from model_code import monitor_quality as quality
from model_code.monitor_baseline import CHUNK_ROWS, Columns, Origins, input_files, refuse_wrong_widths, write_json
from model_code.monitor_formats import MonitorError

READ_BYTES = 1 << 20  # capture lines read (and parsed by one json.loads) at a time

METRICS_FILE = "metrics.jsonl"  # the metric lines, beside Model Monitor's files in the report


def _batches(files: list[Path]) -> Any:
    """(records, path, line numbers) of about a MB of capture lines at a time; a line that is not
    JSON is refused."""
    for path in files:
        with path.open(encoding="utf-8") as handle:
            first = 1
            for lines in iter(lambda: handle.readlines(READ_BYTES), []):
                numbers = range(first, first + len(lines))
                first += len(lines)
                yield _parse_batch(path, lines, numbers), path, numbers


def _parse_batch(path: Path, batch: list[str], numbers: range) -> list[Any]:
    # One json.loads for the whole batch costs less than one per line. On any doubt (a bad or a
    # blank line) the lines are parsed one by one, to skip the blank ones and name a bad one.
    try:
        records = json.loads("[" + ",".join(batch) + "]")
        if isinstance(records, list) and len(records) == len(batch):
            return records
    except ValueError:
        pass
    records = []
    for line, number in zip(batch, numbers):  # noqa: B905 (Python 3.8)
        if not line.strip():
            records.append(None)  # a blank line: no rows
            continue
        try:
            records.append(json.loads(line))
        except ValueError as err:
            raise MonitorError(f"{path}:{number}: not JSON ({err.args[0].split(':')[0]})") from None
    return records


def _batch_rows(records: list[Any], path: Path, numbers: range) -> tuple[list[str], Sequence[int]]:
    """The feature rows of a batch of captured requests and the (file, line) of each."""
    try:  # the common case, one CSV row per request, in a few C-level passes over the batch
        bodies = [record["captureData"]["endpointInput"] for record in records]
        data = [body["data"] for body in bodies]
        if all(body["encoding"] == "CSV" for body in bodies) and all(data):
            joined = "".join(data)
            if "\n" not in joined and "\r" not in joined:
                return data, numbers
    except (KeyError, TypeError):
        pass
    rows: list[str] = []
    lines: list[int] = []
    for record, number in zip(records, numbers):  # noqa: B905 (Python 3.8)
        if record is None:
            continue
        found = _input_rows(record, path, number)
        rows.extend(found)
        lines.extend([number] * len(found))
    return rows, lines


def _input_rows(record: Any, path: Path, number: int) -> list[str]:
    """The feature rows of a captured request, as CSV text rows."""
    try:
        body = record["captureData"]["endpointInput"]
        data, encoding = str(body.get("data", "")), str(body.get("encoding", "CSV")).upper()
    except (KeyError, TypeError, AttributeError):
        raise MonitorError(f"{path}:{number}: no captureData.endpointInput (not a data-capture record)") from None
    try:
        if encoding == "BASE64":
            data = base64.b64decode(data).decode("utf-8")
            encoding = "JSON" if "json" in str(body.get("observedContentType", "")) else "CSV"
        if encoding == "CSV":
            return [row.rstrip("\r") for row in data.split("\n") if row.strip()]
        if encoding == "JSON":
            return [",".join(_text(v) for v in row) for row in _json_rows(json.loads(data))]
    except ValueError as err:
        raise MonitorError(f"{path}:{number}: endpointInput data cannot be decoded as {encoding} ({err})") from None
    raise MonitorError(f"{path}:{number}: endpointInput encoding {encoding!r}; expected CSV, JSON or BASE64")


def _json_rows(payload: Any) -> list[list[Any]]:
    """{"instances": [[...], ...]} (or [{"features": [...]}]), [[...], ...], or one flat row."""
    rows = payload.get("instances", []) if isinstance(payload, dict) else payload
    if not isinstance(rows, list):
        raise ValueError("expected a list of rows")
    if rows and not isinstance(rows[0], (list, dict)):
        rows = [rows]
    return [row.get("features", []) if isinstance(row, dict) else row for row in rows]


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def check(
    capture: Path,
    statistics_path: Path,
    constraints_path: Path,
    output: Path,
    *,
    endpoint: str = "local",
    ground_truth: Path | None = None,
    problem_type: str | None = None,
    quality_constraints: Path | None = None,
) -> list[dict[str, Any]]:
    """Check the capture against the baseline; returns the violations (also written to output)."""
    statistics, constraints = _read_json(statistics_path), _read_json(constraints_path)
    try:
        base = fmt.read_baseline(statistics, constraints, (str(statistics_path), str(constraints_path)))
    except MonitorError:
        raise
    except (KeyError, TypeError, ValueError, IndexError) as err:
        raise MonitorError(f"{statistics_path}, {constraints_path}: not a Model Monitor baseline ({err!r})") from None
    names = [f.name for f in base.features]
    width = len(names)
    strings = {j for j, f in enumerate(base.features) if f.inferred_type == fmt.STRING}
    edges = [f.edges if f.numeric and f.edges is not None else None for f in base.features]
    columns = Columns(width, strings, edges)
    if ground_truth and problem_type not in quality.PROBLEM_TYPES:
        allowed = ", ".join(quality.PROBLEM_TYPES)
        raise MonitorError(f"--problem-type {problem_type!r}: with --ground-truth give one of {allowed}")
    truth = quality.load_ground_truth(input_files(ground_truth, "*.jsonl")) if ground_truth else {}
    pairs: tuple[list[str], list[Any]] = ([], [])
    rows: list[str] = []
    origins = Origins()
    files = input_files(capture, "*.jsonl", required=False)
    if not files:  # a period without traffic: nothing to check, which is no error
        print(f"{capture}: no *.jsonl capture files", file=sys.stderr)
    for records, path, numbers in _batches(files):
        found, where = _batch_rows(records, path, numbers)
        rows.extend(found)
        origins.add(path, where)
        if truth:
            for record, number in zip(records, numbers):  # noqa: B905 (Python 3.8)
                if record is not None:
                    _join(record, truth, pairs, path, number)
        if len(rows) >= CHUNK_ROWS:
            columns.add(rows, origins)
            refuse_wrong_widths(columns, strict=False)
            rows, origins = [], Origins()
    columns.add(rows, origins)
    refuse_wrong_widths(columns, strict=False)

    kinds = [f.inferred_type if f.inferred_type != fmt.UNKNOWN else fmt.FRACTIONAL for f in base.features]
    features = [columns.feature_statistics(j, names[j], kinds[j]) for j in range(width)]
    statistics = {"version": 0.0, "dataset": {"item_count": columns.rows}, "features": features}
    write_json(output / fmt.STATISTICS_FILE, statistics, indent=None)
    drift = [_drift(base, f, columns, j) for j, f in enumerate(base.features)]
    violations = _violations(base, columns, drift) if base.config.get("evaluate_constraints") != "Disabled" else []
    write_json(output / fmt.VIOLATIONS_FILE, {"violations": violations})

    (output / METRICS_FILE).unlink(missing_ok=True)
    for j, name in enumerate(names):
        count = sum(1 for v in violations if v["feature_name"] == name)
        _metric(
            output,
            {
                "smplat_monitor": "feature",
                "endpoint": endpoint,
                "feature": name,
                "drift": drift[j],
                "violations": count,
            },
        )
    records = columns.rows + columns.wrong["short"] + columns.wrong["long"]
    summary = {"records": records, "violations": len(violations), "max_drift": max(drift, default=0.0)}
    _metric(output, {"smplat_monitor": "summary", "endpoint": endpoint, **summary})
    if ground_truth and problem_type:
        _model_quality(problem_type, pairs, output, endpoint, quality_constraints)
    print(f"{records} records, {len(violations)} violations -> {output}", file=sys.stderr)
    return violations


def _join(record: Any, truth: dict[str, str], pairs: tuple[list[str], list[Any]], path: Path, number: int) -> None:
    metadata = record.get("eventMetadata") or {}
    labels = truth.get(str(metadata.get("inferenceId") or metadata.get("eventId")))
    if labels is None:
        return
    try:
        predicted = quality.predictions(record["captureData"]["endpointOutput"])
    except (KeyError, TypeError, ValueError, AttributeError):
        raise MonitorError(
            f"{path}:{number}: no readable captureData.endpointOutput to join with ground truth"
        ) from None
    actual = labels.splitlines() if len(labels.splitlines()) == len(predicted) else labels.splitlines()[:1]
    pairs[0].extend(actual)
    pairs[1].extend(predicted[: len(actual)])


def _drift(base: fmt.Baseline, feature: fmt.FeatureBaseline, columns: Columns, j: int) -> float:
    hist = columns.hist[j]
    if feature.numeric and feature.counts is not None and hist is not None:
        return round(fmt.cdf_distance(feature.counts, hist), 6)
    if feature.inferred_type == fmt.STRING and feature.categories and j not in columns.overflow:
        return round(fmt.categorical_distance(feature.categories, columns.values[j]), 6)
    return 0.0


def _violations(base: fmt.Baseline, columns: Columns, drift: list[float]) -> list[dict[str, str]]:
    found = []
    total = columns.rows
    missing = columns.missing()
    compare = base.distribution("perform_comparison") != "Disabled"
    robust = base.distribution("comparison_method") != "Simple"
    for j, feature in enumerate(base.features):
        name = feature.name
        if not total or feature.inferred_type == fmt.UNKNOWN:
            continue
        if feature.numeric:
            wrong = int(columns.bad[j]) + (int(columns.fractional[j]) if feature.inferred_type == fmt.INTEGRAL else 0)
            typed = int(columns.present[j]) + int(columns.bad[j])
            share = wrong / typed if typed else 0.0
            if share > base.threshold("datatype_check_threshold"):
                description = f"{wrong} of {typed} values ({share:.4f}) are not {feature.inferred_type}"
                found.append(fmt.violation(name, fmt.DATA_TYPE_CHECK, f"{description} (datatype_check_threshold)"))
        completeness = 1.0 - float(missing[j]) / total
        if completeness < feature.completeness - 1e-9:
            description = f"completeness {completeness:.4f} is below the baseline's {feature.completeness:.4f}"
            found.append(fmt.violation(name, fmt.COMPLETENESS_CHECK, description))
        if feature.inferred_type == fmt.STRING and feature.domains is not None:
            # Values past the first MAX_CATEGORIES distinct ones are not counted one by one: unknown too.
            seen, domain = total - int(missing[j]), set(feature.domains)
            unknown = seen - sum(c for v, c in columns.values[j].items() if v in domain)
            if seen and unknown / seen > base.threshold("domain_content_threshold"):
                description = f"{unknown} of {seen} values ({unknown / seen:.4f}) are outside the baseline's domain"
                found.append(fmt.violation(name, fmt.CATEGORICAL_VALUES_CHECK, description))
        numeric = feature.numeric
        key = "comparison_threshold" if numeric else "categorical_comparison_threshold"
        threshold = float(base.distribution(key))
        n_base = _baseline_size(base, feature)
        n_now = int(columns.present[j]) if numeric else sum(columns.values.get(j, {}).values())
        critical = fmt.ks_critical(n_base, n_now) if robust else 0.0
        if compare and drift[j] > threshold and drift[j] > critical:
            method = "Robust" if robust else "Simple"
            description = f"distance {drift[j]:.4f} exceeds the threshold {threshold}"
            if robust:
                description += f" and the {method} critical distance {critical:.4f} ({n_base} vs {n_now} values)"
            found.append(fmt.violation(name, fmt.BASELINE_DRIFT_CHECK, description))
    for kind, check_type in (("short", fmt.MISSING_COLUMN_CHECK), ("long", fmt.EXTRA_COLUMN_CHECK)):
        if columns.wrong[kind]:
            (path, line), count = columns.wrong["first_" + kind]
            name = base.features[count].name if kind == "short" else f"_c{columns.width}"
            description = (
                f"{columns.wrong[kind]} rows with {'fewer' if kind == 'short' else 'more'} than "
                f"{columns.width} columns (first: {path}:{line}, {count} columns)"
            )
            found.append(fmt.violation(name, check_type, description))
    return found


def _baseline_size(base: fmt.Baseline, feature: fmt.FeatureBaseline) -> int:
    if not feature.numeric:
        return int(sum(feature.categories.values()))
    if feature.num_present:
        return feature.num_present
    return int(feature.counts.sum()) if feature.counts is not None else base.item_count


def _model_quality(
    problem: str, pairs: tuple[list[str], list[Any]], output: Path, endpoint: str, constraints_path: Path | None
) -> None:
    folder = output / "model_quality"
    stats = quality.statistics(problem, *pairs)
    write_json(folder / fmt.STATISTICS_FILE, stats)
    violations = quality.evaluate(problem, stats, _read_json(constraints_path)) if constraints_path else []
    write_json(folder / fmt.VIOLATIONS_FILE, {"violations": violations})
    if not pairs[0]:
        print("model quality: no captured record matches a ground-truth eventId", file=sys.stderr)
        return
    for metric, entry in stats[quality.METRICS_KEY[problem]].items():
        if metric != "confusion_matrix":
            _metric(
                output,
                {"smplat_monitor": "model_quality", "endpoint": endpoint, "metric": metric, "value": entry["value"]},
            )


def _metric(output: Path, line: dict[str, Any]) -> None:
    """One metric line: on stdout, and in the report's metrics.jsonl, which the platform publishes to
    CloudWatch (only the check's role writes the report; anyone's job can print)."""
    text = json.dumps(line)
    print(text, flush=True)
    with (output / METRICS_FILE).open("a", encoding="utf-8") as handle:
        handle.write(text + "\n")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as err:
        raise MonitorError(f"{path}: not JSON ({err})") from None
    if not isinstance(document, dict):
        raise MonitorError(f"{path}: expected a JSON object")
    return document
