"""AWS's SageMaker images (built-in algorithms, framework containers), read from the SageMaker Python
SDK's own tables (`sagemaker/image_uri_config/*.json`), offline.

Checking what exists reads the tables directly (no SDK import: the schema checks every stage file);
building a URI asks the SDK (`sagemaker.image_uris.retrieve`), once per region that has the image.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import importlib.util
import json
import logging
import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

T = TypeVar("T")
# What the SDK computed, by its inputs: synth repeats without importing the SDK (2.5 s) when nothing changed.
CACHE = Path(__file__).resolve().parent / ".cache" / "sagemaker-sdk"

Scope = Literal["training", "processing", "inference"]

# Names in the stage file -> the SDK's table names.
BUILTIN_ALGORITHMS = ("xgboost", "linear-learner", "kmeans", "factorization-machines", "knn", "pca", "blazingtext")
FRAMEWORKS = ("pytorch", "tensorflow", "sklearn", "xgboost", "mxnet", "chainer")
# AWS published the last images of these and maintains them no more (README: "unmaintained").
UNMAINTAINED = {"mxnet": "1.9.0", "chainer": "5.0.0"}


@dataclass(frozen=True)
class Version:
    """One published version of an image: its Python versions (empty: none apply) and regions."""

    version: str
    py_versions: tuple[str, ...]
    registries: dict[str, str]  # region -> the account of AWS's registry there

    @property
    def regions(self) -> tuple[str, ...]:
        return tuple(sorted(self.registries))


@functools.cache
def _table(name: str) -> dict[str, Any]:
    spec = importlib.util.find_spec("sagemaker")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("the SageMaker Python SDK (sagemaker>=2.257,<3) is not installed; see requirements.txt")
    path = Path(next(iter(spec.submodule_search_locations))) / "image_uri_config" / f"{name}.json"
    return dict(json.loads(path.read_text()))


def _scoped(name: str, scope: Scope) -> dict[str, Any]:
    table = _table(name)
    if scope in table:
        return dict(table[scope])
    if scope == "processing" and "training" in table:
        return dict(table["training"])  # the SDK's framework processors run the training images
    return table if "versions" in table else {}


@functools.cache
def versions(name: str, scope: Scope) -> dict[str, Version]:
    """Every published version of image `name` for `scope`, aliases ("1.9", "latest") included."""
    table = _scoped(name, scope)
    found = {
        version: Version(version, tuple(entry.get("py_versions", ())), dict(entry.get("registries", {})))
        for version, entry in table.get("versions", {}).items()
    }
    for alias, target in table.get("version_aliases", {}).items():
        if target in found:
            found[alias] = found[target]
    return found


def availability_problem(
    name: str, version: str, py_version: str | None, region: str | None, *, scope: Scope
) -> str | None:
    """Why AWS publishes no `name` image of this version, Python and region (listing what it does
    publish), or None. `region` None: environment-agnostic, any region that has it will do."""
    published = versions(name, scope)
    if not published:
        return f"AWS publishes no {scope} image for {name!r}"
    found = published.get(version)
    if found is None:
        listed = [v for v in published if v == published[v].version]
        return f"{name} {version!r} has no {scope} image; AWS publishes {listed}"
    if found.py_versions and py_version not in found.py_versions:
        return f"{name} {version} has images for Python {list(found.py_versions)}, not {py_version!r}"
    if not found.py_versions and py_version is not None:
        return f"{name} {version} takes no Python version (got {py_version!r})"
    if region is not None and region not in found.regions:
        return f"{name} {version} has no image in {region}; it has images in {list(found.regions)}"
    return None


def import_sdk() -> None:
    """Import the SageMaker SDK without its log lines (its configuration search) and warnings."""
    os.environ.setdefault("SAGEMAKER_SUPPRESS_V2_WARNING", "1")
    logging.getLogger("sagemaker.config").setLevel(logging.ERROR)  # the search logs while importing
    warnings.filterwarnings("ignore", module=r"sagemaker(\..*)?")
    import sagemaker  # noqa: F401

    # After the import too: the SDK sets its loggers' levels when imported.
    for name in ("sagemaker", "sagemaker.config", "sagemaker.telemetry.telemetry_logging"):
        logging.getLogger(name).setLevel(logging.ERROR)


def sdk_cached(kind: str, inputs: object, compute: Callable[[], T], *, code: tuple[Path, ...] = ()) -> T:
    """`compute()`, or what it returned before for the same `inputs` (JSON-able), SDK version and
    source of the `code` files that shape the result. Results must be JSON values."""
    material = json.dumps(
        [kind, inputs, importlib.metadata.version("sagemaker"), [p.read_text() for p in (Path(__file__), *code)]],
        sort_keys=True,
        default=str,
    )
    path = CACHE / f"{kind}-{hashlib.sha256(material.encode()).hexdigest()[:32]}.json"
    if path.exists():
        cached: T = json.loads(path.read_text())
        return cached
    result = compute()
    CACHE.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(f".{os.getpid()}.tmp")
    temporary.write_text(json.dumps(result, sort_keys=True))
    temporary.replace(path)  # atomic: parallel synths never read half a file
    return result


def image_uris(
    name: str, version: str, py_version: str | None, instance_type: str, *, scope: Scope, regions: tuple[str, ...]
) -> dict[str, str]:
    """The image's URI in each of `regions` that has it (empty `regions`: every region that has it),
    as the SDK builds it for this instance type (CPU or GPU image)."""
    inputs = [name, version, py_version, instance_type, scope, regions]
    return sdk_cached("images", inputs, lambda: _image_uris(name, version, py_version, instance_type, scope, regions))


def _image_uris(
    name: str, version: str, py_version: str | None, instance_type: str, scope: Scope, regions: tuple[str, ...]
) -> dict[str, str]:
    import_sdk()
    from sagemaker import image_uris as sdk_image_uris
    from sagemaker.utils import _botocore_resolver

    published = versions(name, scope)[version]
    table = _table(name)
    # The SDK's framework processors run the training images of frameworks without processing images.
    trains = "training" in table or "training" in table.get("scope", ())
    sdk_scope = "training" if scope == "processing" and scope not in table and trains else scope
    wanted = [r for r in published.regions if not regions or r in regions]
    if not wanted:
        return {}
    # The SDK builds the URI for one region; the others differ only in the registry's account and the
    # region's ECR host name, which the SDK's table and botocore's endpoint data give (a call per region
    # costs 50 ms: seconds per image for every region).
    first = sdk_image_uris.retrieve(
        name, wanted[0], version=version, py_version=py_version, instance_type=instance_type, image_scope=sdk_scope
    )
    repository = first.split("/", 1)[1]
    resolver = _botocore_resolver()

    def host(region: str) -> str:
        endpoint = resolver.construct_endpoint("ecr", region) or {"hostname": f"ecr.{region}.amazonaws.com"}
        return str(endpoint["hostname"])

    uris = {r: f"{published.registries[r]}.dkr.{host(r)}/{repository}" for r in wanted}
    if uris[wanted[0]] != first:
        raise RuntimeError(f"image URI rule of the SageMaker SDK changed: {first} != {uris[wanted[0]]}")
    return uris
