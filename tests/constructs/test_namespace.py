"""`constructs/` extends the `constructs` library's package instead of shadowing it (see README)."""

from __future__ import annotations

from pathlib import Path

import constructs

FOLDER = Path(__file__).resolve().parents[2] / "constructs"


def test_folder_has_no_init_and_no_clashing_module() -> None:
    assert not (FOLDER / "__init__.py").exists(), "constructs/__init__.py would shadow the constructs library"
    library = {p.name for p in Path(constructs.__file__).parent.iterdir()}
    ours = {p.name for p in FOLDER.iterdir() if p.suffix == ".py" or p.is_dir()} - {"__pycache__"}
    assert not ours & library, f"modules that clash with the library: {ours & library}"


def test_library_and_project_constructs_import_side_by_side() -> None:
    from constructs import Construct
    from constructs.platform_key import PlatformKey

    assert issubclass(PlatformKey, Construct)
    assert str(FOLDER) in list(constructs.__path__)
