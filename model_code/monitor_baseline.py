"""The monitor's streaming statistics (Columns) and its `baseline` command: statistics.json and
constraints.json of a CSV channel in Model Monitor's formats, in bounded memory. See model_code/monitor.py.
Python 3.8+, standard library and numpy only.
"""

from __future__ import annotations

import json
import sys
import warnings
from bisect import bisect_right
from collections.abc import Sequence
from itertools import repeat
from pathlib import Path
from typing import Any

import numpy as np

from model_code import monitor_formats as fmt
from model_code.contract import LABEL_COLUMN
from model_code.monitor_formats import MonitorError

CHUNK_ROWS = 16384  # rows parsed per numpy call: a few MB whatever the input size
MAX_WRONG_WIDTH = 0.5  # above this share of rows with the wrong column count, the input is refused


class Origins:
    """The (file, line) of each row of a chunk, kept as one line-number sequence per file segment
    (rows only need it for messages, so nothing is built per row)."""

    def __init__(self) -> None:
        self.starts: list[int] = []
        self.segments: list[tuple[Path, Sequence[int]]] = []
        self.size = 0

    def add(self, path: Path, lines: Sequence[int]) -> None:
        if len(lines):
            self.starts.append(self.size)
            self.segments.append((path, lines))
            self.size += len(lines)

    def __getitem__(self, row: int) -> tuple[Path, int]:
        k = bisect_right(self.starts, row) - 1
        path, lines = self.segments[k]
        return path, lines[row - self.starts[k]]


class Columns:
    """Running per-feature statistics over chunks of rows (numeric: vectorized over all columns)."""

    def __init__(self, width: int, strings: set[int], edges: list[np.ndarray | None]) -> None:
        self.width, self.strings, self.edges = width, strings, edges
        self.rows = 0
        self.present = np.zeros(width, dtype=np.int64)
        self.bad = np.zeros(width, dtype=np.int64)  # present but not a number
        self.fractional = np.zeros(width, dtype=np.int64)  # numbers that are not whole
        self.mean, self.m2 = np.zeros(width), np.zeros(width)
        self.low, self.high = np.full(width, np.nan), np.full(width, np.nan)
        self.hist = [np.zeros(len(e) + 1, dtype=np.int64) if e is not None else None for e in edges]
        self.values: dict[int, dict[str, int]] = {j: {} for j in strings}
        self.overflow: set[int] = set()
        self.sample, self.stride = np.empty((0, width)), 1
        self.wrong: dict[str, Any] = {"short": 0, "long": 0, "first_short": None, "first_long": None}

    def add(self, rows: list[str], origins: Origins) -> None:
        matrix, bad, texts = self._parse(rows, origins)
        m = len(matrix)
        mask = ~np.isnan(matrix)
        present = mask.sum(axis=0)
        self.bad += bad
        if m:
            complete = bool(mask.all())  # the common case: no masking needed
            sums = (matrix if complete else np.where(mask, matrix, 0.0)).sum(axis=0)
            mean = sums / np.maximum(present, 1)
            deviations = matrix - mean if complete else np.where(mask, matrix - mean, 0.0)
            m2 = (deviations**2).sum(axis=0)
            # Chan et al.'s pairwise update: stable means and variances over any number of chunks.
            total = np.maximum(self.present + present, 1)
            delta = mean - self.mean
            self.mean = self.mean + delta * present / total
            self.m2 = self.m2 + m2 + delta**2 * self.present * present / total
            self.present += present
            self.low = np.fmin(self.low, np.fmin.reduce(matrix, axis=0))
            self.high = np.fmax(self.high, np.fmax.reduce(matrix, axis=0))
            self.fractional += (mask & (matrix != np.floor(matrix))).sum(axis=0)
            for j, edges in enumerate(self.edges):
                if edges is not None:
                    self.hist[j] += _bucket_counts(edges, matrix[:, j] if complete else matrix[mask[:, j], j])
            self._keep_sample(matrix)
        for j, column in texts.items():
            self._count_values(j, column)
        self.rows += m

    def _parse(self, rows: list[str], origins: Origins) -> tuple[np.ndarray, np.ndarray, dict[int, list[str]]]:
        width = self.width
        if rows and not self.strings:
            # numpy's C reader (numpy >= 1.23; older ones parse in Python, just slower): refuses
            # empty fields, text and ragged rows, which then take the careful path.
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                try:
                    matrix = np.loadtxt(rows, delimiter=",", dtype=float, ndmin=2, comments=None)
                except ValueError:
                    matrix = np.empty((0, 0))
            if matrix.shape == (len(rows), width):
                return matrix, np.zeros(width, dtype=np.int64), {}
        commas = list(map(str.count, rows, repeat(",")))
        # The careful path, for chunks with missing values, text, wrong widths or String features.
        kept = []
        for i, (row, count) in enumerate(zip(rows, commas)):  # noqa: B905 (Python 3.8)
            if count == width - 1:
                kept.append(row.split(","))
                continue
            kind = "short" if count < width - 1 else "long"
            self.wrong[kind] += 1
            if self.wrong["first_" + kind] is None:
                self.wrong["first_" + kind] = (origins[i], count + 1)
        matrix = np.full((len(kept), width), np.nan)
        bad = np.zeros(width, dtype=np.int64)
        texts: dict[int, list[str]] = {j: [] for j in self.strings}
        for i, fields in enumerate(kept):
            for j, text in enumerate(fields):
                text = text.strip()
                if not text:
                    continue  # missing
                if j in texts:
                    texts[j].append(text)
                try:
                    matrix[i, j] = float(text)
                except ValueError:
                    bad[j] += 1
        return matrix, bad, texts

    def _keep_sample(self, matrix: np.ndarray) -> None:
        """Every stride-th row; at 2k rows every other one is dropped and the stride doubles."""
        start = (-self.rows) % self.stride
        self.sample = np.concatenate([self.sample, matrix[start :: self.stride]])
        limit = int(fmt.KLL_PARAMETERS["k"])
        while len(self.sample) > 2 * limit:
            self.sample, self.stride = self.sample[::2], self.stride * 2

    def _count_values(self, j: int, column: list[str]) -> None:
        counts = self.values[j]
        for value in column:
            if value in counts:
                counts[value] += 1
            elif len(counts) < fmt.MAX_CATEGORIES:
                counts[value] = 1
            else:
                self.overflow.add(j)

    def missing(self) -> np.ndarray:
        return self.rows - self.present - self.bad

    def feature_statistics(self, j: int, name: str, kind: str) -> dict[str, Any]:
        entry: dict[str, Any] = {"name": name, "inferred_type": kind}
        missing = int(self.missing()[j])
        if kind == fmt.STRING:
            entry["string_statistics"] = fmt.string_statistics(
                present=self.rows - missing, missing=missing, values=self.values.get(j, {}), overflow=j in self.overflow
            )
            return entry
        if kind == fmt.UNKNOWN:
            entry["string_statistics"] = fmt.string_statistics(present=0, missing=missing, values={}, overflow=False)
            return entry
        present = int(self.present[j])
        edges, counts = self._buckets(j)
        entry["numerical_statistics"] = fmt.numeric_statistics(
            present=present,
            missing=missing,
            total=float(self.mean[j] * present),
            mean=float(self.mean[j]),
            std=float(np.sqrt(self.m2[j] / present)) if present else 0.0,
            low=float(self.low[j]),
            high=float(self.high[j]),
            edges=edges,
            counts=counts,
            sample=self.sample[:, j][~np.isnan(self.sample[:, j])],
        )
        return entry

    def _buckets(self, j: int) -> tuple[np.ndarray, np.ndarray]:
        """The KLL buckets: the baseline's edges, widened to this data's range (under/overflow merged)."""
        hist, edges = self.hist[j], self.edges[j]
        if hist is None or edges is None:
            return np.empty(0), np.empty(0)
        counts = hist[1:-1].copy()
        counts[0] += hist[0]
        counts[-1] += hist[-1]
        edges = edges.copy()
        if self.present[j]:
            edges[0], edges[-1] = min(edges[0], self.low[j]), max(edges[-1], self.high[j])
        return edges, counts


def _bucket_counts(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Counts below the first edge, in each bucket [e_i, e_i+1) (the last one closed), above the last."""
    index = np.searchsorted(edges, values, side="right")
    index[values == edges[-1]] = len(edges) - 1
    return np.bincount(index, minlength=len(edges) + 1)


# ---- baseline -------------------------------------------------------------------------------------


def input_files(path: Path, pattern: str, *, required: bool = True) -> list[Path]:
    """The file, or the folder's files matching `pattern` (recursively, in name order)."""
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise MonitorError(f"{path}: no such file or folder")
    files = sorted(p for p in path.rglob(pattern) if p.is_file())
    if not files and required:
        raise MonitorError(f"{path}: no {pattern} files")
    return files


def _csv_chunks(files: list[Path], label: str) -> Any:
    """(rows without the label, their origins) in chunks of CHUNK_ROWS."""
    header: list[str] | None = None
    for path in files:
        with path.open(encoding="utf-8") as handle:
            names = handle.readline().strip().split(",")
            if header is None:
                header = names
            elif names != header:
                raise MonitorError(f"{path}:1: header differs from {files[0]}'s")
            skip = names.index(label) if label in names else -1
            rows: list[str] = []
            numbers: list[int] = []
            for number, line in enumerate(handle, 2):
                line = line.rstrip("\r\n")
                if not line:
                    continue
                if skip >= 0:
                    fields = line.split(",")
                    line = ",".join(fields[:skip] + fields[skip + 1 :])
                rows.append(line)
                numbers.append(number)
                if len(rows) == CHUNK_ROWS:
                    yield rows, _origins(path, numbers)
                    rows, numbers = [], []
            if rows:
                yield rows, _origins(path, numbers)


def _origins(path: Path, lines: Sequence[int]) -> Origins:
    origins = Origins()
    origins.add(path, lines)
    return origins


def baseline(input_path: Path, output: Path, label: str = LABEL_COLUMN) -> dict[str, Any]:
    files = input_files(input_path, "*.csv")
    with files[0].open(encoding="utf-8") as handle:
        names = [n for n in handle.readline().strip().split(",") if n and n != label]
    if not names:
        raise MonitorError(f"{files[0]}:1: no feature columns in the header")
    width = len(names)
    first = _scan(files, label, Columns(width, set(), [None] * width))
    kinds = []
    for j in range(width):
        if first.bad[j]:
            kinds.append(fmt.STRING)
        elif not first.present[j]:
            kinds.append(fmt.UNKNOWN)
        else:
            kinds.append(fmt.FRACTIONAL if first.fractional[j] else fmt.INTEGRAL)
    edges: list[np.ndarray | None] = [
        np.linspace(first.low[j], first.high[j], fmt.BUCKETS + 1) if kinds[j] in fmt.NUMERIC_TYPES else None
        for j in range(width)
    ]
    strings = {j for j in range(width) if kinds[j] == fmt.STRING}
    second = _scan(files, label, Columns(width, strings, edges))
    features = [second.feature_statistics(j, names[j], kinds[j]) for j in range(width)]
    statistics = {"version": 0.0, "dataset": {"item_count": second.rows}, "features": features}
    constraints = {
        "version": 0.0,
        "features": [fmt.feature_constraint(names[j], kinds[j], features[j]) for j in range(width)],
        "monitoring_config": fmt.DEFAULT_MONITORING_CONFIG,
    }
    write_json(output / fmt.STATISTICS_FILE, statistics, indent=None)
    write_json(output / fmt.CONSTRAINTS_FILE, constraints)
    print(f"baseline of {second.rows} rows x {width} features -> {output}", file=sys.stderr)
    return statistics


def _scan(files: list[Path], label: str, columns: Columns) -> Columns:
    for rows, origins in _csv_chunks(files, label):
        columns.add(rows, origins)
        refuse_wrong_widths(columns, strict=True)
    return columns


def refuse_wrong_widths(columns: Columns, *, strict: bool) -> None:
    wrong = columns.wrong["short"] + columns.wrong["long"]
    seen = columns.rows + wrong
    if wrong and (strict or wrong > MAX_WRONG_WIDTH * seen):
        (path, line), count = columns.wrong["first_short"] or columns.wrong["first_long"]
        share = "" if strict else f"; {wrong} of {seen} rows have the wrong width"
        raise MonitorError(f"{path}:{line}: {count} columns where the baseline has {columns.width}{share}")


def write_json(path: Path, document: dict[str, Any], *, indent: int | None = 2) -> None:
    """Statistics go without indentation: json's C encoder then writes the sketches 10x faster."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(document, indent=indent) + "\n", encoding="utf-8")
