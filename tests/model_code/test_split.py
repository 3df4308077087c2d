"""The channel split: deterministic, exact when stratified, byte-preserving, strict about bad input."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from model_code.contract import CHANNELS
from model_code.data import write_synthetic_dataset
from model_code.split import SplitError, SplitSpec, processing_main, split_file


@pytest.fixture(scope="module")
def raw(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("raw") / "raw.csv"
    write_synthetic_dataset(path, rows=20_000, features=5, seed=3, chunk_rows=3_000)
    return path


def channel_lines(out: Path) -> dict[str, list[str]]:
    return {c: (out / c / "part-00000.csv").read_text().splitlines() for c in CHANNELS}


def test_every_row_lands_in_exactly_one_channel_with_the_header(raw: Path, tmp_path: Path) -> None:
    report = split_file(raw, tmp_path, SplitSpec(fractions=(0.6, 0.2, 0.2), seed=1))
    header, *rows = raw.read_text().splitlines()
    lines = channel_lines(tmp_path)
    assert all(lines[c][0] == header for c in CHANNELS)
    assert Counter(r for c in CHANNELS for r in lines[c][1:]) == Counter(rows)
    assert report.rows == {c: len(lines[c]) - 1 for c in CHANNELS}
    assert report.rows["train"] == pytest.approx(12_000, rel=0.03)
    assert report.bytes_read == raw.stat().st_size


def test_same_seed_same_split_other_seed_other_split(raw: Path, tmp_path: Path) -> None:
    split_file(raw, tmp_path / "a", SplitSpec(seed=7))
    split_file(raw, tmp_path / "b", SplitSpec(seed=7))
    split_file(raw, tmp_path / "c", SplitSpec(seed=8))
    assert channel_lines(tmp_path / "a") == channel_lines(tmp_path / "b")
    assert channel_lines(tmp_path / "a") != channel_lines(tmp_path / "c")


def test_stratified_split_keeps_every_label_at_the_fractions(raw: Path, tmp_path: Path) -> None:
    report = split_file(raw, tmp_path, SplitSpec(fractions=(0.7, 0.2, 0.1), stratify=True))
    labels = Counter(line.split(",")[0] for line in raw.read_text().splitlines()[1:])
    for label, total in labels.items():
        for channel, fraction in zip(CHANNELS, (0.7, 0.2, 0.1), strict=True):
            assert abs(report.labels[channel][label] - fraction * total) <= 1, (label, channel)
    lines = channel_lines(tmp_path)
    assert Counter(r.split(",")[0] for r in lines["test"][1:]) == Counter(report.labels["test"])


def test_label_in_another_column_and_crlf_and_no_final_newline(tmp_path: Path) -> None:
    rows = [f"{i},{i % 3},x{i}" for i in range(30)]
    (tmp_path / "raw.csv").write_bytes(("a,label,b\r\n" + "\r\n".join(rows)).encode())
    report = split_file(tmp_path / "raw.csv", tmp_path / "out", SplitSpec(stratify=True))
    assert sum(report.rows.values()) == 30
    assert sum(report.labels["train"].values()) == 21
    assert set(report.labels["train"]) == {"0", "1", "2"}


def test_parquet_input(raw: Path, tmp_path: Path) -> None:
    pq.write_table(pacsv.read_csv(raw), tmp_path / "raw.parquet", row_group_size=4_000)
    report = split_file(tmp_path / "raw.parquet", tmp_path / "out", SplitSpec(stratify=True))
    assert sum(report.rows.values()) == 20_000


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "the file is empty"),
        ("label,a,b\n", "the file has a header but no rows"),
        ("a,b\n1,2\n", "label column 'label' is not in the header ['a', 'b']"),
        ("label,a,b\n1,2,3\n0,1\n1,2,3\n", "line 3 has 2 fields; the header has 3"),
        ('label,a\n1,"2"\n', "quoted fields are not supported"),
    ],
)
def test_bad_input_is_named(tmp_path: Path, content: str, message: str) -> None:
    (tmp_path / "raw.csv").write_text(content)
    with pytest.raises(SplitError) as caught:
        split_file(tmp_path / "raw.csv", tmp_path / "out", SplitSpec())
    assert message in str(caught.value)


def test_bad_fractions_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SplitError, match=r"must be non-negative and sum to 1"):
        SplitSpec(fractions=(0.5, 0.2, 0.2))
    with pytest.raises(SplitError, match="one per channel"):
        SplitSpec(fractions=(0.5, 0.5))
    with pytest.raises(SplitError, match="no such file"):
        split_file(tmp_path / "missing.csv", tmp_path, SplitSpec())


def test_processing_job_hosts_share_the_files(raw: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base = tmp_path / "processing"
    for number in range(4):
        (base / "input" / "raw").mkdir(parents=True, exist_ok=True)
        (base / "input" / "raw" / f"part-{number}.csv").write_bytes(raw.read_bytes())
    monkeypatch.setenv("SM_PROCESSING_BASE_DIR", str(base))
    rows = 0
    for host in ("algo-1", "algo-2"):
        config = tmp_path / f"{host}.json"
        config.write_text(json.dumps({"hosts": ["algo-1", "algo-2"], "current_host": host}))
        monkeypatch.setenv("SM_RESOURCE_CONFIG", str(config))
        assert processing_main(["--stratify"]) == 0
    outputs = sorted(p.name for p in (base / "output" / "train").iterdir())
    assert outputs == ["part-000-00000.csv", "part-000-00001.csv", "part-001-00000.csv", "part-001-00001.csv"]
    for channel in CHANNELS:
        rows += sum(len(p.read_text().splitlines()) - 1 for p in (base / "output" / channel).iterdir())
    assert rows == 4 * 20_000
