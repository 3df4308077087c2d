"""The `transform` settings of a batch transform job (a training pipeline's last step, and the scoring
pipelines'): what it reads, on which instances, and how SageMaker splits, batches, filters and joins
records, with SageMaker's defaults and its rules."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Literal

from pydantic import Field

from config.algorithms import JobInstanceType
from config.types import Problem, StageFacts, StrictModel
from model_code.contract import CONTENT_TYPES, RAW_PREFIX

# SageMaker's cap on a request's payload, and on MaxConcurrentTransforms x MaxPayloadInMB.
MAX_PAYLOAD_MB = 100
# The JSONPath subset SageMaker batch transform documents for InputFilter / OutputFilter (and what the
# local transform implements): the root `$`, then children `.name` or `['name', ...]`, and array
# subscripts `[n]`, `[n, m]`, `[start:end]` (negative indices count from the end). No wildcards,
# recursive descent or filter expressions.
_NAME = r"[A-Za-z_][A-Za-z0-9_-]*"
_QUOTED = r"'[^'\\]*'"
_INDEX = r"-?\d+"
_SLICE = rf"(?:{_INDEX})?:(?:{_INDEX})?"
_SUBSCRIPT = rf"(?:{_SLICE}|{_INDEX})"
_SEGMENT = rf"(?:\.{_NAME}|\[\s*{_QUOTED}(?:\s*,\s*{_QUOTED})*\s*\]|\[\s*{_SUBSCRIPT}(?:\s*,\s*{_SUBSCRIPT})*\s*\])"
JSON_PATH = re.compile(rf"\$(?:{_SEGMENT})*")
JSON_PATH_HELP = "`$`, `$.name`, `$['a','b']`, `$[1:]`, `$[0,-1]` (root, children, indices and slices)"


def prefix_problems(path: str, prefix: str, example: str) -> Iterator[Problem]:
    """A folder under raw/ of the data bucket: `raw/<folder>/.../`, no `..`, `.` or wildcards."""
    if (
        not re.fullmatch(rf"{RAW_PREFIX}/([A-Za-z0-9!_.'()-]+/)+", prefix)
        or "/../" in f"/{prefix}"
        or "/./" in f"/{prefix}"
    ):
        yield path, f"{prefix!r} must be a folder under {RAW_PREFIX}/ ending in /, e.g. {example}"


class TransformConfig(StrictModel):
    """A batch transform job: scores every object under `input_prefix` of the data bucket with the model
    on instances of its own, one `<object>.out` per object."""

    input_prefix: str = Field(
        description="The data to score: a folder under `raw/` of the data bucket, e.g. `raw/score/`."
    )
    instance_type: JobInstanceType = Field(default="ml.m5.large", description="Transform instance type.")
    instance_count: int = Field(default=1, ge=1, le=100, description="Instances; objects are spread across them.")
    content_type: Literal["text/csv", "application/json"] = Field(
        default="text/csv", description=f"The records' MIME type (the serving container takes {list(CONTENT_TYPES)})."
    )
    accept: Literal["text/csv", "application/json"] = Field(
        default="text/csv", description="The predictions' MIME type."
    )
    split_type: Literal["None", "Line"] = Field(
        default="None", description="`Line`: one record per line; `None`: each object is one request."
    )
    batch_strategy: Literal["SingleRecord", "MultiRecord"] = Field(
        default="SingleRecord",
        description="`MultiRecord`: as many records per request as fit in `max_payload_mb` (needs `split_type: Line`).",
    )
    max_payload_mb: int = Field(
        default=6, ge=0, le=MAX_PAYLOAD_MB, description="Largest request, MB (0: no limit, for streaming containers)."
    )
    max_concurrent_transforms: int | None = Field(
        default=None, ge=1, le=100, description="Parallel requests per instance; default: SageMaker's choice."
    )
    assemble_with: Literal["None", "Line"] = Field(
        default="None", description="`Line`: a newline after each prediction in the output object."
    )
    input_filter: str = Field(default="$", description=f"JSONPath of what is sent of each record: {JSON_PATH_HELP}.")
    join_source: Literal["None", "Input"] = Field(
        default="None", description="`Input`: each prediction joined to its input record."
    )
    output_filter: str = Field(default="$", description="JSONPath of what is kept of each (joined) record.")

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        yield from prefix_problems("input_prefix", self.input_prefix, f"{RAW_PREFIX}/score/")
        if self.batch_strategy == "MultiRecord" and self.split_type == "None":
            yield (
                "batch_strategy",
                "MultiRecord batches records, and split_type None makes each object one record; "
                "use split_type Line, or batch_strategy SingleRecord",
            )
        concurrent = self.max_concurrent_transforms
        if concurrent is not None and concurrent * self.max_payload_mb > MAX_PAYLOAD_MB:
            yield (
                "max_concurrent_transforms",
                f"{concurrent} x max_payload_mb {self.max_payload_mb} = {concurrent * self.max_payload_mb} MB; "
                f"SageMaker allows at most {MAX_PAYLOAD_MB} MB in flight per instance",
            )
        for name in ("input_filter", "output_filter"):
            value = getattr(self, name)
            if not JSON_PATH.fullmatch(value):
                yield name, f"{value!r} is outside the JSONPath subset batch transform supports: {JSON_PATH_HELP}"
