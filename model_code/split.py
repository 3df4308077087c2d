"""Splits a raw dataset into the train / validation / test channels, streaming in bounded memory.

Rows are copied byte for byte (no parsing into floats), in blocks of a few MB, with numpy doing the
per-row work: finding line ends and field separators, checking every row's width, reading the
label for stratification, and gathering each channel's bytes. Memory stays flat whatever the
input size. The split is deterministic for a seed; with `stratify`, every label keeps the
requested fractions exactly (to within one row per label and channel).

Runs locally (`python -m model_code.lifecycle split`) and as a SageMaker Processing job entry point
(`python -m model_code.split`): inputs under /opt/ml/processing/input, channels written to
/opt/ml/processing/output/<channel>/; with several instances each takes its share of the files.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import zlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

import numpy as np

from model_code.contract import CHANNELS, LABEL_COLUMN

BLOCK_BYTES = 8 * 1024 * 1024
NEWLINE, COMMA = ord("\n"), ord(",")
SKIPPED = 255  # channel id of blank lines


class SplitError(ValueError):
    """The input cannot be split; the message names the file, the line and what is wrong."""


@dataclass(frozen=True)
class SplitSpec:
    fractions: tuple[float, ...] = (0.7, 0.15, 0.15)
    seed: int = 42
    stratify: bool = False
    label: str = LABEL_COLUMN

    def __post_init__(self) -> None:
        if len(self.fractions) != len(CHANNELS):
            raise SplitError(f"fractions: {len(self.fractions)} given; one per channel {CHANNELS} is needed")
        if any(f < 0 for f in self.fractions) or not np.isclose(sum(self.fractions), 1.0):
            raise SplitError(f"fractions: {self.fractions} must be non-negative and sum to 1")


@dataclass
class SplitReport:
    rows: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CHANNELS, 0))
    labels: dict[str, dict[str, int]] = field(default_factory=lambda: {c: {} for c in CHANNELS})
    bytes_read: int = 0

    def merge(self, other: SplitReport) -> None:
        self.bytes_read += other.bytes_read
        for channel in CHANNELS:
            self.rows[channel] += other.rows[channel]
            for label, count in other.labels[channel].items():
                self.labels[channel][label] = self.labels[channel].get(label, 0) + count


def split_file(
    source: Path,
    out_dir: Path,
    spec: SplitSpec,
    *,
    part: str = "part-00000",
    progress: Callable[[int], object] | None = None,
) -> SplitReport:
    """Split one CSV or Parquet file into out_dir/<channel>/<part>.csv."""
    if not source.is_file():
        raise SplitError(f"{source}: no such file")
    if source.stat().st_size == 0:
        raise SplitError(f"{source}: the file is empty")
    chunks = _parquet_as_csv(source) if source.suffix == ".parquet" else _file_blocks(source)
    seed = spec.seed ^ zlib.crc32(source.name.encode())  # shards differ, reruns do not
    splitter = _Splitter(source.name, out_dir, spec, seed, part)
    try:
        for chunk in chunks:
            splitter.feed(chunk)
            if progress:
                progress(len(chunk))
        splitter.finish()
    finally:
        splitter.close()
    return splitter.report


def split_files(
    sources: list[Path],
    out_dir: Path,
    spec: SplitSpec,
    *,
    host_index: int = 0,
    host_count: int = 1,
    progress: Callable[[int], object] | None = None,
) -> SplitReport:
    """Split this host's share of `sources` (every host_count-th file, from host_index)."""
    total = SplitReport()
    mine = sorted(sources)[host_index::host_count]
    for number, source in enumerate(mine):
        part = f"part-{host_index:03d}-{number:05d}"
        total.merge(split_file(source, out_dir, spec, part=part, progress=progress))
    return total


class _Splitter:
    def __init__(self, name: str, out_dir: Path, spec: SplitSpec, seed: int, part: str) -> None:
        self.name, self.spec = name, spec
        self.rng = np.random.default_rng(seed)
        self.cumulative = np.cumsum(spec.fractions)[:-1]
        self.carry = b""
        self.header: bytes | None = None
        self.line_number = 1  # of the first line in the next block (1 = the header)
        self.report = SplitReport()
        # Per label: rows seen so far and rows given to each channel (for exact stratification).
        self.seen: dict[bytes, int] = {}
        self.given: dict[bytes, np.ndarray] = {}
        for channel in CHANNELS:
            (out_dir / channel).mkdir(parents=True, exist_ok=True)
        self.outputs = [(out_dir / c / f"{part}.csv").open("wb") for c in CHANNELS]

    def feed(self, chunk: bytes) -> None:
        self.report.bytes_read += len(chunk)
        last = chunk.rfind(b"\n")
        if last < 0:
            self.carry += chunk
            return
        first = chunk.find(b"\n")
        # The line that straddles the previous block is processed on its own, so the bulk of the
        # block is handed to numpy as a view, without concatenating copies of it.
        self._lines(self.carry + chunk[: first + 1])
        if last > first:
            self._lines(chunk, first + 1, last + 1)
        self.carry = chunk[last + 1 :]

    def finish(self) -> None:
        if self.carry.strip():
            self._lines(self.carry + b"\n")
        self.carry = b""
        if self.header is None:
            raise SplitError(f"{self.name}: no header line")
        if sum(self.report.rows.values()) == 0:
            raise SplitError(f"{self.name}: the file has a header but no rows")

    def close(self) -> None:
        for output in self.outputs:
            output.close()

    def _lines(self, data: bytes, start: int = 0, end: int | None = None) -> None:
        """Process the complete lines data[start:end] (which ends with a newline)."""
        end = len(data) if end is None else end
        if self.header is None:
            first = data.index(b"\n", start) + 1
            self._read_header(data[start:first])
            self.line_number += 1
            start = first
            if start == end:
                return
        if data.find(b'"', start, end) >= 0:  # memchr: far cheaper than a numpy pass
            raise SplitError(f"{self.name}: quoted fields are not supported (numeric CSV expected)")
        buffer = np.frombuffer(data, dtype=np.uint8, count=end - start, offset=start)
        ends = np.flatnonzero(buffer == NEWLINE)
        starts = np.empty_like(ends)
        starts[0], starts[1:] = 0, ends[:-1] + 1
        lengths = ends - starts  # without the newline
        commas = np.flatnonzero(buffer == COMMA)
        first_comma = np.searchsorted(commas, starts)
        widths = np.searchsorted(commas, ends) - first_comma + 1
        blank = (lengths == 0) | ((lengths == 1) & (buffer[np.maximum(ends - 1, 0)] == ord("\r")))
        self._check(buffer, widths, blank)

        channel = np.full(len(ends), SKIPPED, dtype=np.uint8)
        rows = ~blank
        if self.spec.stratify:
            keys = self._label_keys(buffer, starts, ends, commas, first_comma)
            self._assign_stratified(channel, keys, rows)
        else:
            channel[rows] = np.searchsorted(self.cumulative, self.rng.random(int(rows.sum())), side="right")
        # Consecutive lines of one channel form a run; each run is one slice of the block.
        change = np.flatnonzero(channel[1:] != channel[:-1]) + 1
        run_first = np.concatenate(([0], change))
        run_end = np.concatenate((ends[change - 1], ends[-1:])) + 1 + start
        run_start = starts[run_first] + start
        run_channel = channel[run_first]
        view = memoryview(data)
        for index, output in enumerate(self.outputs):
            mine = run_channel == index
            # Equal lengths by construction; AWS's processing images run Pythons older than zip(strict=).
            spans = zip(run_start[mine].tolist(), run_end[mine].tolist())  # noqa: B905
            output.write(b"".join([view[a:b] for a, b in spans]))
            self.report.rows[CHANNELS[index]] += int(np.count_nonzero(channel == index))
        self.line_number += len(ends)

    def _read_header(self, line: bytes) -> None:
        text = line.decode("utf-8-sig", errors="replace").rstrip("\r\n")
        columns = [c.strip().strip('"') for c in text.split(",")]  # header names may be quoted
        if self.spec.label not in columns:
            raise SplitError(f"{self.name}: label column {self.spec.label!r} is not in the header {columns[:12]}")
        self.columns = columns
        self.label_index = columns.index(self.spec.label)
        self.header = line
        for output in self.outputs:
            output.write(line if line.endswith(b"\n") else line + b"\n")

    def _check(self, buffer: np.ndarray, widths: np.ndarray, blank: np.ndarray) -> None:
        wrong = np.flatnonzero((widths != len(self.columns)) & ~blank)
        if len(wrong):
            line = self.line_number + int(wrong[0])
            raise SplitError(
                f"{self.name}: line {line} has {int(widths[wrong[0]])} fields; the header has {len(self.columns)}"
            )

    def _label_keys(
        self, buffer: np.ndarray, starts: np.ndarray, ends: np.ndarray, commas: np.ndarray, first_comma: np.ndarray
    ) -> np.ndarray:
        """Up to 7 bytes of each row's label plus its length, packed into one integer per row."""
        i = self.label_index
        begin = starts if i == 0 else commas[np.minimum(first_comma + i - 1, len(commas) - 1)] + 1
        finish = ends if i == len(self.columns) - 1 else commas[np.minimum(first_comma + i, len(commas) - 1)]
        length = np.clip(finish - begin, 0, 255).astype(np.uint64)
        keys = length.copy()
        for k in range(min(7, int(length.max(initial=0)))):  # only as many bytes as the longest label
            inside = begin + k < finish
            byte = buffer[np.where(inside, begin + k, 0)].astype(np.uint64)
            keys |= np.where(inside, byte, 0) << np.uint64(8 * (k + 1))
        return keys

    def _assign_stratified(self, channel: np.ndarray, keys: np.ndarray, rows: np.ndarray) -> None:
        fractions = np.asarray(self.spec.fractions)
        labels, inverse = np.unique(keys[rows], return_inverse=True)
        row_index = np.flatnonzero(rows)
        for number, key in enumerate(labels.tolist()):
            members = row_index[inverse == number]
            label = _key_to_label(key)
            seen = self.seen.get(label, 0) + len(members)
            given = self.given.get(label, np.zeros(len(fractions), dtype=np.int64))
            # Largest-remainder quotas for everything seen so far, minus what was already given.
            target = _quotas(fractions, seen)
            quota = np.maximum(target - given, 0)
            while quota.sum() > len(members):
                quota[np.argmax(quota)] -= 1
            while quota.sum() < len(members):
                quota[np.argmax(fractions * seen - given - quota)] += 1
            pattern = np.repeat(np.arange(len(fractions), dtype=np.uint8), quota)
            channel[members] = self.rng.permutation(pattern)
            self.seen[label], self.given[label] = seen, given + quota
            text = label.decode(errors="replace")
            for index, count in enumerate(quota.tolist()):
                counts = self.report.labels[CHANNELS[index]]
                counts[text] = counts.get(text, 0) + count


def _quotas(fractions: np.ndarray, total: int) -> np.ndarray:
    exact = fractions * total
    quota = np.floor(exact).astype(np.int64)
    for index in np.argsort(-(exact - quota), kind="stable")[: total - int(quota.sum())]:
        quota[index] += 1
    return quota


def _key_to_label(key: int) -> bytes:
    length = key & 0xFF
    return bytes((key >> (8 * (k + 1))) & 0xFF for k in range(min(length, 7)))


def _file_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from _blocks(handle)


def _blocks(handle: BinaryIO) -> Iterator[bytes]:
    while block := handle.read(BLOCK_BYTES):
        yield block


def _parquet_as_csv(path: Path) -> Iterator[bytes]:
    """Parquet row groups re-encoded as CSV batches, so both formats share one splitter."""
    import io

    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    reader = pq.ParquetFile(path)
    for number, batch in enumerate(reader.iter_batches(batch_size=65536)):
        out = io.BytesIO()
        options = pacsv.WriteOptions(include_header=number == 0, quoting_style="none")
        pacsv.write_csv(batch, out, write_options=options)
        yield out.getvalue()


# --- SageMaker Processing job entry point -------------------------------------------------


def processing_main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Split raw data into channels (SageMaker Processing).")
    parser.add_argument("--fractions", default="0.7,0.15,0.15")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--stratify", action="store_true")
    parser.add_argument("--label", default=LABEL_COLUMN)
    args = parser.parse_args(argv)
    base = Path(os.environ.get("SM_PROCESSING_BASE_DIR", "/opt/ml/processing"))
    hosts, current = _processing_hosts(Path(os.environ.get("SM_RESOURCE_CONFIG", "/opt/ml/config/resourceconfig.json")))
    sources = sorted(p for p in (base / "input").rglob("*") if p.suffix in (".csv", ".parquet"))
    try:
        if not sources:
            raise SplitError(f"{base / 'input'}: no .csv or .parquet files")
        spec = SplitSpec(tuple(float(f) for f in args.fractions.split(",")), args.seed, args.stratify, args.label)
        report = split_files(sources, base / "output", spec, host_index=hosts.index(current), host_count=len(hosts))
    except SplitError as err:
        print(f"split failed: {err}", file=sys.stderr)
        return 2
    print(json.dumps({"host": current, "rows": report.rows, "labels": report.labels}))
    return 0


def _processing_hosts(config: Path) -> tuple[list[str], str]:
    if not config.is_file():
        return ["algo-1"], "algo-1"
    resource = json.loads(config.read_text())
    return sorted(resource["hosts"]), resource["current_host"]


if __name__ == "__main__":
    sys.exit(processing_main())
