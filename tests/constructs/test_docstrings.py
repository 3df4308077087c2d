"""Every construct documents what it provisions and each of its props (as the CDK's modules do)."""

from __future__ import annotations

import importlib
import inspect
from pathlib import Path

from constructs import Construct

CONSTRUCTS = Path(__file__).resolve().parents[2] / "constructs"


def construct_classes() -> list[type[Construct]]:
    found = []
    for path in sorted(CONSTRUCTS.glob("*.py")):
        module = importlib.import_module(f"constructs.{path.stem}")
        found += [
            c
            for _, c in inspect.getmembers(module, inspect.isclass)
            if issubclass(c, Construct) and c.__module__ == module.__name__
        ]
    return found


def test_every_construct_documents_itself_and_its_props() -> None:
    classes = construct_classes()
    assert len(classes) == 29  # issue 15: DriftMonitor, ModelMonitorSchedule, ScoringPipeline
    for cls in classes:
        doc = inspect.getdoc(cls) or ""
        assert doc, f"{cls.__name__} has no docstring"
        props = [
            name
            for name, p in inspect.signature(cls.__init__).parameters.items()
            if p.kind is inspect.Parameter.KEYWORD_ONLY
        ]
        assert "Props:" in doc, f"{cls.__name__}: no Props section"
        missing = [name for name in props if f"{name}:" not in doc and f"{name}," not in doc]
        assert not missing, f"{cls.__name__} does not document {missing}"
