"""SageMaker batch transform, locally: score a local folder or an S3 prefix with the serving container.

Each input object becomes `<name>.out` under the output (a folder or an S3 prefix; with a KMS key
the objects are written with SSE-KMS), keeping its path relative to the input prefix, as
SageMaker does. Records go over HTTP to the real serving container (model_code.serve), and the
TransformInput / TransformOutput / DataProcessing options behave as SageMaker documents them:

- SplitType None: the whole object is one record; Line: each non-empty line is one.
- BatchStrategy SingleRecord: one record per request; MultiRecord: as many records as fit in
  MaxPayloadInMB, joined with newlines (needs SplitType Line, and CSV: the container reads one
  JSON document per request).
- AssembleWith None: the outputs are concatenated as they are; Line: each ends with a newline.
- InputFilter (before a record is sent), JoinSource Input (the input record joined with its
  prediction: CSV columns appended; a JSON object gets a `SageMakerOutput` key, anything else is
  wrapped as {"SageMakerInput": ..., "SageMakerOutput": ...}) and OutputFilter (on the joined
  record) in SageMaker's JSONPath subset: `$`, `.name`, `['a','b']`, `[0,3,5]`, negative indexes,
  slices `[1:]`, `[:4]`, `[1:4]` (end excluded) and mixtures such as `[0,5:]`, `*`. A CSV row is
  filtered as the array of its values.

Bad options, a filter outside that subset, a record over the payload limit or an answer the job
cannot join raise TransformError with one line naming the flag or the object and record.
"""

from __future__ import annotations

import csv
import http.client
import io
import json
import re
import tempfile
import urllib.parse
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from model_code.contract import CSV, JSON, MAX_PAYLOAD_BYTES

SPLIT_TYPES = ("None", "Line")
BATCH_STRATEGIES = ("SingleRecord", "MultiRecord")
ASSEMBLE_WITH = ("None", "Line")
JOIN_SOURCES = ("None", "Input")
MAX_PAYLOAD_MB = MAX_PAYLOAD_BYTES // (1024 * 1024)  # the serving container's limit (SageMaker's real-time one)


class TransformError(Exception):
    """A problem with the options or the data, in one line."""


# --- SageMaker's JSONPath subset -------------------------------------------------------------------

_NAME = re.compile(r"\.([A-Za-z_][A-Za-z0-9_\-]*|\*)")
_BRACKET = re.compile(r"\[([^\]]*)\]")
_INDEX = re.compile(r"^-?\d+$")
_SLICE = re.compile(r"^(-?\d+)?:(-?\d+)?$")
_QUOTED = re.compile(r"^'([^']*)'$|^\"([^\"]*)\"$")


@dataclass(frozen=True)
class _Step:
    kind: str  # "name", "names", "indexes", "all"
    names: tuple[str, ...] = ()
    parts: tuple[int | tuple[int | None, int | None], ...] = ()  # an index, or a (start, end) slice

    @property
    def single(self) -> bool:
        return (self.kind == "name") or (
            self.kind == "indexes" and len(self.parts) == 1 and isinstance(self.parts[0], int)
        )


@dataclass(frozen=True)
class JsonPath:
    """One parsed filter expression; `select` applies it to a record (a list or a dict)."""

    text: str
    steps: tuple[_Step, ...]

    @classmethod
    def parse(cls, text: str, flag: str) -> JsonPath:
        allowed = "allowed: $, $.name, $['a','b'], $[0,3,5], $[-1], $[1:], $[1:4], $[0,5:], $.*"
        if not text.startswith("$"):
            raise TransformError(f"{flag} {text!r}: a JSONPath starts with $; {allowed}")
        steps, position = [], 1
        while position < len(text):
            named = _NAME.match(text, position)
            bracket = _BRACKET.match(text, position)
            if named:
                steps.append(_Step("all") if named.group(1) == "*" else _Step("name", (named.group(1),)))
                position = named.end()
            elif bracket:
                steps.append(_bracket(bracket.group(1).strip(), text, flag, allowed))
                position = bracket.end()
            else:
                raise TransformError(f"{flag} {text!r}: cannot read {text[position:]!r}; {allowed}")
        if any(not step.single for step in steps[:-1]):
            # SageMaker's own rule: nothing may follow a selection of several children.
            raise TransformError(f"{flag} {text!r}: several children may only be selected last; {allowed}")
        return cls(text, tuple(steps))

    @property
    def is_root(self) -> bool:
        return not self.steps

    def select(self, value: Any, flag: str, where: str) -> Any:
        for step in self.steps:
            value = _apply(step, value, f"{flag} {self.text!r} on {where}")
        return value


def _bracket(inside: str, text: str, flag: str, allowed: str) -> _Step:
    if inside == "*":
        return _Step("all")
    items = [item.strip() for item in inside.split(",")]
    quoted = [_QUOTED.match(item) for item in items]
    if all(quoted):
        return _Step("names", tuple(m.group(1) if m.group(1) is not None else m.group(2) for m in quoted if m))
    parts: list[int | tuple[int | None, int | None]] = []
    for item in items:
        if _INDEX.match(item):
            parts.append(int(item))
        elif sliced := _SLICE.match(item):
            start, end = sliced.groups()
            parts.append((int(start) if start else None, int(end) if end else None))
        else:
            raise TransformError(f"{flag} {text!r}: [{inside}] is not in the supported subset; {allowed}")
    return _Step("indexes", parts=tuple(parts))


def _apply(step: _Step, value: Any, where: str) -> Any:
    if step.kind == "all":
        return list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, list) else value
    if step.kind in ("name", "names"):
        if not isinstance(value, dict):
            raise TransformError(f"{where}: the record is not a JSON object")
        missing = [name for name in step.names if name not in value]
        if missing:
            raise TransformError(f"{where}: the record has no {', '.join(map(repr, missing))}")
        return value[step.names[0]] if step.kind == "name" else {name: value[name] for name in step.names}
    if not isinstance(value, list):
        raise TransformError(f"{where}: the record is not an array")
    picked: list[Any] = []
    for part in step.parts:
        if isinstance(part, int):
            if not -len(value) <= part < len(value):
                raise TransformError(f"{where}: index {part} is outside the record's {len(value)} values")
            picked.append(value[part])
        else:
            picked.extend(value[part[0] : part[1]])
    return picked[0] if step.single else picked


# --- Options ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TransformSpec:
    """The job's TransformInput, TransformOutput and DataProcessing, SageMaker's defaults."""

    content_type: str = CSV
    accept: str = CSV
    split_type: str = "None"
    batch_strategy: str = "SingleRecord"
    max_payload_mb: int = MAX_PAYLOAD_MB
    assemble_with: str = "None"
    input_filter: str = "$"
    join_source: str = "None"
    output_filter: str = "$"

    def check(self) -> tuple[JsonPath, JsonPath]:
        """Every problem with the options at once, one line; the parsed filters otherwise."""
        problems = []
        for flag, value, allowed in (
            ("--content-type", self.content_type, (CSV, JSON)),
            ("--accept", self.accept, (CSV, JSON)),
            ("--split-type", self.split_type, SPLIT_TYPES),
            ("--batch-strategy", self.batch_strategy, BATCH_STRATEGIES),
            ("--assemble-with", self.assemble_with, ASSEMBLE_WITH),
            ("--join-source", self.join_source, JOIN_SOURCES),
        ):
            if value not in allowed:
                problems.append(f"{flag} {value!r} is not supported; allowed: {', '.join(allowed)}")
        if not 1 <= self.max_payload_mb <= MAX_PAYLOAD_MB:
            problems.append(
                f"--max-payload-mb {self.max_payload_mb} is outside 1-{MAX_PAYLOAD_MB} "
                "(the serving container's request limit)"
            )
        if self.batch_strategy == "MultiRecord" and self.split_type == "None":
            problems.append(
                "--batch-strategy MultiRecord needs --split-type Line (with None the whole object is one record)"
            )
        if self.batch_strategy == "MultiRecord" and self.content_type == JSON:
            problems.append(
                f"--batch-strategy MultiRecord with --content-type {JSON}: the container reads one JSON document "
                f"per request; use SingleRecord, or {CSV}"
            )
        if self.join_source == "Input" and self.accept != self.content_type:
            problems.append(
                f"--join-source Input needs --accept {self.content_type} (the joined record keeps the input's "
                f"format), not {self.accept}"
            )
        filters = []
        for flag, text in (("--input-filter", self.input_filter), ("--output-filter", self.output_filter)):
            try:
                filters.append(JsonPath.parse(text, flag))
            except TransformError as err:
                problems.append(str(err))
        if problems:
            raise TransformError("; ".join(problems))
        return filters[0], filters[1]

    @property
    def max_payload_bytes(self) -> int:
        return self.max_payload_mb * 1024 * 1024


# --- Records -------------------------------------------------------------------------------------


def _csv_values(row: str) -> list[str]:
    return row.split(",") if '"' not in row else next(csv.reader([row]))


def _csv_row(values: Any) -> str:
    values = values if isinstance(values, list) else [values]
    texts = [v if isinstance(v, str) else json.dumps(v) for v in values]
    if not any(("," in t or '"' in t or "\n" in t) for t in texts):
        return ",".join(texts)
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="").writerow(texts)
    return buffer.getvalue()


@dataclass
class _Record:
    number: int  # 1-based, within its object
    text: str  # as read (a line, or the whole object)
    payload: str  # after the input filter: what is sent


def _records(path: Path, spec: TransformSpec, input_filter: JsonPath, name: str) -> Iterator[_Record]:
    if spec.split_type == "None":
        texts: Iterator[str] = iter([path.read_text()])
    else:
        texts = (line.rstrip("\r\n") for line in path.open(newline=""))
    number = 0
    for text in texts:
        if spec.split_type == "Line" and not text.strip():
            continue
        number += 1
        size = len(text.encode())
        if size > spec.max_payload_bytes:
            split = "" if spec.split_type == "Line" else ", or split the object with --split-type Line"
            raise TransformError(
                f"{name}: record {number} is {size} bytes, over --max-payload-mb {spec.max_payload_mb}; "
                f"raise it (at most {MAX_PAYLOAD_MB}){split}"
            )
        yield _Record(number, text, _filtered(text, spec, input_filter, f"{name} record {number}"))


def _filtered(text: str, spec: TransformSpec, path: JsonPath, where: str) -> str:
    if path.is_root:
        return text
    if spec.content_type == CSV:
        rows = [line for line in text.splitlines() if line.strip()]
        return "\n".join(_csv_row(path.select(_csv_values(row), "--input-filter", where)) for row in rows)
    return json.dumps(path.select(_json(text, where), "--input-filter", where))


def _json(text: str, where: str) -> Any:
    try:
        return json.loads(text)
    except ValueError as err:
        raise TransformError(f"{where}: not JSON ({err})") from None


# --- The job ---------------------------------------------------------------------------------------


@dataclass
class ObjectResult:
    name: str
    output: str
    records: int
    requests: int


class _Container:
    """Invocations of the serving container over one kept-alive HTTP connection."""

    def __init__(self, url: str, spec: TransformSpec) -> None:
        parsed = urllib.parse.urlparse(url)
        self.host, self.port = parsed.hostname or "127.0.0.1", parsed.port or 80
        self.headers = {"Content-Type": spec.content_type, "Accept": spec.accept}
        self.connection: http.client.HTTPConnection | None = None
        self.requests = 0

    def invoke(self, body: bytes, where: str) -> bytes:
        for attempt in (1, 2):  # once more on a fresh connection if the kept one was closed
            if self.connection is None:
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.connection.request("POST", "/invocations", body=body, headers=self.headers)
                response = self.connection.getresponse()
                answer = response.read()
            except (http.client.HTTPException, ConnectionError):
                self.connection.close()
                self.connection = None
                if attempt == 2:
                    raise
                continue
            self.requests += 1
            if response.status != 200:
                message = answer.decode(errors="replace").strip()
                raise TransformError(f"{where}: the model answered {response.status}: {message}")
            return answer
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.connection is not None:
            self.connection.close()


def transform_file(
    path: Path, out: Path, name: str, spec: TransformSpec, container: _Container, filters: tuple[JsonPath, JsonPath]
) -> ObjectResult:
    """Transform one input object (a local file) into `out`, as SageMaker writes `<name>.out`."""
    input_filter, output_filter = filters
    first_request = container.requests
    records = 0
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as sink:
        batch: list[_Record] = []
        size = 0
        for record in _records(path, spec, input_filter, name):
            records += 1
            added = len(record.payload.encode()) + (1 if batch else 0)
            if batch and (spec.batch_strategy == "SingleRecord" or size + added > spec.max_payload_bytes):
                _send(batch, spec, container, output_filter, name, sink)
                batch, size, added = [], 0, len(record.payload.encode())
            batch.append(record)
            size += added
        if batch:
            _send(batch, spec, container, output_filter, name, sink)
    return ObjectResult(name, str(out), records, container.requests - first_request)


def _send(
    batch: list[_Record],
    spec: TransformSpec,
    container: _Container,
    output_filter: JsonPath,
    name: str,
    sink: io.TextIOBase,
) -> None:
    where = f"{name} record {batch[0].number}" + (f"-{batch[-1].number}" if len(batch) > 1 else "")
    answer = container.invoke("\n".join(r.payload for r in batch).encode(), where).decode()
    if spec.join_source == "None" and output_filter.is_root:
        # The container's answer, untouched: AssembleWith Line ends it with one newline.
        sink.write(answer.rstrip("\r\n") + "\n" if spec.assemble_with == "Line" else answer)
        return
    end = "\n" if spec.assemble_with == "Line" else ""
    if spec.accept == CSV:
        answers = [line for line in answer.splitlines() if line.strip()]
        inputs = [row for r in batch for row in r.text.splitlines() if row.strip()]
        if spec.join_source == "Input" and len(answers) != len(inputs):
            raise TransformError(
                f"{where}: the model answered {len(answers)} lines for {len(inputs)} rows; "
                "--join-source Input needs one per row"
            )
        rows = []
        for index, line in enumerate(answers):
            joined = (
                _csv_values(inputs[index]) + _csv_values(line) if spec.join_source == "Input" else _csv_values(line)
            )
            rows.append(_csv_row(output_filter.select(joined, "--output-filter", where)))
        per_record = _regroup(rows, batch) if spec.join_source == "Input" else ["\n".join(rows)]
        sink.write("".join(text + end for text in per_record))
        return
    document = _json(answer, f"{where}: the model's answer")
    outputs = _split_answer(document, len(batch), where)
    for record, output in zip(batch, outputs, strict=True):
        if spec.join_source == "Input":
            source = _json(record.text, f"{name} record {record.number}")
            combined: Any = (
                {**source, "SageMakerOutput": output}
                if isinstance(source, dict)
                else {"SageMakerInput": source, "SageMakerOutput": output}
            )
        else:
            combined = output
        sink.write(json.dumps(output_filter.select(combined, "--output-filter", where)) + end)


def _regroup(rows: list[str], batch: list[_Record]) -> list[str]:
    """Joined rows back into one text per record (a record of SplitType None may hold many rows)."""
    texts, offset = [], 0
    for record in batch:
        count = sum(1 for row in record.text.splitlines() if row.strip())
        texts.append("\n".join(rows[offset : offset + count]))
        offset += count
    return texts


def _split_answer(document: Any, records: int, where: str) -> list[Any]:
    if records == 1:
        return [document]
    raise TransformError(f"{where}: cannot split one JSON answer among {records} records")  # MultiRecord is CSV-only


# --- Locations -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class S3Location:
    bucket: str
    prefix: str

    @classmethod
    def parse(cls, uri: str) -> S3Location:
        bucket, _, prefix = uri.removeprefix("s3://").partition("/")
        return cls(bucket, prefix)


def _input_objects(source: str, s3: Any, work: Path) -> Iterator[tuple[str, Path]]:
    """(name relative to the input prefix, a local file with its content) per input object."""
    if source.startswith("s3://"):
        location = S3Location.parse(source)
        keys = [
            item["Key"]
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=location.bucket, Prefix=location.prefix)
            for item in page.get("Contents", [])
            if not item["Key"].endswith("/")
        ]
        if not keys:
            raise TransformError(f"--input {source}: no object under that prefix")
        for key in sorted(keys):
            relative = key[len(location.prefix) :].lstrip("/") or key.rsplit("/", 1)[-1]
            local = work / "input" / relative
            local.parent.mkdir(parents=True, exist_ok=True)
            s3.download_file(location.bucket, key, str(local))
            yield relative, local
        return
    path = Path(source)
    if path.is_file():
        yield path.name, path
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
        if not files:
            raise TransformError(f"--input {source}: the folder has no files")
        for file in files:
            yield str(file.relative_to(path)), file
    else:
        raise TransformError(f"--input {source}: no such file or folder")


def run_transform(
    model_dir: Path,
    source: str,
    destination: str,
    spec: TransformSpec,
    *,
    endpoint_url: str | None = None,
    kms_key_id: str | None = None,
    on_object: Callable[[ObjectResult], None] | None = None,
) -> list[ObjectResult]:
    """The whole job: a serving container started for it (one worker: records go one request at
    a time), every input object through it, each output written (or uploaded, with SSE-KMS when
    kms_key_id is given) as `<name>.out`."""
    from model_code.serve import running_server

    spec.check()
    if not source.startswith("s3://") and not Path(source).exists():
        raise TransformError(f"--input {source}: no such file or folder")
    with running_server(model_dir, workers=1) as url:
        return transform_with(
            url, source, destination, spec, endpoint_url=endpoint_url, kms_key_id=kms_key_id, on_object=on_object
        )


def transform_with(
    url: str,
    source: str,
    destination: str,
    spec: TransformSpec,
    *,
    endpoint_url: str | None = None,
    kms_key_id: str | None = None,
    on_object: Callable[[ObjectResult], None] | None = None,
) -> list[ObjectResult]:
    """run_transform against a serving container that is already up at `url`."""
    filters = spec.check()
    s3 = None
    if source.startswith("s3://") or destination.startswith("s3://"):
        import boto3

        s3 = boto3.client("s3", endpoint_url=endpoint_url)
    results = []
    container = _Container(url, spec)
    try:
        with tempfile.TemporaryDirectory(prefix="transform-") as scratch:
            work = Path(scratch)
            for name, local in _input_objects(source, s3, work):
                if destination.startswith("s3://"):
                    location = S3Location.parse(destination)
                    key = f"{location.prefix.rstrip('/')}/{name}.out".lstrip("/")
                    staged = work / "output" / f"{name}.out"
                    result = transform_file(local, staged, name, spec, container, filters)
                    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": kms_key_id} if kms_key_id else {}
                    s3.upload_file(str(staged), location.bucket, key, ExtraArgs=extra)  # type: ignore[union-attr]
                    result.output = f"s3://{location.bucket}/{key}"
                else:
                    result = transform_file(local, Path(destination) / f"{name}.out", name, spec, container, filters)
                results.append(result)
                if on_object is not None:
                    on_object(result)
    except Exception as err:
        from botocore.exceptions import BotoCoreError, ClientError

        if isinstance(err, BotoCoreError | ClientError):
            raise TransformError(f"S3 ({source} -> {destination}): {err}") from None
        raise
    finally:
        container.close()
    return results
