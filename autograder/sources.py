"""The notebook sources (``notebooks/src/NN_name.py``), their planted bugs
(``notebooks/src/NN_name.bugs.py``) and the ``.ipynb`` files built from them."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path
from types import ModuleType

import nbformat

from autograder.authoring import PlantedBug, SourceError, check_test_cells, compact, expand
from autograder.nbgrader_api import grade_id as _grade_id

REPO = Path(__file__).resolve().parents[1]
NOTEBOOKS = REPO / "notebooks"
SOURCES = NOTEBOOKS / "src"
_ASSIGNMENT = re.compile(r"^\d\d_[a-z0-9_]+$")


def assignments() -> list[str]:
    """Assignment ids, one per source: ``00_episodes``, ``01_blackbox``, ..."""
    return sorted(p.stem for p in SOURCES.glob("*.py") if _ASSIGNMENT.match(p.stem))


def source_path(name: str) -> Path:
    path = SOURCES / f"{name}.py"
    if not path.exists():
        raise FileNotFoundError(f"no notebook source {path}; known: {', '.join(assignments())}")
    return path


def notebook(name: str):
    """The source notebook (solutions, hidden tests, nbgrader metadata) built from
    ``notebooks/src/<name>.py``."""
    path = source_path(name)
    shown = path.relative_to(REPO) if path.is_relative_to(REPO) else path
    text = path.read_text()
    nb = expand(text, shown, name)
    check_test_cells(text, shown)
    return nb


def build(folder: Path = NOTEBOOKS) -> list[Path]:
    """(Re)write ``<folder>/<name>.ipynb`` from every source."""
    written = []
    for name in assignments():
        target = Path(folder) / f"{name}.ipynb"
        nbformat.write(notebook(name), target)
        written.append(target)
    return written


def _roles(nb) -> list[tuple]:
    return [(c.cell_type, c.metadata.get("nbgrader"), c.metadata.get("tags", []))
            for c in nb.cells]


def sync(name: str, edited: Path | None = None) -> Path:
    """Bring a notebook edited in JupyterLab (default ``notebooks/<name>.ipynb``) back into
    its source. Refuses, changing nothing, if some nbgrader metadata would not survive."""
    edited = Path(edited or NOTEBOOKS / f"{name}.ipynb")
    nb = nbformat.read(edited, as_version=4)
    text = compact(nb)
    rebuilt = expand(text, edited, name)
    for index, (before, after) in enumerate(zip(_roles(nb), _roles(rebuilt), strict=True)):
        if before != after:
            raise SourceError(
                f"{edited}: cell {index} has nbgrader metadata or tags the source format "
                f"cannot say ({before[1:]}); set it with the source's header keys instead"
            )
    path = source_path(name)
    path.write_text(text)
    return path


# Each sidecar file (``.bugs.py``, ``.corpus.py``) executed once per process: {its path:
# (its version, the module)}, where a version is (mtime, size, inode), so a file edited (or
# replaced) since is read again.
_SIDECAR_MODULES: dict[Path, tuple[tuple[int, int, int], ModuleType]] = {}


def _sidecar_module(path: Path) -> ModuleType:
    """``path`` (a ``notebooks/src/<name>.<kind>.py`` file) executed as a module; executed
    again only when the file has changed since (its modification time, size or inode)."""
    stat = path.stat()
    key, version = path.resolve(), (stat.st_mtime_ns, stat.st_size, stat.st_ino)
    cached = _SIDECAR_MODULES.get(key)
    if cached is not None and cached[0] == version:
        return cached[1]
    spec = importlib.util.spec_from_file_location(path.name.replace(".", "_"), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    _SIDECAR_MODULES[key] = (version, module)
    return module


def _bugs_module(name: str) -> ModuleType:
    path = SOURCES / f"{name}.bugs.py"
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: every notebook plants at least one bug")
    return _sidecar_module(path)


def planted_bugs(name: str) -> list[PlantedBug]:
    """The planted bugs of notebook ``name``: ``BUGS`` in ``notebooks/src/<name>.bugs.py``."""
    return list(_bugs_module(name).BUGS)


def equivalent_mutants(name: str) -> dict[str, str]:
    """``{mutant key: why it behaves like the solution}``: the reviewed
    ``EQUIVALENT_MUTANTS`` of ``notebooks/src/<name>.bugs.py`` (see autograder/mutation.py)."""
    return dict(getattr(_bugs_module(name), "EQUIVALENT_MUTANTS", {}))


def corpus_path(name: str) -> Path:
    """The correct alternatives and conceptual mistakes of notebook ``name``'s exercises
    (see :mod:`autograder.corpus`)."""
    return SOURCES / f"{name}.corpus.py"


def corpus(name: str) -> tuple[list, list]:
    """``(CORRECT, WRONG)`` of ``notebooks/src/<name>.corpus.py``; empty lists if there is
    no such file."""
    path = corpus_path(name)
    if not path.exists():
        return [], []
    module = _sidecar_module(path)
    return list(getattr(module, "CORRECT", [])), list(getattr(module, "WRONG", []))


def cell_namespace(name: str, grade_ids: list[str]) -> dict:
    """Run the cells ``grade_ids`` of notebook ``name`` (solutions included) in a fresh
    namespace and return it: how scripts such as benchmarks use a notebook's code."""
    cells = {_grade_id(c): c for c in notebook(name).cells if _grade_id(c) is not None}
    namespace: dict = {}
    for grade_id in grade_ids:
        exec(compile(cells[grade_id].source, f"{name}:{grade_id}", "exec"), namespace)  # noqa: S102
    return namespace
