"""Notebook sources: jupytext percent files whose cell headers name the nbgrader role.

A source ``notebooks/src/NN_name.py`` is real code: every cell starts with a ``# %%``
header, and a short header key says what the cell is (see ``notebooks/AUTHORING.md``)::

    # %% [markdown] id="intro"                      read-only text
    # %% id="setup"                                 read-only code
    # %% [parameters]                               read-only, tagged ``parameters``
    # %% [solution] id="prototypes"                 the student's code (BEGIN/END SOLUTION)
    # %% [tests] id="prototypes_tests" points=3     autograded tests, read-only
    # %% [written] id="why_zero_labels" points=2    a hand-graded answer (markdown)
    # %% id="families" reveals=["02_nonparametric"] read-only code that shows another
                                                    notebook's solutions (release guard)

:func:`expand` turns those headers into complete nbgrader metadata (schema 3, locked
flags, cell ids that follow the ids), so the metadata is right by construction;
:func:`compact` is its inverse, for bringing edits made in JupyterLab back to the source.
"""

from __future__ import annotations

import ast
import builtins
import re
from dataclasses import dataclass
from pathlib import Path

import jupytext
import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from autograder.limits import MAX_GRADE_ID
from autograder.nbgrader_api import markers

SCHEMA_VERSION = 3
KERNELSPEC = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
# The lines around the student's part, with the kit's delimiters (nbgrader's by default).
SOLUTION_MARKERS = (markers().solution_line(0), markers().solution_line(1))
_ID = re.compile(rf"^[A-Za-z0-9_-]{{1,{MAX_GRADE_ID}}}$")
_HEADER = re.compile(r"^# %%")


class SourceError(ValueError):
    """A notebook source is malformed; the message names the file and line."""


@dataclass(frozen=True)
class Kind:
    """What one header key makes of a cell."""

    cell_type: str  # "code" or "markdown"
    grade: bool = False  # autograded or hand-graded: carries points
    solution: bool = False  # the student writes it
    needs_id: bool = False
    default_id: str | None = None
    tags: tuple[str, ...] = ()


KINDS = {
    "markdown": Kind("markdown"),
    "code": Kind("code"),
    "parameters": Kind("code", default_id="parameters", tags=("parameters",)),
    "solution": Kind("code", solution=True, needs_id=True),
    "tests": Kind("code", grade=True, needs_id=True),
    "written": Kind("markdown", grade=True, solution=True, needs_id=True),
}
KEYS = {"id", "points", "tags", "reveals"}
_ASSIGNMENT_NAME = re.compile(r"^\d\d_[A-Za-z0-9_]+$")
REVEALS = "reveals"  # cell.metadata["cs182meta"]["reveals"]: other notebooks whose solutions it shows


def _nbgrader(kind: Kind, grade_id: str, points) -> dict:
    meta = {
        "grade": kind.grade,
        "grade_id": grade_id,
        # Read-only unless the student writes in it; nbgrader restores locked cells.
        "locked": not kind.solution,
        "schema_version": SCHEMA_VERSION,
        "solution": kind.solution,
        "task": False,
    }
    if kind.grade:
        meta["points"] = points
    return meta


def _header_lines(text: str) -> list[int]:
    return [n for n, line in enumerate(text.splitlines(), start=1) if _HEADER.match(line)]


def _kind_of(cell) -> str:
    title = cell.metadata.get("title", "")
    if cell.cell_type == "markdown":
        return "markdown"
    return title[1:-1] if title.startswith("[") and title.endswith("]") else title or "code"


def _uncomment(source: str) -> str:
    return "\n".join(re.sub(r"^# ?", "", line) for line in source.splitlines())


def _expand_cell(cell, kind_name: str, where: str, number: int, prefix: str):
    if kind_name not in KINDS:
        raise SourceError(f"{where}: unknown cell kind [{kind_name}]; use one of "
                          f"{', '.join(f'[{k}]' for k in KINDS if k != 'code')} or none")
    kind = KINDS[kind_name]
    header = {k: v for k, v in cell.metadata.items() if k not in {"title", "lines_to_next_cell"}}
    unknown = sorted(set(header) - KEYS)
    if unknown:
        raise SourceError(f"{where}: unknown header key(s) {unknown}; allowed: {sorted(KEYS)}")
    grade_id = header.get("id", kind.default_id)
    if grade_id is None and kind.needs_id:
        raise SourceError(f'{where}: a [{kind_name}] cell needs an id="..."')
    if grade_id is not None and not _ID.match(str(grade_id)):
        raise SourceError(f"{where}: id {grade_id!r} must be 1-{MAX_GRADE_ID} letters, digits, "
                          "'-' or '_'")
    points = header.get("points")
    if kind.grade != (points is not None):
        raise SourceError(f"{where}: points go on [tests] and [written] cells, and they need "
                          f"them; this is a [{kind_name}] cell")
    if kind.grade and not (isinstance(points, (int, float)) and points > 0):
        raise SourceError(f"{where}: points must be a positive number, got {points!r}")
    source = cell.source
    if kind_name == "written":  # the model answer, withheld from the release
        source = "\n".join((SOLUTION_MARKERS[0], _uncomment(source), SOLUTION_MARKERS[1]))
    elif kind.solution and not markers().has_solution(source):
        raise SourceError(f"{where}: a [solution] cell needs {SOLUTION_MARKERS[0]} and "
                          f"{SOLUTION_MARKERS[1]} lines around the student's part")
    reveals = header.get(REVEALS)
    if reveals is not None and (kind_name != "code" or grade_id is None):
        raise SourceError(f"{where}: reveals=[...] goes on a read-only code cell with an id, "
                          f"not on a [{kind_name}] cell")
    if reveals is not None and not (
            isinstance(reveals, list) and reveals
            and all(isinstance(r, str) and _ASSIGNMENT_NAME.match(r) for r in reveals)):
        raise SourceError(f'{where}: reveals must list the notebooks whose solutions the cell '
                          f'shows, e.g. reveals=["02_nonparametric"], got {reveals!r}')
    tags = [*kind.tags, *header.get("tags", [])]
    new = new_markdown_cell(source) if kind.cell_type == "markdown" else new_code_cell(source)
    if reveals:
        new.metadata["cs182meta"] = {REVEALS: list(reveals)}
    if grade_id is not None:
        new.metadata["nbgrader"] = _nbgrader(kind, grade_id, points)
    if tags:
        new.metadata["tags"] = tags
    new["id"] = grade_id or f"{prefix}-{number:03d}"  # stable: diffs stay small
    return new


def expand(text: str, path: Path | str, name: str):
    """The nbgrader notebook ``name`` from the percent-format source ``text`` (read from
    ``path``, which error messages name)."""
    lines = _header_lines(text)
    if not text.startswith("# %%"):
        raise SourceError(f"{path}:1: a notebook source starts with a '# %%' cell header")
    parsed = jupytext.reads(text, fmt="py:percent")
    if len(parsed.cells) != len(lines):
        raise SourceError(f"{path}: {len(lines)} '# %%' headers but jupytext read "
                          f"{len(parsed.cells)} cells (a header inside a string?)")
    cells, seen = [], {}
    for number, (cell, line) in enumerate(zip(parsed.cells, lines)):
        where = f"{path}:{line}"
        new = _expand_cell(cell, _kind_of(cell), where, number, name[:2])
        grade_id = new.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in seen:
            raise SourceError(f"{where}: duplicate id {grade_id!r} (first at line {seen[grade_id]})")
        if grade_id:
            seen[grade_id] = line
        cells.append(new)
    nb = new_notebook(cells=cells)
    nb.metadata["kernelspec"] = dict(KERNELSPEC)
    nb.metadata["language_info"] = {"name": "python"}
    nbformat.validate(nb)
    return nb


def unbound_names(source: str) -> list[tuple[str, int]]:
    """``(name, line)`` for each name a test cell reads but neither imports nor defines
    (builtins aside): under grading a test cell runs in a namespace of its own, outside
    the student's kernel, where the notebook's names do not exist — it reaches them as
    ``student.NAME`` (:mod:`cs182meta.student`)."""
    tree = ast.parse(source)
    bound = set(dir(builtins)) | {"__name__", "__file__"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, (ast.Store, ast.Del)):
            bound.add(node.id)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            bound.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            bound |= {(a.asname or a.name).split(".")[0] for a in node.names}
        elif isinstance(node, ast.arg):
            bound.add(node.arg)
        elif isinstance(node, ast.ExceptHandler) and node.name:
            bound.add(node.name)
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            bound |= set(node.names)
    found = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Load) and node.id not in bound:
            found.setdefault(node.id, node.lineno)
    return sorted(found.items(), key=lambda item: item[1])


def check_test_cells(text: str, path: Path | str) -> None:
    """Refuse a ``[tests]`` cell of ``text`` that reads a name it neither imports nor
    defines (:func:`unbound_names`), naming the file and line."""
    parsed = jupytext.reads(text, fmt="py:percent")
    for cell, line in zip(parsed.cells, _header_lines(text)):
        if _kind_of(cell) != "tests":
            continue
        for name, at in unbound_names(cell.source):
            raise SourceError(
                f"{path}:{line + at}: the test cell uses {name!r}, which it neither imports nor "
                f"defines: a test cell runs apart from the notebook, so reach the notebook's "
                f"names as student.{name} (from cs182meta.student import student) and import "
                f"the rest")


def revealed(cell) -> list[str]:
    """The other notebooks whose solutions ``cell`` declares it shows (header key ``reveals``)."""
    return list(cell.metadata.get("cs182meta", {}).get(REVEALS, []))


def _kind_from_metadata(cell) -> str:
    meta = cell.metadata.get("nbgrader", {})
    if meta.get("grade") and meta.get("solution"):
        return "written"
    if meta.get("solution"):
        return "solution"
    if meta.get("grade"):
        return "tests"
    if "parameters" in cell.metadata.get("tags", []):
        return "parameters"
    return cell.cell_type


def _strip_written(source: str) -> str:
    body = source.split(SOLUTION_MARKERS[0], 1)[-1].rsplit(SOLUTION_MARKERS[1], 1)[0]
    return body.strip("\n")


def compact(nb) -> str:
    """The percent-format source of an nbgrader notebook: :func:`expand`'s inverse."""
    cells = []
    for cell in nb.cells:
        kind_name = _kind_from_metadata(cell)
        kind = KINDS[kind_name]
        meta = cell.metadata.get("nbgrader", {})
        header = {}
        if kind_name not in {"markdown", "code"}:
            header["title"] = f"[{kind_name}]"
        if meta.get("grade_id") and meta["grade_id"] != kind.default_id:
            header["id"] = meta["grade_id"]
        if kind.grade:
            header["points"] = meta["points"]
        tags = [t for t in cell.metadata.get("tags", []) if t not in kind.tags]
        if tags:
            header["tags"] = tags
        if revealed(cell):
            header[REVEALS] = revealed(cell)
        if kind_name == "written":
            body = "\n".join(f"# {line}".rstrip() for line in _strip_written(cell.source).splitlines())
            cells.append(new_code_cell(body, metadata=header))
        elif kind.cell_type == "markdown":
            cells.append(new_markdown_cell(cell.source, metadata=header))
        else:
            cells.append(new_code_cell(cell.source, metadata=header))
    text_nb = new_notebook(cells=cells)
    text_nb.metadata["jupytext"] = {"notebook_metadata_filter": "-all"}  # no YAML header
    return jupytext.writes(text_nb, fmt="py:percent")


@dataclass(frozen=True)
class PlantedBug:
    """A plausible mistake planted into one solution cell to prove its tests can fail.

    ``find`` must occur exactly once in the solution cell ``cell``; replacing it with
    ``replace`` must lose exactly the points of the test cells in ``loses``.

    ``why``: the mistake in a few words, for instructors.
    ``hint``: one line for the student's feedback when a failure looks like this bug's
    (starts with 'Check', never the answer)
    """

    cell: str
    find: str
    replace: str
    loses: tuple[str, ...]
    why: str = ""
    hint: str = ""
