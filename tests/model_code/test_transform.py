"""Local batch transform: SageMaker's split, batch, assemble, filter and join options, pinned to
the examples in AWS's documentation ("Associate Prediction Results with Input Records"), against
the real serving container, and S3 input and output through the local AWS (moto server)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
import xgboost as xgb

from local_aws.deploy import client
from local_aws.moto_server import LocalAws, moto_server
from model_code.contract import MODEL_FILE
from model_code.lifecycle import main as lifecycle
from model_code.local_training import TrainingResult
from model_code.serve import extract_model, running_server
from model_code.transform import JsonPath, TransformError, TransformSpec, transform_with

ROOT = Path(__file__).resolve().parents[2]

# --- SageMaker's JSONPath subset (no server) -------------------------------------------------------

ROW = ["id7", "0.1", "0.2", "0.3", "0.4", "0.5", "0.6"]


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("$", ROW),
        ("$[1:]", ROW[1:]),  # InputFilter's documented example: drop the ID column
        ("$[0,-1]", ["id7", "0.6"]),  # OutputFilter: keep the ID and the prediction
        ("$[0,5:]", ["id7", "0.5", "0.6"]),  # OutputFilter's documented example
        ("$[0,3,5]", ["id7", "0.3", "0.5"]),
        ("$[1:4]", ["0.1", "0.2", "0.3"]),  # end excluded
        ("$[:2]", ["id7", "0.1"]),
        ("$[-2:]", ["0.5", "0.6"]),
        ("$[-1]", "0.6"),
        ("$[*]", ROW),
    ],
)
def test_filters_on_a_csv_row(path: str, expected: object) -> None:
    assert JsonPath.parse(path, "--input-filter").select(ROW, "--input-filter", "row") == expected


def test_filters_on_a_json_record() -> None:
    record = {"id": 1, "features": [0.5, 1.5], "data": {"x": 2}, "SageMakerOutput": {"score": 0.9}}
    assert JsonPath.parse("$.features", "f").select(record, "f", "r") == [0.5, 1.5]  # documented example
    assert JsonPath.parse("$['id','SageMakerOutput']", "f").select(record, "f", "r") == {  # documented example
        "id": 1,
        "SageMakerOutput": {"score": 0.9},
    }
    assert JsonPath.parse('$["id"]', "f").select(record, "f", "r") == {"id": 1}
    assert JsonPath.parse("$.data.x", "f").select(record, "f", "r") == 2
    assert JsonPath.parse("$.features[-1]", "f").select(record, "f", "r") == 1.5


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("features", "--input-filter 'features': a JSONPath starts with $; allowed: $, $.name,"),
        ("$..features", "--input-filter '$..features': cannot read '..features'; allowed:"),
        ("$[?(@.a)]", "--input-filter '$[?(@.a)]': [?(@.a)] is not in the supported subset; allowed:"),
        ("$[1:", "--input-filter '$[1:': cannot read '[1:'"),
        ("$['a','b'].c", "--input-filter \"$['a','b'].c\": several children may only be selected last"),
    ],
)
def test_filters_outside_the_subset_are_refused(path: str, message: str) -> None:
    with pytest.raises(TransformError) as caught:
        JsonPath.parse(path, "--input-filter")
    assert str(caught.value).startswith(message)


def test_an_index_outside_the_record_names_it() -> None:
    with pytest.raises(TransformError, match=r"--output-filter '\$\[0,9\]' on x.csv record 2: index 9 is outside"):
        JsonPath.parse("$[0,9]", "--output-filter").select(ROW, "--output-filter", "x.csv record 2")


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            {"batch_strategy": "MultiRecord"},
            "--batch-strategy MultiRecord needs --split-type Line (with None the whole object is one record)",
        ),
        ({"split_type": "RecordIO"}, "--split-type 'RecordIO' is not supported; allowed: None, Line"),
        ({"max_payload_mb": 7}, "--max-payload-mb 7 is outside 1-6 (the serving container's request limit)"),
        (
            {"join_source": "Input", "accept": "application/json"},
            "--join-source Input needs --accept text/csv (the joined record keeps the input's format), "
            "not application/json",
        ),
        (
            {"split_type": "Line", "batch_strategy": "MultiRecord", "content_type": "application/json"},
            "--batch-strategy MultiRecord with --content-type application/json: the container reads one JSON "
            "document per request; use SingleRecord, or text/csv",
        ),
        (
            {"assemble_with": "Lines", "join_source": "Both"},
            "--assemble-with 'Lines' is not supported; allowed: None, Line; "
            "--join-source 'Both' is not supported; allowed: None, Input",
        ),
    ],
)
def test_bad_options_are_refused_all_at_once(options: dict[str, object], message: str) -> None:
    with pytest.raises(TransformError) as caught:
        TransformSpec(**options).check()  # type: ignore[arg-type]
    assert str(caught.value) == message


def test_the_command_fails_in_one_line_before_starting_anything(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = lifecycle(
        [
            *("transform", "--model", str(tmp_path), "--input", str(tmp_path), "--output", str(tmp_path / "out")),
            *("--batch-strategy", "MultiRecord", "--input-filter", "$.."),
        ]
    )
    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "transform failed: --batch-strategy MultiRecord needs --split-type Line (with None the whole object is one "
        "record); --input-filter '$..': cannot read '..'; allowed: $, $.name, $['a','b'], $[0,3,5], $[-1], $[1:], "
        "$[1:4], $[0,5:], $.*\n"
    )


# --- Against the serving container -----------------------------------------------------------------


@pytest.fixture(scope="module")
def model_dir(trained: TrainingResult, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract_model(Path(str(trained.model_artifact)), tmp_path_factory.mktemp("model"))


@pytest.fixture(scope="module")
def server(model_dir: Path) -> Iterator[str]:
    with running_server(model_dir, workers=1) as url:
        yield url


@pytest.fixture(scope="module")
def features(channels: Path) -> list[list[str]]:
    lines = (channels / "test" / "part-00000.csv").read_text().splitlines()[1:9]
    return [line.split(",")[1:] for line in lines]  # the label column is the first


def scores(model_dir: Path, rows: list[list[str]]) -> list[str]:
    """What the container answers for each row, as it renders it."""
    booster = xgb.Booster()
    booster.load_model(model_dir / MODEL_FILE)
    return [f"{s:.6f}" for s in booster.inplace_predict(np.array(rows, dtype=np.float32)).tolist()]


def with_ids(rows: list[list[str]]) -> str:
    return "".join(f"id{n}," + ",".join(row) + "\n" for n, row in enumerate(rows))


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


@pytest.mark.integration
def test_documented_csv_example_drops_the_id_joins_and_keeps_id_and_prediction(
    server: str, model_dir: Path, features: list[list[str]], tmp_path: Path
) -> None:
    write(tmp_path / "in", "scores.csv", with_ids(features))
    spec = TransformSpec(
        split_type="Line", input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]", assemble_with="Line"
    )
    (result,) = transform_with(server, str(tmp_path / "in"), str(tmp_path / "out"), spec)
    expected = "".join(f"id{n},{score}\n" for n, score in enumerate(scores(model_dir, features)))
    assert (tmp_path / "out" / "scores.csv.out").read_text() == expected
    assert (result.name, result.records, result.requests) == ("scores.csv", 8, 8)


@pytest.mark.integration
def test_join_without_an_output_filter_appends_the_prediction(
    server: str, model_dir: Path, features: list[list[str]], tmp_path: Path
) -> None:
    source = write(tmp_path, "a.csv", with_ids(features[:2]))
    spec = TransformSpec(split_type="Line", input_filter="$[1:]", join_source="Input", assemble_with="Line")
    transform_with(server, str(source), str(tmp_path / "out"), spec)
    pairs = enumerate(zip(features, scores(model_dir, features), strict=True))
    expected = [f"id{n},{','.join(row)},{score}" for n, (row, score) in pairs]
    assert (tmp_path / "out" / "a.csv.out").read_text().splitlines() == expected[:2]


@pytest.mark.integration
def test_assemble_with_none_concatenates_the_records(
    server: str, model_dir: Path, features: list[list[str]], tmp_path: Path
) -> None:
    source = write(tmp_path, "a.csv", with_ids(features[:3]))
    spec = TransformSpec(split_type="Line", input_filter="$[1:]", join_source="Input", output_filter="$[0,-1]")
    transform_with(server, str(source), str(tmp_path / "out"), spec)
    s = scores(model_dir, features[:3])
    assert (tmp_path / "out" / "a.csv.out").read_text() == f"id0,{s[0]}id1,{s[1]}id2,{s[2]}"


@pytest.mark.integration
def test_split_none_sends_the_whole_object_as_one_record(
    server: str, model_dir: Path, features: list[list[str]], tmp_path: Path
) -> None:
    source = write(tmp_path, "in/batch.csv", "".join(",".join(row) + "\n" for row in features))
    (result,) = transform_with(server, str(source.parent), str(tmp_path / "out"), TransformSpec())
    assert (result.records, result.requests) == (1, 1)
    assert (tmp_path / "out" / "batch.csv.out").read_text() == "".join(s + "\n" for s in scores(model_dir, features))


@pytest.mark.integration
def test_multi_record_packs_records_up_to_the_payload_limit(
    server: str, model_dir: Path, features: list[list[str]], tmp_path: Path
) -> None:
    # Rows of 105,029 bytes (zero-padded values): 9 fit in 1 MB with their newlines, 10 do not.
    padded = [[value.rjust(3500, "0") for value in features[n % len(features)]] for n in range(20)]
    assert {len(",".join(row)) for row in padded} == {30 * 3500 + 29}
    source = write(tmp_path, "big.csv", "".join(",".join(row) + "\n" for row in padded))
    multi = TransformSpec(split_type="Line", batch_strategy="MultiRecord", max_payload_mb=1)
    (result,) = transform_with(server, str(source), str(tmp_path / "multi"), multi)
    assert (result.records, result.requests) == (20, 3)  # 9 + 9 + 2
    single = TransformSpec(split_type="Line", batch_strategy="SingleRecord", assemble_with="Line")
    (result,) = transform_with(server, str(source), str(tmp_path / "single"), single)
    assert (result.records, result.requests) == (20, 20)
    expected = "".join(s + "\n" for s in scores(model_dir, [features[n % len(features)] for n in range(20)]))
    assert (tmp_path / "multi" / "big.csv.out").read_text() == expected
    assert (tmp_path / "single" / "big.csv.out").read_text() == expected


@pytest.mark.integration
def test_a_record_over_the_payload_limit_is_named(server: str, tmp_path: Path) -> None:
    source = write(tmp_path, "in/huge.csv", "1,2\n" + "1" * (1024 * 1024 + 1) + "\n")
    spec = TransformSpec(split_type="Line", max_payload_mb=1)
    with pytest.raises(TransformError) as caught:
        transform_with(server, str(source.parent), str(tmp_path / "out"), spec)
    assert str(caught.value) == "huge.csv: record 2 is 1048577 bytes, over --max-payload-mb 1; raise it (at most 6)"


@pytest.mark.integration
def test_the_containers_refusal_names_the_record(server: str, features: list[list[str]], tmp_path: Path) -> None:
    source = write(tmp_path, "short.csv", ",".join(features[0]) + "\n" + ",".join(features[1][1:]) + "\n")
    with pytest.raises(TransformError) as caught:
        transform_with(server, str(source), str(tmp_path / "out"), TransformSpec(split_type="Line"))
    assert str(caught.value) == "short.csv record 2: the model answered 400: row 1 has 29 values; the model expects 30"


@pytest.mark.integration
def test_documented_json_example_joins_under_sagemaker_output(
    server: str, model_dir: Path, features: list[list[str]], tmp_path: Path
) -> None:
    records = [{"id": n, "features": [float(v) for v in row]} for n, row in enumerate(features[:3])]
    source = write(tmp_path, "in/records.jsonl", "".join(json.dumps(r) + "\n" for r in records))
    spec = TransformSpec(
        content_type="application/json",
        accept="application/json",
        split_type="Line",
        input_filter="$.features",
        join_source="Input",
        output_filter="$['id','SageMakerOutput']",
        assemble_with="Line",
    )
    transform_with(server, str(source.parent), str(tmp_path / "out"), spec)
    lines = [json.loads(line) for line in (tmp_path / "out" / "records.jsonl.out").read_text().splitlines()]
    expected = [float(s) for s in scores(model_dir, features[:3])]
    assert [line["id"] for line in lines] == [0, 1, 2]
    assert [set(line) for line in lines] == [{"id", "SageMakerOutput"}] * 3
    assert [line["SageMakerOutput"]["predictions"][0]["score"] for line in lines] == pytest.approx(expected, abs=1e-6)


@pytest.mark.integration
def test_a_json_record_that_is_not_an_object_is_wrapped(server: str, features: list[list[str]], tmp_path: Path) -> None:
    row = [float(v) for v in features[0]]
    source = write(tmp_path, "row.json", json.dumps(row))
    spec = TransformSpec(content_type="application/json", accept="application/json", join_source="Input")
    transform_with(server, str(source), str(tmp_path / "out"), spec)
    joined = json.loads((tmp_path / "out" / "row.json.out").read_text())
    assert set(joined) == {"SageMakerInput", "SageMakerOutput"} and joined["SageMakerInput"] == row


@pytest.mark.integration
def test_outputs_keep_the_inputs_relative_paths(server: str, features: list[list[str]], tmp_path: Path) -> None:
    for name in ("a.csv", "day=1/b.csv", "day=2/c.csv"):
        write(tmp_path / "in", name, ",".join(features[0]) + "\n")
    results = transform_with(server, str(tmp_path / "in"), str(tmp_path / "out"), TransformSpec())
    assert [r.name for r in results] == ["a.csv", "day=1/b.csv", "day=2/c.csv"]
    assert sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*.out")) == [
        "a.csv.out",
        "day=1/b.csv.out",
        "day=2/c.csv.out",
    ]


# --- S3 through the local AWS, with the command itself ------------------------------------------


@pytest.fixture(scope="module")
def local_aws(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalAws]:
    with moto_server(log_file=tmp_path_factory.mktemp("moto") / "moto.log") as aws:
        yield aws


@pytest.mark.integration
def test_s3_prefix_in_and_out_with_sse_kms(
    local_aws: LocalAws, trained: TrainingResult, model_dir: Path, features: list[list[str]], tmp_path: Path
) -> None:
    env = local_aws.env()
    s3 = client(local_aws, "s3")
    key_arn = client(local_aws, "kms").create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="data")
    s3.put_object(Bucket="data", Key="score/2026-12-02/part-1.csv", Body=with_ids(features[:2]).encode())
    s3.put_object(Bucket="data", Key="score/2026-12-02/part-2.csv", Body=with_ids(features[2:5]).encode())
    s3.put_object(Bucket="data", Key="elsewhere/x.csv", Body=b"not scored")
    command = [sys.executable, "-m", "model_code.lifecycle", "transform", "--model", str(trained.model_artifact)]
    command += ["--input", "s3://data/score/", "--output", "s3://data/scored/", "--endpoint-url", local_aws.endpoint]
    command += ["--kms-key-id", key_arn, "--split-type", "Line", "--batch-strategy", "MultiRecord"]
    command += ["--input-filter", "$[1:]", "--join-source", "Input", "--output-filter", "$[0,-1]"]
    command += ["--assemble-with", "Line"]
    done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "2026-12-02/part-1.csv -> s3://data/scored/2026-12-02/part-1.csv.out (2 records, 1 requests)",
        "2026-12-02/part-2.csv -> s3://data/scored/2026-12-02/part-2.csv.out (3 records, 1 requests)",
    ]
    listed = s3.list_objects_v2(Bucket="data", Prefix="scored/")["Contents"]
    assert [item["Key"] for item in listed] == ["scored/2026-12-02/part-1.csv.out", "scored/2026-12-02/part-2.csv.out"]
    s = scores(model_dir, features[:5])
    second = s3.get_object(Bucket="data", Key="scored/2026-12-02/part-2.csv.out")
    assert second["Body"].read().decode() == f"id0,{s[2]}\nid1,{s[3]}\nid2,{s[4]}\n"
    assert (second["ServerSideEncryption"], second["SSEKMSKeyId"]) == ("aws:kms", key_arn)


@pytest.mark.integration
def test_an_s3_prefix_without_objects_is_a_clear_error(local_aws: LocalAws, model_dir: Path) -> None:
    client(local_aws, "s3").create_bucket(Bucket="empty")
    command = [sys.executable, "-m", "model_code.lifecycle", "transform", "--model", str(model_dir)]
    command += ["--input", "s3://empty/nothing/", "--output", "s3://empty/out/", "--endpoint-url", local_aws.endpoint]
    done = subprocess.run(command, env=local_aws.env(), cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stderr) == (
        2,
        "transform failed: --input s3://empty/nothing/: no object under that prefix\n",
    )
