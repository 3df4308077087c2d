"""The platform's drift monitor: Model Monitor's documented formats both ways, the checks on captured
traffic, bad input, model quality with ground truth, and the metric lines for CloudWatch."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from model_code import monitor_baseline, monitor_check
from model_code.contract import LABEL_COLUMN
from model_code.data import write_sample_dataset
from model_code.lifecycle import main as lifecycle_main
from model_code.monitor import main
from model_code.monitor_formats import DEFAULT_MONITORING_CONFIG, read_baseline
from model_code.split import SplitSpec, split_file

ROOT = Path(__file__).resolve().parents[2]
# Example files of the schemas documented for Model Monitor's prebuilt container (sources in README.md).
DOCUMENTED = Path(__file__).parent / "fixtures" / "model_monitor"

# ---- the documented structures, as a small structural check ---------------------------------------
NUM, TYPES = (int, float), ("Integral", "Fractional", "String", "Unknown")
CHECKS = (
    "data_type_check",
    "completeness_check",
    "baseline_drift_check",
    "missing_column_check",
    "extra_column_check",
    "categorical_values_check",
)
COMMON = {"num_present": NUM, "num_missing": NUM}
NUMERICAL = {
    "common": COMMON,
    "mean": NUM,
    "sum": NUM,
    "std_dev": NUM,
    "min": NUM,
    "max": NUM,
    "distribution": {
        "kll": {
            "buckets": [{"lower_bound": NUM, "upper_bound": NUM, "count": NUM}],
            "sketch": {"parameters": {"c": NUM, "k": NUM}, "data": [[NUM]]},
        }
    },
}
STRING = {
    "common": COMMON,
    "distinct_count": NUM,
    "distribution": {"categorical": {"buckets": [{"value": str, "count": NUM}]}},
}
STATISTICS = {
    "version": NUM,
    "dataset": {"item_count": NUM},
    "features": [
        {"name": str, "inferred_type": TYPES, "numerical_statistics?": NUMERICAL, "string_statistics?": STRING}
    ],
}
ENABLED = ("Enabled", "Disabled")
CONSTRAINTS = {
    "version": NUM,
    "features": [
        {
            "name": str,
            "inferred_type": TYPES,
            "completeness": NUM,
            "num_constraints?": {"is_non_negative": bool},
            "string_constraints?": {"domains": [str]},
            "monitoringConfigOverrides?": dict,
        }
    ],
    "monitoring_config": {
        "evaluate_constraints": ENABLED,
        "emit_metrics": ENABLED,
        "datatype_check_threshold": NUM,
        "domain_content_threshold": NUM,
        "distribution_constraints": {
            "perform_comparison": ENABLED,
            "comparison_threshold": NUM,
            "comparison_method": ("Simple", "Robust"),
            "categorical_comparison_threshold": NUM,
            "categorical_drift_method": ("LInfinity", "ChiSquared"),
        },
    },
}
VIOLATIONS = {"violations": [{"feature_name": str, "constraint_check_type": CHECKS, "description": str}]}


def shape_errors(value: Any, shape: Any, where: str = "$") -> list[str]:
    """Differences from a documented structure: missing or unknown keys, wrong types, unknown enum values."""
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            return [f"{where}: not an object"]
        keys = {k.rstrip("?"): k.endswith("?") for k in shape}
        errors = [f"{where}.{k}: missing" for k, optional in keys.items() if not optional and k not in value]
        errors += [f"{where}.{k}: not in the documented schema" for k in value if k not in keys]
        for key, sub in shape.items():
            if key.rstrip("?") in value:
                errors += shape_errors(value[key.rstrip("?")], sub, f"{where}.{key.rstrip('?')}")
        return errors
    if isinstance(shape, list):
        if not isinstance(value, list):
            return [f"{where}: not a list"]
        return [e for i, item in enumerate(value) for e in shape_errors(item, shape[0], f"{where}[{i}]")]
    if isinstance(shape, tuple) and all(isinstance(s, str) for s in shape):
        return [] if value in shape else [f"{where}: {value!r} not one of {shape}"]
    if isinstance(value, bool) and shape is not bool:
        return [f"{where}: a boolean"]
    return [] if isinstance(value, shape) else [f"{where}: {type(value).__name__}"]


def load(path: Path) -> Any:
    return json.loads(path.read_text())


# ---- data and capture -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def channels(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("monitor")
    write_sample_dataset(work / "raw.csv")
    split_file(work / "raw.csv", work / "channels", SplitSpec(stratify=True))
    return work / "channels"


@pytest.fixture(scope="module")
def base(channels: Path) -> Path:
    assert main(["baseline", "--input", str(channels / "train"), "--output", str(channels.parent / "base")]) == 0
    return channels.parent / "base"


def sample_rows(channels: Path) -> tuple[list[str], list[list[str]]]:
    lines = (channels / "test" / "part-00000.csv").read_text().splitlines()
    header = lines[0].split(",")
    label = header.index(LABEL_COLUMN)
    rows = [line.split(",") for line in lines[1:]]
    return [line[label] for line in rows], [r[:label] + r[label + 1 :] for r in rows]


def capture_line(row: list[str], *, output: str = "0.500000", event: str = "e", encoding: str = "CSV") -> str:
    data = ",".join(row)
    if encoding == "JSON":
        data = json.dumps({"instances": [[float(v) for v in row]]})
    elif encoding == "BASE64":
        data = base64.b64encode(data.encode()).decode()
    kind = "application/json" if encoding == "JSON" else "text/csv"
    return json.dumps(
        {
            "captureData": {
                "endpointInput": {"observedContentType": kind, "mode": "INPUT", "data": data, "encoding": encoding},
                "endpointOutput": {
                    "observedContentType": "text/csv",
                    "mode": "OUTPUT",
                    "data": output,
                    "encoding": "CSV",
                },
            },
            "eventMetadata": {"eventId": event, "inferenceTime": "2026-12-02T10:00:00Z"},
            "eventVersion": "0",
        }
    )


def write_capture(folder: Path, lines: list[str]) -> Path:
    path = folder / "local" / "AllTraffic" / "2026" / "12" / "02" / "10" / "capture.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(lines) + "\n")
    return path


def run_check(base: Path, capture: Path, out: Path, capsys: pytest.CaptureFixture[str], *extra: str) -> dict[str, Any]:
    args = ["check", "--capture", str(capture), "--output", str(out), *extra]
    args += ["--statistics", str(base / "statistics.json"), "--constraints", str(base / "constraints.json")]
    code = main(args)
    captured = capsys.readouterr()
    return {
        "code": code,
        "lines": [json.loads(line) for line in captured.out.splitlines()],
        "stderr": captured.err,
        "violations": load(out / "constraint_violations.json")["violations"] if code == 0 else None,
    }


def kinds(violations: list[dict[str, str]]) -> list[tuple[str, str]]:
    return [(v["feature_name"], v["constraint_check_type"]) for v in violations]


# ---- baseline -------------------------------------------------------------------------------------


def test_baseline_of_the_sample_channel_in_the_documented_formats(base: Path) -> None:
    statistics, constraints = load(base / "statistics.json"), load(base / "constraints.json")
    assert shape_errors(statistics, STATISTICS) == []
    assert shape_errors(constraints, CONSTRAINTS) == []
    assert statistics["dataset"]["item_count"] == 398
    assert len(statistics["features"]) == 30 and LABEL_COLUMN not in [f["name"] for f in statistics["features"]]
    radius = statistics["features"][0]
    assert (radius["name"], radius["inferred_type"]) == ("mean_radius", "Fractional")
    numbers = radius["numerical_statistics"]
    assert (numbers["min"], numbers["max"], numbers["common"]) == (6.981, 28.11, {"num_present": 398, "num_missing": 0})
    assert numbers["mean"] == pytest.approx(14.2257939698) and numbers["std_dev"] == pytest.approx(3.5337487842)
    buckets = numbers["distribution"]["kll"]["buckets"]
    assert [b["count"] for b in buckets] == [12, 50, 126, 104, 37, 30, 26, 7, 3, 3]
    assert buckets[0]["lower_bound"] == 6.981 and buckets[-1]["upper_bound"] == 28.11
    assert len(numbers["distribution"]["kll"]["sketch"]["data"][0]) == 398  # under k values: all of them
    assert constraints["features"][0] == {
        "name": "mean_radius",
        "inferred_type": "Fractional",
        "completeness": 1.0,
        "num_constraints": {"is_non_negative": True},
    }
    assert constraints["monitoring_config"] == DEFAULT_MONITORING_CONFIG


def test_baseline_types_integral_string_and_missing_values(tmp_path: Path) -> None:
    rows = ["label,count,colour,ratio"] + [
        f"{i % 2},{i % 4},{'red' if i % 3 else 'blue'},{'' if i < 2 else i / 8}" for i in range(40)
    ]
    (tmp_path / "part.csv").write_text("\n".join(rows) + "\n")
    assert main(["baseline", "--input", str(tmp_path), "--output", str(tmp_path / "out")]) == 0
    statistics, constraints = load(tmp_path / "out" / "statistics.json"), load(tmp_path / "out" / "constraints.json")
    assert shape_errors(statistics, STATISTICS) == [] and shape_errors(constraints, CONSTRAINTS) == []
    assert [(f["name"], f["inferred_type"]) for f in statistics["features"]] == [
        ("count", "Integral"),
        ("colour", "String"),
        ("ratio", "Fractional"),
    ]
    colour = statistics["features"][1]["string_statistics"]
    assert colour["distinct_count"] == 2.0
    assert colour["distribution"]["categorical"]["buckets"] == [
        {"value": "red", "count": 26},
        {"value": "blue", "count": 14},
    ]
    assert constraints["features"][1]["string_constraints"] == {"domains": ["blue", "red"]}
    assert constraints["features"][2]["completeness"] == 0.95


def test_string_values_past_the_counted_ones_are_still_present(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(monitor_baseline.fmt, "MAX_CATEGORIES", 2)
    (tmp_path / "part.csv").write_text("label,colour\n" + "".join(f"0,{c}\n" for c in "rgbrgbx"))
    assert main(["baseline", "--input", str(tmp_path), "--output", str(tmp_path / "out")]) == 0
    colour = load(tmp_path / "out" / "statistics.json")["features"][0]["string_statistics"]
    assert colour["common"] == {"num_present": 7, "num_missing": 0} and colour["distinct_count"] == 2.0
    assert colour["distribution"]["categorical"]["buckets"] == [{"value": "g", "count": 2}, {"value": "r", "count": 2}]


# ---- Model Monitor's own files are read -----------------------------------------------------------


def test_the_documented_example_files_validate_and_are_read() -> None:
    statistics, constraints = load(DOCUMENTED / "statistics.json"), load(DOCUMENTED / "constraints.json")
    assert shape_errors(statistics, STATISTICS) == []
    assert shape_errors(constraints, CONSTRAINTS) == []
    assert shape_errors(load(DOCUMENTED / "constraint_violations.json"), VIOLATIONS) == []
    baseline = read_baseline(statistics, constraints, ("statistics.json", "constraints.json"))
    fare, passengers, payment = baseline.features
    assert (fare.name, fare.inferred_type, fare.completeness) == ("fare_amount", "Fractional", 1.0)
    assert fare.edges is not None and fare.edges.tolist() == [0.0, 5.0, 10.0, 15.0, 20.0, 25.0]
    assert fare.counts is not None and fare.counts.tolist() == [10, 20, 40, 20, 10]
    assert (passengers.inferred_type, passengers.completeness, passengers.num_present) == ("Integral", 0.95, 95)
    assert (payment.domains, payment.categories) == (["card", "cash"], {"card": 80.0, "cash": 20.0})
    assert baseline.distribution("comparison_method") == "Simple" and baseline.item_count == 100


def test_traffic_is_checked_against_a_model_monitor_baseline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    passengers = ["1", "2", "1", "2", "1", "2", "1.5", "1.5", "", "1"]
    payments = ["card"] * 5 + ["bitcoin"] * 5
    capture = write_capture(tmp_path, [capture_line(["22.0", p, c]) for p, c in zip(passengers, payments, strict=True)])
    result = run_check(DOCUMENTED, capture, tmp_path / "out", capsys)
    assert result["code"] == 0
    assert kinds(result["violations"]) == [
        ("fare_amount", "baseline_drift_check"),
        ("passenger_count", "data_type_check"),
        ("passenger_count", "completeness_check"),
        ("payment_type", "categorical_values_check"),
        ("payment_type", "baseline_drift_check"),
    ]
    assert result["violations"][1]["description"].startswith("2 of 9 values (0.2222) are not Integral")
    assert [(line["feature"], line["drift"], line["violations"]) for line in result["lines"][:3]] == [
        ("fare_amount", 0.9, 1),
        ("passenger_count", 0.081871, 2),
        ("payment_type", 0.5, 2),
    ]
    report = load(tmp_path / "out" / "statistics.json")
    assert (
        shape_errors(report, STATISTICS) == [] and shape_errors({"violations": result["violations"]}, VIOLATIONS) == []
    )
    assert report["dataset"]["item_count"] == 10
    payment = report["features"][2]["string_statistics"]["distribution"]["categorical"]["buckets"]
    assert payment == [{"value": "bitcoin", "count": 5}, {"value": "card", "count": 5}]


# ---- checks on the sample endpoint's traffic ------------------------------------------------------


def test_normal_traffic_has_no_violations_and_prints_the_contract_lines(
    channels: Path, base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, rows = sample_rows(channels)
    lines = [capture_line(r) for r in rows]
    capture = write_capture(tmp_path, [*lines[:40], "", *lines[40:]])  # a blank line is no record
    result = run_check(base, capture.parent.parent, tmp_path / "out", capsys, "--endpoint", "sample-endpoint")
    assert result["code"] == 0 and result["violations"] == []
    features, summary = result["lines"][:-1], result["lines"][-1]
    assert len(features) == 30
    assert all(set(line) == {"smplat_monitor", "endpoint", "feature", "drift", "violations"} for line in features)
    assert {(line["smplat_monitor"], line["endpoint"], line["violations"]) for line in features} == {
        ("feature", "sample-endpoint", 0)
    }
    assert summary == {
        "smplat_monitor": "summary",
        "endpoint": "sample-endpoint",
        "records": 85,
        "violations": 0,
        "max_drift": 0.123382,
    }
    assert shape_errors(load(tmp_path / "out" / "statistics.json"), STATISTICS) == []


def test_a_shifted_feature_is_named_in_a_drift_violation(
    channels: Path, base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, rows = sample_rows(channels)
    shifted = [[str(float(r[0]) + 3 * 3.53), *r[1:]] for r in rows]  # mean_radius + 3 standard deviations
    result = run_check(base, write_capture(tmp_path, [capture_line(r) for r in shifted]), tmp_path / "out", capsys)
    assert kinds(result["violations"]) == [("mean_radius", "baseline_drift_check")]
    assert result["violations"][0]["description"] == (
        "distance 0.8550 exceeds the threshold 0.1 and the Robust critical distance 0.1623 (398 vs 85 values)"
    )
    assert result["lines"][0] == {
        "smplat_monitor": "feature",
        "endpoint": "local",
        "feature": "mean_radius",
        "drift": 0.854951,
        "violations": 1,
    }
    assert result["lines"][-1]["violations"] == 1 and result["lines"][-1]["max_drift"] == 0.854951


def test_missing_values_and_text_in_numeric_columns(
    channels: Path, base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, rows = sample_rows(channels)
    for row in rows[:20]:
        row[1], row[23] = "abc", ""  # mean_texture: text; worst_area: missing
    result = run_check(base, write_capture(tmp_path, [capture_line(r) for r in rows]), tmp_path / "out", capsys)
    assert kinds(result["violations"]) == [("mean_texture", "data_type_check"), ("worst_area", "completeness_check")]
    assert [v["description"] for v in result["violations"]] == [
        "20 of 85 values (0.2353) are not Fractional (datatype_check_threshold)",
        "completeness 0.7647 is below the baseline's 1.0000",
    ]
    texture = load(tmp_path / "out" / "statistics.json")["features"][1]["numerical_statistics"]["common"]
    assert texture == {"num_present": 65, "num_missing": 0}


def test_rows_with_the_wrong_number_of_columns(
    channels: Path, base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, rows = sample_rows(channels)
    lines = [capture_line(r) for r in rows]
    lines[4], lines[9] = capture_line(rows[4][:-1]), capture_line([*rows[9], "1.0"])
    capture = write_capture(tmp_path, lines)
    result = run_check(base, capture, tmp_path / "out", capsys)
    assert kinds(result["violations"]) == [
        ("worst_fractal_dimension", "missing_column_check"),
        ("_c30", "extra_column_check"),
    ]
    assert (
        result["violations"][0]["description"] == f"1 rows with fewer than 30 columns (first: {capture}:5, 29 columns)"
    )
    assert result["lines"][-1]["records"] == 85
    # Mostly the wrong width: the capture is not of this model; refused, naming the first such line.
    result = run_check(base, write_capture(tmp_path, [capture_line(r[:20]) for r in rows]), tmp_path / "out2", capsys)
    assert result["code"] == 2
    assert (
        result["stderr"]
        == f"monitor check: {capture}:1: 20 columns where the baseline has 30; 85 of 85 rows have the wrong width\n"
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"captureData": {"endpointInput": ', "not JSON (Expecting value)"),
        ('{"eventMetadata": {"eventId": "x"}}', "no captureData.endpointInput (not a data-capture record)"),
        ("[1, 2]", "no captureData.endpointInput (not a data-capture record)"),
    ],
)
def test_bad_capture_lines_exit_2_naming_file_and_line(
    channels: Path, base: Path, tmp_path: Path, line: str, message: str
) -> None:
    _, rows = sample_rows(channels)
    capture = write_capture(tmp_path, [capture_line(rows[0]), capture_line(rows[1]), line, capture_line(rows[2])])
    command = [
        sys.executable,
        "model_code/monitor.py",
        "check",
        "--capture",
        str(tmp_path),
        "--output",
        str(tmp_path / "o"),
    ]
    command += ["--statistics", str(base / "statistics.json"), "--constraints", str(base / "constraints.json")]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 2
    assert done.stderr == f"monitor check: {capture}:3: {message}\n"
    assert done.stdout == ""


def test_a_baseline_that_is_not_model_monitor_s_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "statistics.json").write_text('{"features": []}')
    (tmp_path / "constraints.json").write_text('{"features": [{"name": "a", "completeness": "high"}]}')
    capture = write_capture(tmp_path, [capture_line(["1"])])
    result = run_check(tmp_path, capture, tmp_path / "out", capsys)
    assert result["code"] == 2
    assert result["stderr"] == (
        f"monitor check: {tmp_path}/statistics.json, {tmp_path}/constraints.json: not a Model Monitor baseline "
        "(ValueError(\"could not convert string to float: 'high'\"))\n"
    )
    (tmp_path / "constraints.json").write_text('{"features": {"a": 1}}')
    result = run_check(tmp_path, capture, tmp_path / "out", capsys)
    assert result["stderr"] == f"monitor check: {tmp_path}/constraints.json: 'features' must be a list of objects\n"


def test_a_period_without_traffic_is_checked_without_violations(
    base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "capture").mkdir()
    result = run_check(base, tmp_path / "capture", tmp_path / "out", capsys)
    assert result["code"] == 0 and result["violations"] == []
    assert result["lines"][-1] == {
        "smplat_monitor": "summary",
        "endpoint": "local",
        "records": 0,
        "violations": 0,
        "max_drift": 0.0,
    }
    assert result["stderr"].startswith(f"{tmp_path / 'capture'}: no *.jsonl capture files\n")
    report = load(tmp_path / "out" / "statistics.json")
    assert shape_errors(report, STATISTICS) == [] and report["dataset"] == {"item_count": 0}
    result = run_check(base, tmp_path / "absent", tmp_path / "out", capsys)
    assert (result["code"], result["stderr"]) == (2, f"monitor check: {tmp_path / 'absent'}: no such file or folder\n")


def test_json_and_base64_bodies_give_the_statistics_of_csv(
    channels: Path, base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, rows = sample_rows(channels)
    reports = []
    for encoding in ("CSV", "JSON", "BASE64"):
        capture = write_capture(tmp_path / encoding, [capture_line(r, encoding=encoding) for r in rows])
        assert run_check(base, capture, tmp_path / encoding / "out", capsys)["violations"] == []
        reports.append(load(tmp_path / encoding / "out" / "statistics.json"))
    # Several rows a request (a CSV body of many lines, a JSON body of many instances): each row counts.
    pairs = [rows[i : i + 2] for i in range(0, len(rows), 2)]
    batched = [capture_line([f"{','.join(p[0])}\n{','.join(p[1])}"] if len(p) == 2 else p[0]) for p in pairs]
    instances = [json.dumps({"instances": [[float(v) for v in r] for r in p]}) for p in pairs]
    as_json = [
        capture_line(["x"]).replace('"data": "x", "encoding": "CSV"', f'"data": {json.dumps(i)}, "encoding": "JSON"')
        for i in instances
    ]
    for name, lines in (("batched", batched), ("instances", as_json)):
        result = run_check(base, write_capture(tmp_path / name, lines), tmp_path / name / "out", capsys)
        assert result["lines"][-1]["records"] == 85
        reports.append(load(tmp_path / name / "out" / "statistics.json"))
    assert reports[0] == reports[1] == reports[2] == reports[3] == reports[4]


def test_chunked_streaming_gives_the_statistics_of_one_pass(
    channels: Path, base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _, rows = sample_rows(channels)
    capture = write_capture(tmp_path, [capture_line(r) for r in rows])
    whole = run_check(base, capture, tmp_path / "whole", capsys)
    monkeypatch.setattr(monitor_check, "CHUNK_ROWS", 5)
    monkeypatch.setattr(monitor_check, "READ_BYTES", 1)  # one line a batch
    monkeypatch.setattr(monitor_baseline.fmt, "KLL_PARAMETERS", {"c": 0.64, "k": 8.0})
    chunked = run_check(base, capture, tmp_path / "chunked", capsys)
    assert chunked["lines"] == whole["lines"]
    one, many = (
        load(tmp_path / d / "statistics.json")["features"][3]["numerical_statistics"] for d in ("whole", "chunked")
    )
    assert many["mean"] == pytest.approx(one["mean"], rel=1e-12) and many["std_dev"] == pytest.approx(
        one["std_dev"], rel=1e-12
    )
    assert many["distribution"]["kll"]["buckets"] == one["distribution"]["kll"]["buckets"]
    # At most 2k rows kept: every 8th row of the 85 once the sample passed 16 rows.
    assert many["distribution"]["kll"]["sketch"]["data"][0] == sorted(float(r[3]) for r in rows[::8])


# ---- model quality --------------------------------------------------------------------------------


def test_model_quality_joins_ground_truth_on_the_event_id(
    channels: Path, base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    labels, rows = sample_rows(channels)
    scores = [0.9, 0.2, 0.6, 0.4, 0.7, 0.1, 0.3, 0.8] * 11
    lines = [capture_line(r, output=f"{s}", event=f"id-{i}") for i, (r, s) in enumerate(zip(rows, scores))]  # noqa: B905
    truth = tmp_path / "ground-truth" / "2026" / "12" / "02" / "11" / "labels.jsonl"
    truth.parent.mkdir(parents=True)
    truth.write_text(
        "".join(
            json.dumps(
                {
                    "groundTruthData": {"data": label, "encoding": "CSV"},
                    "eventMetadata": {"eventId": f"id-{i}"},
                    "eventVersion": "0",
                }
            )
            + "\n"
            for i, label in enumerate(labels[:80])
        )
    )
    limits = tmp_path / "mq-constraints.json"
    limits.write_text(
        json.dumps(
            {
                "version": 0.0,
                "binary_classification_constraints": {
                    "accuracy": {"threshold": 0.9, "comparison_operator": "LessThanThreshold"},
                    "recall": {"threshold": 0.1, "comparison_operator": "LessThanThreshold"},
                },
            }
        )
    )
    quality_args = ["--ground-truth", str(tmp_path / "ground-truth"), "--problem-type", "BinaryClassification"]
    result = run_check(
        base,
        write_capture(tmp_path, lines),
        tmp_path / "out",
        capsys,
        *quality_args,
        "--model-quality-constraints",
        str(limits),
    )
    from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

    y, s = [int(v) for v in labels[:80]], scores[:80]
    p = [int(v >= 0.5) for v in s]
    metrics = {line["metric"]: line["value"] for line in result["lines"] if line["smplat_monitor"] == "model_quality"}
    assert metrics["accuracy"] == pytest.approx(accuracy_score(y, p)) and metrics["f1"] == pytest.approx(f1_score(y, p))
    assert metrics["auc"] == pytest.approx(roc_auc_score(y, s))
    assert list(metrics) == ["accuracy", "precision", "recall", "f1", "auc"]
    statistics = load(tmp_path / "out" / "model_quality" / "statistics.json")
    assert statistics["dataset"] == {"item_count": 80}
    assert statistics["binary_classification_metrics"]["accuracy"] == {"value": 0.475, "standard_deviation": "NaN"}
    assert load(tmp_path / "out" / "model_quality" / "constraint_violations.json") == {
        "violations": [
            {
                "metric_name": "accuracy",
                "constraint_check_type": "LessThanThreshold",
                "description": "Metric accuracy with 0.475 +/- NaN was LessThanThreshold '0.9'",
            }
        ]
    }


def test_regression_and_multiclass_metrics() -> None:
    from model_code.monitor_quality import statistics

    regression = statistics("Regression", ["1", "2", "3", "4"], [(1.5, None), (2.0, None), (2.0, None), (5.0, None)])
    assert {k: v["value"] for k, v in regression["regression_metrics"].items()} == {
        "mae": 0.625,
        "mse": 0.5625,
        "rmse": 0.75,
        "r2": 0.55,
    }
    multiclass = statistics(
        "MulticlassClassification", ["a", "b", "b", "c"], [(None, "a"), (None, "b"), (None, "c"), (None, "c")]
    )
    values = {
        k: v["value"] for k, v in multiclass["multiclass_classification_metrics"].items() if k != "confusion_matrix"
    }
    assert values["accuracy"] == 0.75 and values["weighted_f1"] == pytest.approx((1 + 2 * (2 / 3) + 2 / 3) / 4)
    assert multiclass["multiclass_classification_metrics"]["confusion_matrix"]["b"] == {"a": 0, "b": 1, "c": 1}


def test_the_lifecycle_subcommand_runs_the_same_check(
    channels: Path, base: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, rows = sample_rows(channels)
    capture = write_capture(tmp_path, [capture_line(r) for r in rows])
    via_script = run_check(base, capture, tmp_path / "a", capsys)
    args = ["monitor", "check", "--capture", str(capture), "--output", str(tmp_path / "b")]
    args += ["--statistics", str(base / "statistics.json"), "--constraints", str(base / "constraints.json")]
    assert lifecycle_main(args) == 0
    assert [json.loads(line) for line in capsys.readouterr().out.splitlines()] == via_script["lines"]
    assert load(tmp_path / "a" / "statistics.json") == load(tmp_path / "b" / "statistics.json")
    assert (
        lifecycle_main(
            [
                "monitor",
                "check",
                "--capture",
                str(tmp_path / "none"),
                "--output",
                str(tmp_path),
                "--statistics",
                "s",
                "--constraints",
                "c",
            ]
        )
        == 2
    )
    assert capsys.readouterr().err == "monitor check: s: No such file or directory\n"


@pytest.mark.parametrize("command", ["baseline", "check"])
def test_the_lifecycle_and_the_script_take_the_same_flags(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    from model_code.lifecycle import parser

    helps = []
    for run in (lambda: parser().parse_args(["monitor", command, "--help"]), lambda: main([command, "--help"])):
        with pytest.raises(SystemExit) as done:
            run()
        assert done.value.code == 0
        helps.append(capsys.readouterr().out)
    assert helps[0].startswith(f"usage: python -m model_code.lifecycle monitor {command}")
    assert helps[1].startswith(f"usage: model_code/monitor.py {command}")
    options = [sorted(word for word in text.split() if word.startswith("--")) for text in helps]
    assert options[0] == options[1]
    assert {"--capture", "--statistics", "--constraints", "--output", "--endpoint", "--ground-truth"} <= set(
        options[0]
    ) or command == "baseline"
