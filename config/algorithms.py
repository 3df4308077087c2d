"""Where a training pipeline's image and code come from: a built-in algorithm, script mode in an AWS
framework image, your own container, or an AWS Marketplace algorithm; and the image checks they share."""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

from pydantic import Field, StringConstraints

from config.model_sources import ImageReference
from config.types import Problem, StageFacts, StrictModel, value_rule
from model_code.contract import HYPERPARAMETERS, Hyperparameter
from sagemaker_facts import HOSTING_INSTANCE_TYPE
from sagemaker_images import Scope, availability_problem, versions

REPOSITORY_ROOT = Path(__file__).resolve().parent.parent
SAMPLE_ENTRY_POINT = "model_code/train.py"
ALGORITHM_ARN = re.compile(r"^arn:aws[a-z-]*:sagemaker:(?P<region>[a-z0-9-]+):\d{12}:algorithm/[A-Za-z0-9-]{1,63}$")


def _entry_point_problem(path: str) -> str | None:
    if not re.fullmatch(r"model_code/[A-Za-z0-9_/.-]+\.py", path) or ".." in path:
        return f"{path!r} must be a .py file under model_code/, e.g. model_code/frameworks/pytorch/train.py"
    if not (REPOSITORY_ROOT / path).is_file():
        return f"{path!r} does not exist in the repository (entry points are packaged from model_code/)"
    return None


EntryPoint = Annotated[str, value_rule(_entry_point_problem)]
JobInstanceType = Annotated[
    str,
    value_rule(
        lambda kind: (
            None
            if HOSTING_INSTANCE_TYPE.fullmatch(kind)
            else f"{kind!r} is not a SageMaker instance type; e.g. ml.m5.large, ml.c5.xlarge, ml.g5.xlarge"
        )
    ),
]
Version = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9.\-]{0,31}$")]
PyVersion = Annotated[str, StringConstraints(pattern=r"^py\d{1,3}$")]
HyperparameterValue = str | int | float | bool


def image_problems(
    path: str, name: str, version: str, py: str | None, stage: StageFacts, *, scope: Scope
) -> Iterator[Problem]:
    if (why := availability_problem(name, version, py, stage.region, scope=scope)) is not None:
        yield path, why


class BuiltinAlgorithm(StrictModel):
    """A SageMaker built-in algorithm (AWS's image), by name and version."""

    source: Literal["builtin"] = Field(description="`builtin`: a SageMaker built-in algorithm.")
    name: Literal["xgboost", "linear-learner"] = Field(description="The algorithm: `xgboost` or `linear-learner`.")
    version: Version = Field(
        description="Image version as AWS publishes it, e.g. `1.7-1` (xgboost), `1` (linear-learner)."
    )

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        yield from image_problems("version", self.name, self.version, None, stage, scope="training")


class ScriptAlgorithm(StrictModel):
    """Script mode: your entry point under `model_code/` in AWS's framework image."""

    source: Literal["script"] = Field(description="`script`: an entry point in an AWS framework image.")
    framework: Literal["pytorch", "tensorflow", "sklearn", "xgboost", "mxnet", "chainer"] = Field(
        description="The framework image. `mxnet` (1.9.0) and `chainer` (5.0.0) are unmaintained: AWS publishes "
        "no newer images."
    )
    version: Version = Field(description="Framework version with a training image, e.g. `2.6.0` (pytorch).")
    python: PyVersion | None = Field(
        default=None, description="Python of the image, e.g. `py312`; omit where the image has none (xgboost)."
    )
    entry_point: EntryPoint = Field(
        description="The training script, under `model_code/`; its folder is packaged as `sourcedir.tar.gz`."
    )
    serving_version: Version | None = Field(
        default=None,
        description="Framework version of the inference image the registered model names (default: `version`).",
    )

    @property
    def serving(self) -> tuple[str, str | None]:
        """The inference image's version and Python (None where AWS's inference images name none)."""
        version = self.serving_version or self.version
        published = versions(self.framework, "inference").get(version)
        return version, self.python if published is None or published.py_versions else None

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        training = list(image_problems("version", self.framework, self.version, self.python, stage, scope="training"))
        yield from training
        if training:
            return  # the inference image is checked once the training image is right
        serving, python = self.serving
        path = "serving_version" if self.serving_version else "version"
        for problem in image_problems(path, self.framework, serving, python, stage, scope="inference"):
            yield problem[0], problem[1] + "; the registered model needs an inference image: set serving_version"


class ContainerAlgorithm(StrictModel):
    """Your own container: an image of one of the platform's ECR repositories."""

    source: Literal["container"] = Field(description="`container`: your image in a platform repository.")
    image: ImageReference = Field(description="The training image (SageMaker runs `<image> train`).")


class MarketplaceAlgorithm(StrictModel):
    """An algorithm subscribed to in AWS Marketplace (the seller's image; always network-isolated)."""

    source: Literal["marketplace"] = Field(description="`marketplace`: a subscribed AWS Marketplace algorithm.")
    algorithm_arn: str = Field(description="The algorithm ARN of the subscription (`AlgorithmName`).")

    def problems(self, stage: StageFacts) -> Iterator[Problem]:
        match = ALGORITHM_ARN.fullmatch(self.algorithm_arn)
        if match is None:
            yield (
                "algorithm_arn",
                (
                    f"{self.algorithm_arn!r} is not an algorithm ARN "
                    "(arn:aws:sagemaker:<region>:<account>:algorithm/<name>)"
                ),
            )
        elif stage.region is not None and match["region"] != stage.region:
            yield (
                "algorithm_arn",
                f"{self.algorithm_arn!r} is in region {match['region']!r}, the stage's is {stage.region!r}",
            )


AlgorithmConfig = Annotated[
    BuiltinAlgorithm | ScriptAlgorithm | ContainerAlgorithm | MarketplaceAlgorithm, Field(discriminator="source")
]


@functools.cache
def declared_hyperparameters(entry_point: str) -> tuple[Hyperparameter, ...] | None:
    """The hyperparameters a script-mode entry point accepts: model_code's for the sample, else the
    `HYPERPARAMETERS = {name: (default, min, max)}` table the script declares, read without importing
    it (integers for integer defaults); None when it declares none."""
    if entry_point == SAMPLE_ENTRY_POINT:
        return HYPERPARAMETERS
    path = REPOSITORY_ROOT / entry_point
    if not path.is_file():
        return None
    for node in ast.parse(path.read_text()).body:
        value = node.value if isinstance(node, ast.Assign | ast.AnnAssign) else None
        targets = node.targets if isinstance(node, ast.Assign) else [getattr(node, "target", None)]
        if value is None or not any(isinstance(t, ast.Name) and t.id == "HYPERPARAMETERS" for t in targets):
            continue
        try:
            table = ast.literal_eval(value)
        except ValueError:
            return None
        if isinstance(table, dict) and all(isinstance(v, tuple) and len(v) == 3 for v in table.values()):
            return tuple(
                Hyperparameter(name, "integer" if isinstance(default, int) else "continuous", low, high, default)
                for name, (default, low, high) in table.items()
            )
    return None
