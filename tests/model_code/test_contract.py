"""The shared definitions: hyperparameter ranges and metric regexes behave as both sides expect."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from model_code.contract import HYPERPARAMETERS_BY_NAME, METRICS, OBJECTIVE, metric_line, parse_metrics


def test_hyperparameters_parse_strings_as_sagemaker_passes_them() -> None:
    assert HYPERPARAMETERS_BY_NAME["max_depth"].parse("7") == 7
    assert HYPERPARAMETERS_BY_NAME["eta"].parse("0.3") == pytest.approx(0.3)


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("max_depth", "11", "max_depth: '11' is out of range; allowed: an integer from 2 to 10"),
        ("max_depth", "3.5", "max_depth: '3.5' is not a whole number; allowed: an integer from 2 to 10"),
        ("eta", "fast", "eta: 'fast' is not a number; allowed: a number from 0.01 to 0.5"),
        ("subsample", "nan", "subsample: 'nan' is out of range; allowed: a number from 0.5 to 1"),
    ],
)
def test_out_of_range_values_name_the_range(name: str, value: str, message: str) -> None:
    with pytest.raises(ValueError) as caught:
        HYPERPARAMETERS_BY_NAME[name].parse(value)
    assert str(caught.value) == message


def test_metric_lines_round_trip_through_the_regexes() -> None:
    values = {m.name: 0.25 + i / 10 for i, m in enumerate(METRICS)}
    line = metric_line(values, iteration=3)
    assert line.startswith("[3] ")
    assert {k: v[0] for k, v in parse_metrics(line).items()} == pytest.approx(values)
    assert OBJECTIVE in METRICS and OBJECTIVE.maximize
    # "validation:auc" must not also match inside another metric's name.
    assert re.findall(OBJECTIVE.regex, "train:auc=0.1; validation:auc=0.9;") == ["0.9"]


def test_model_code_never_imports_the_cdk() -> None:
    folder = Path(__file__).resolve().parents[2] / "model_code"
    for path in folder.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.split(".")[0] in ("aws_cdk", "constructs", "cdk_nag") for n in names), path
