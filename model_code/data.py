"""Sample data: the breast cancer dataset shipped inside scikit-learn, and a seeded synthetic
generator that writes CSV files of any size in bounded memory."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np

from model_code.contract import LABEL_COLUMN


def write_sample_dataset(path: Path) -> int:
    """Write scikit-learn's breast cancer data (569 rows, 30 features) as CSV; returns rows."""
    from sklearn.datasets import load_breast_cancer

    data = load_breast_cancer()
    names = [n.replace(" ", "_") for n in data.feature_names]
    # In the original data 1 means benign; the model predicts malignancy, the rarer class.
    labels = 1 - data.target
    _write_csv(path, names, data.data, labels)
    return len(labels)


def write_synthetic_dataset(
    path: Path,
    *,
    rows: int,
    features: int = 30,
    seed: int = 0,
    chunk_rows: int = 100_000,
    progress: Callable[[int], object] | None = None,
) -> int:
    """Write `rows` rows of a seeded, learnable binary problem in chunks; returns bytes written."""
    rng = np.random.default_rng(seed)
    weights = rng.normal(size=features)
    names = [f"f{i}" for i in range(features)]
    path.parent.mkdir(parents=True, exist_ok=True)
    written = 0
    with path.open("wb") as out:
        written += out.write((",".join([LABEL_COLUMN, *names]) + "\n").encode())
        for start in range(0, rows, chunk_rows):
            n = min(chunk_rows, rows - start)
            x = rng.normal(size=(n, features)).astype(np.float32)
            logits = x @ weights + rng.normal(scale=0.5, size=n)
            y = (logits > 0).astype(np.int8)
            block = _csv_block(x, y)
            written += out.write(block)
            if progress:
                progress(len(block))
    return written


def _write_csv(path: Path, names: list[str], x: np.ndarray, y: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as out:
        out.write((",".join([LABEL_COLUMN, *names]) + "\n").encode())
        out.write(_csv_block(x, y))


def _csv_block(x: np.ndarray, y: np.ndarray) -> bytes:
    """Rows as CSV without the header, formatted by Arrow's C++ writer (fast for large files)."""
    import io

    import pyarrow as pa
    import pyarrow.csv as pacsv

    columns = [pa.array(y.astype(np.int8))] + [pa.array(np.round(x[:, i], 5)) for i in range(x.shape[1])]
    table = pa.Table.from_arrays(columns, names=[str(i) for i in range(len(columns))])
    out = io.BytesIO()
    pacsv.write_csv(table, out, write_options=pacsv.WriteOptions(include_header=False, quoting_style="none"))
    return out.getvalue()
