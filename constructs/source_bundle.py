"""Code under `model_code/` packaged for SageMaker jobs: a deterministic `sourcedir.tar.gz` as a CDK asset."""

from __future__ import annotations

import gzip
import hashlib
import io
import tarfile
import tempfile
from pathlib import Path

from aws_cdk import DefaultStackSynthesizer
from aws_cdk import aws_s3_assets as s3_assets

from constructs import Construct, pseudo
from naming import pascal

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
SKIPPED = ("__pycache__", ".pytest_cache", "container")  # caches, and the image build context


def sourcedir_tarball(folder: str) -> bytes:
    """The files of `folder` (relative to the repository root), with their paths from the root, in
    a gzipped tar with no timestamps, owners or modes of this machine: the same code gives the same
    bytes, so the asset's hash (and the pipeline) changes only when the code does."""
    root = REPOSITORY_ROOT / folder
    if not root.is_dir():
        raise ValueError(f"{folder!r} is not a folder of the repository")
    files = sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and not any(part in SKIPPED for part in p.relative_to(root).parts) and p.suffix != ".pyc"
    )
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in files:
            info = tarfile.TarInfo(path.relative_to(REPOSITORY_ROOT).as_posix())
            data = path.read_bytes()
            info.size, info.mtime, info.mode = len(data), 0, 0o644
            tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0, filename="") as zipped:
        zipped.write(raw.getvalue())
    return packed.getvalue()


def code_bundles_bucket() -> str:
    """The bucket the bundles are uploaded to: the CDK bootstrap's asset bucket of the account and
    region (the default qualifier; cdk.json sets no other)."""
    return f"cdk-{DefaultStackSynthesizer.DEFAULT_QUALIFIER}-assets-{pseudo.ACCOUNT_ID}-{pseudo.REGION}"


class SourceBundle(Construct):
    """A folder under `model_code/` as a `sourcedir.tar.gz` file asset (in the CDK's asset bucket),
    which training jobs get as their `code` channel and processing jobs as an input.

    Props:
        folder: the folder, relative to the repository root, e.g. `model_code/frameworks/pytorch`; or a
            single script (for spark-submit), uploaded as it is.
    """

    def __init__(self, scope: Construct, id: str, *, folder: str) -> None:
        super().__init__(scope, id)
        self.folder = folder
        if (REPOSITORY_ROOT / folder).is_file():  # a single script (spark-submit's application)
            self.asset = s3_assets.Asset(self, "Asset", path=str(REPOSITORY_ROOT / folder))
            return
        data = sourcedir_tarball(folder)
        staged = Path(tempfile.gettempdir()) / "sourcedir" / hashlib.sha256(data).hexdigest() / "sourcedir.tar.gz"
        if not staged.exists():
            staged.parent.mkdir(parents=True, exist_ok=True)
            staged.write_bytes(data)
        self.asset = s3_assets.Asset(self, "Asset", path=str(staged))

    @classmethod
    def of(cls, scope: Construct, folder: str) -> SourceBundle:
        """The bundle of `folder` in `scope`, created on first use (one asset per folder and stack)."""
        id = f"Code{pascal(folder.replace('/', '-'))}"
        found = scope.node.try_find_child(id)
        return found if isinstance(found, SourceBundle) else cls(scope, id, folder=folder)
