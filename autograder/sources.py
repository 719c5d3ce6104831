"""The source notebooks: their builder scripts in ``notebooks/src`` and the ``.ipynb`` files."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from autograder.authoring import SourceNotebook

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
BUILDERS = NOTEBOOKS / "src"


def builder_paths() -> list[Path]:
    return sorted(p for p in BUILDERS.glob("[0-9][0-9]_*.py"))


def load_source(name: str) -> SourceNotebook:
    """The ``SourceNotebook`` defined by ``notebooks/src/<name>.py``."""
    path = BUILDERS / f"{name}.py"
    if not path.exists():
        known = ", ".join(p.stem for p in builder_paths())
        raise FileNotFoundError(f"no notebook source {path}; known: {known}")
    spec = importlib.util.spec_from_file_location(f"notebook_src_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.NOTEBOOK


def planted_bugs(name: str) -> list:
    """The planted bugs of notebook ``name`` (see ``notebooks/AUTHORING.md``)."""
    return load_source(name).bugs


def assignments() -> list[str]:
    """Assignment ids, one per source notebook: ``00_episodes``, ``01_...``."""
    return [p.stem for p in builder_paths()]


def build(folder: Path = NOTEBOOKS) -> list[Path]:
    """(Re)write every ``notebooks/NN_name.ipynb`` from its builder script."""
    return [load_source(name).write(folder) for name in assignments()]
