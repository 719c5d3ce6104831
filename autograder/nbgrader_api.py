"""What the kit knows about nbgrader, in one place: the gradebook, the course config,
cell kinds, the solution and hidden-test delimiters (:class:`Markers`, as the course
configures them), the autograde preprocessors, and validation.

``python -m autograder.nbgrader_api validate NOTEBOOK RESULTS [--invert]`` runs nbgrader's
``Validator`` with the course config of the working directory and writes its result
(see :func:`validate`) as JSON to ``RESULTS``; :class:`autograder.course.Course` runs it
like the nbgrader command line, in the course folder.
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import textwrap
from dataclasses import dataclass
from pathlib import Path

from nbconvert.filters import strip_ansi
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions
from nbgrader.validator import Validator
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.limits import Limits

CONFIG_FILE = "nbgrader_config.py"
# The kit's config: every course folder gets it (course_config_text).
KIT_CONFIG = Path(__file__).with_name(CONFIG_FILE)
# In KIT_CONFIG, what course_config_text writes in its place: the course's copy then loads
# without the autograder package (nbgrader may run where it is not importable).
_RENDERED = (("from autograder.limits import Limits\n", lambda: ""),
             ("Limits().cell_s", lambda: repr(Limits().cell_s)))


def gradebook_url(root: Path | str) -> str:
    """The gradebook of the course folder ``root``, as nbgrader finds it by default."""
    return CourseDirectory(root=str(Path(root).resolve())).db_url


def course_config(root: Path | str) -> Config:
    """The course folder's ``nbgrader_config.py`` (empty without one, as for nbgrader)."""
    if not (Path(root) / CONFIG_FILE).exists():
        return Config()
    return PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()


def course_config_text() -> str:
    """The text of a course folder's ``nbgrader_config.py``: :data:`KIT_CONFIG` with the
    values of :mod:`autograder.limits` written in (``Execute.timeout`` is
    ``Limits().cell_s``), so that it loads without the ``autograder`` package."""
    text = KIT_CONFIG.read_text()
    for template, value in _RENDERED:
        if text.count(template) != 1:
            raise RuntimeError(f"{KIT_CONFIG} must hold {template!r} exactly once")
        text = text.replace(template, value())
    if re.search(r"^\s*(from|import)\s+autograder\b", text, re.M):
        raise RuntimeError(f"{KIT_CONFIG} imports from autograder: a course could not load it")
    return text


def grade_id(cell) -> str | None:
    """The cell's nbgrader id, or ``None`` (a plain dict cell is enough)."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_graded(cell) -> bool:
    """A cell that carries points: an autograded test or answer, or a written answer (a
    plain dict cell is enough)."""
    return bool(utils.is_grade(NotebookNode(metadata=cell.get("metadata", {}))))


def is_test_cell(cell) -> bool:
    """An autograded test cell: graded code that the student does not write (a plain dict
    cell is enough)."""
    node = NotebookNode(cell_type=cell.get("cell_type"), metadata=cell.get("metadata", {}))
    return node.cell_type == "code" and bool(utils.is_grade(node)) and not utils.is_solution(node)


# ---------------------------------------------------------------------- markers
SOLUTION, HIDDEN = "solution", "hidden tests"  # the two kinds of region
REFERENCE = re.compile(r"\b_reference_(\w+)")  # a hidden reference function; group 1: NAME


def is_reference_name(name: str) -> bool:
    """``_reference_NAME``: a hidden reference version of the student's ``NAME`` that a
    composed test binds (``notebooks/AUTHORING.md``); never shown in feedback."""
    return REFERENCE.fullmatch(name) is not None


def reference_names(text: str) -> set[str]:
    """Every ``_reference_NAME`` in ``text``."""
    return {match.group(0) for match in REFERENCE.finditer(text)}


def _trait_default(cls: type, name: str) -> str:
    return cls.class_traits()[name].default_value


@dataclass(frozen=True)
class Region:
    """One delimited region of a cell's source, by index of ``source.split("\\n")``."""

    kind: str  # SOLUTION or HIDDEN
    begin: int  # the line holding the begin delimiter
    end: int  # the line holding the end delimiter
    indent: str  # the begin line's leading whitespace


@dataclass(frozen=True)
class Markers:
    """nbgrader's region delimiters as a course configures them (``ClearSolutions.
    begin_solution_delimeter`` / ``end_solution_delimeter``, ``ClearHiddenTests.
    begin_test_delimeter`` / ``end_test_delimeter``; the defaults are nbgrader's).

    As in nbgrader, a line that *contains* a delimiter begins or ends a region, and the
    delimiter lines belong to neither side; a region nested in one of its kind or left
    open is an error (``ValueError``)."""

    begin_solution: str = _trait_default(ClearSolutions, "begin_solution_delimeter")
    end_solution: str = _trait_default(ClearSolutions, "end_solution_delimeter")
    begin_hidden: str = _trait_default(ClearHiddenTests, "begin_test_delimeter")
    end_hidden: str = _trait_default(ClearHiddenTests, "end_test_delimeter")

    @classmethod
    def from_config(cls, config: Config) -> Markers:
        """The delimiters that nbgrader's preprocessors use under ``config``."""
        solutions, hidden = ClearSolutions(config=config), ClearHiddenTests(config=config)
        return cls(solutions.begin_solution_delimeter, solutions.end_solution_delimeter,
                   hidden.begin_test_delimeter, hidden.end_test_delimeter)

    def delimiters(self, kind: str | None = None) -> tuple[str, ...]:
        """``(begin, end)`` of ``kind``; of both kinds (solution first) without one."""
        pairs = {SOLUTION: (self.begin_solution, self.end_solution),
                 HIDDEN: (self.begin_hidden, self.end_hidden)}
        return pairs[kind] if kind else pairs[SOLUTION] + pairs[HIDDEN]

    def regions(self, source: str, kind: str) -> list[Region]:
        """The regions of ``kind`` in ``source``, in order."""
        begin, end = self.delimiters(kind)
        found, start, lines = [], None, source.split("\n")
        for number, line in enumerate(lines):
            if begin in line:
                if start is not None:
                    raise ValueError(f"nested {begin!r} at line {number + 1}")
                start = number
            elif end in line and start is not None:
                begin_line = lines[start]
                found.append(Region(kind, start, number,
                                    begin_line[:len(begin_line) - len(begin_line.lstrip())]))
                start = None
        if start is not None:
            raise ValueError(f"{begin!r} without {end!r} (line {start + 1})")
        return found

    def split(self, source: str, kinds: tuple[str, ...] = (SOLUTION, HIDDEN)
              ) -> tuple[list[str], dict[str, list[str]]]:
        """``(outside, {kind: inside})``: the lines of ``source`` outside every region of
        ``kinds`` and, per kind, the lines inside its regions; a delimiter line (even a stray
        end, which nbgrader drops too) is in neither."""
        lines = source.split("\n")
        where: dict[int, str | None] = {}  # line → its region's kind; None: a delimiter line
        for kind in kinds:
            end = self.delimiters(kind)[1]
            where.update({n: None for n, line in enumerate(lines) if end in line})  # stray too
            for region in self.regions(source, kind):
                where[region.begin] = where[region.end] = None
                where.update({n: kind for n in range(region.begin + 1, region.end)
                              if where.get(n, kind) is not None})
        inside = {kind: [line for n, line in enumerate(lines) if where.get(n) == kind]
                  for kind in kinds}
        return [line for n, line in enumerate(lines) if n not in where], inside

    def has_solution(self, source: str) -> bool:
        """Both solution delimiters stand in ``source``."""
        return all(d in source for d in self.delimiters(SOLUTION))

    def has_hidden(self, source: str) -> bool:
        """``source`` begins a hidden-test region (as ``ClearHiddenTests`` would find it)."""
        return self.begin_hidden in source

    def found(self, text: str, kind: str | None = None) -> list[str]:
        """The delimiters (of ``kind``; of both without one) that occur in ``text``."""
        return [d for d in self.delimiters(kind) if d in text]

    def solution_line(self, which: int) -> str:
        """The line that begins (``which=0``) or ends (``1``) a solution region in a notebook
        source: the delimiter after ``### `` unless it holds a comment mark already."""
        delimiter = self.delimiters(SOLUTION)[which]
        return delimiter if delimiter.lstrip().startswith(("#", "%", "/")) else f"### {delimiter}"


def markers(course_root: Path | str | None = None) -> Markers:
    """The delimiters of the course folder ``course_root`` (its ``nbgrader_config.py``);
    without one, of the kit's own config, which every course folder gets."""
    if course_root is None:
        return _kit_markers()
    return Markers.from_config(course_config(course_root))


@functools.cache
def _kit_markers() -> Markers:
    return Markers.from_config(PyFileConfigLoader(CONFIG_FILE, path=str(KIT_CONFIG.parent))
                               .load_config())


# ---------------------------------------------------------------------- autograde
def autograde_preprocessors(config: Config) -> tuple[list[type], list[type]]:
    """The preprocessor classes of nbgrader's ``autograde`` as configured:
    ``(sanitize, autograde)`` — the second list executes the notebook and scores it."""
    converter = Autograde(config=config)
    return list(converter.sanitize_preprocessors), list(converter.autograde_preprocessors)


def run_preprocessors(preprocessors, nb, resources):
    """Apply each one in turn as nbgrader's exporter does (a disabled one does nothing);
    return the notebook."""
    for preprocessor in preprocessors:
        nb, resources = preprocessor(nb, resources)
    return nb


# ---------------------------------------------------------------------- validate
def validate(notebook: Path | str, config: Config, invert: bool = False) -> dict:
    """nbgrader's ``Validator`` on ``notebook`` (it runs the notebook). ``{}`` if it passes
    — with ``invert``: if no test passes; otherwise the cells at fault, under
    ``failed`` / ``passed`` / ``changed`` / ``type_changed``."""
    return Validator(config=config, invert=invert).validate(str(Path(notebook).resolve()))


def describe_validation(results: dict) -> str:
    """The cells at fault in :func:`validate`'s result, one block each."""

    def block(title: str, source: str, error: str = "") -> str:
        text = f"{title}\n\n{textwrap.indent(source, '    ')}\n"
        error = textwrap.indent(strip_ansi(error), "    ")
        return text + (f"\nThe error was:\n\n{error}\n" if error else "")

    blocks = [block(f"The following {c['old_type']} cell has changed to a {c['new_type']} cell:",
                    c["source"]) for c in results.get("type_changed", [])]
    blocks += [block("The following cell has changed:", c["source"])
               for c in results.get("changed", [])]
    blocks += [block("The following cell failed:", c["source"], c["raw_error"])
               for c in results.get("failed", [])]
    blocks += [block("The following cell passed:", c["source"]) for c in results.get("passed", [])]
    blocks += [f"{key}: {json.dumps(value)}" for key, value in results.items()
               if key not in ("type_changed", "changed", "failed", "passed")]
    return "\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="nbgrader's Validator, with JSON results.")
    parser.add_argument("command", choices=["validate"])
    parser.add_argument("notebook")
    parser.add_argument("results")
    parser.add_argument("--invert", action="store_true")
    args = parser.parse_args(argv)
    results = validate(args.notebook, course_config(Path.cwd()), invert=args.invert)
    Path(args.results).write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
