"""What a student may see of a graded notebook: the visible tests, the scores and each
failure's message — no hidden test and no reference code.

nbgrader's ``generate_feedback`` renders the autograded notebook as it is: its converter
runs only ``GetGrades`` and a CSS step, so every test cell shows its hidden tests, and the
traceback of a failing hidden test prints the hidden lines around the failure.
:class:`HideHiddenTests` is an nbgrader preprocessor that comes first in the feedback
conversion (``python -m autograder.feedback ASSIGNMENT``, which :meth:`Course.feedback
<autograder.course.Course.feedback>` runs in the course folder; ``--show-hidden`` leaves
it out). It applies :func:`student_view`:

* a test cell with hidden tests shows its visible lines; each hidden region becomes one
  line, :data:`PLACEHOLDER`;
* every error output is rebuilt: a frame in a cell with hidden tests becomes
  ``Cell In[n], line L`` and that one line if it is a visible line, and
  ``Cell In[n]: in the hidden tests (not shown)`` otherwise; frames of other cells (the
  student's own code, read-only cells) and of library files stay; the last line is
  ``ExceptionType: message``. A failing hidden ``assert`` thus shows its message only;
* any output line that holds a hidden-only line (a line inside a hidden region that
  occurs nowhere else in the notebook, not even inside a longer line, ≥ 6 characters —
  say, the source line a warning prints) or a hidden-test marker is replaced by
  :data:`WITHHELD`, and ``_reference_NAME``
  (the hidden reference versions that composed tests bind as ``NAME``) reads ``NAME``.

Under a failing test cell whose failure looks like a planted bug's
(:mod:`autograder.diagnosis`), :func:`add_hints` adds that bug's one-line hint (``--no-hints``
leaves them out). :func:`autograder.leaks.find_feedback_leaks` checks the files written
afterwards.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import html
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat
from nbconvert.filters import strip_ansi
from nbgrader.preprocessors import ClearHiddenTests
from traitlets import Bool

from autograder.course import Course
from autograder.diagnosis import Catalogue, failures
from autograder.leaks import MIN_LENGTH
from autograder.nbgrader_api import HIDDEN, REFERENCE, Markers, grade_id, is_test_cell, markers

PLACEHOLDER = "# (hidden tests: not shown)"
WITHHELD = "(a line of the hidden tests: not shown)"
HINT_CLASS = "cs182meta-hint"
HINT_STYLE = "background: #fff8e1; border-left: 4px solid #f0b400; padding: 4px 8px"
_CELL_FRAME = re.compile(r"^Cell In\[(\d+)\], line (\d+)")


@dataclass
class Split:
    """A test cell's source cut into what is shown and what is hidden."""

    shown: list[str] = field(default_factory=list)  # visible lines and placeholders
    hidden: list[str] = field(default_factory=list)  # the lines inside hidden regions
    line_map: dict[int, int] = field(default_factory=dict)  # run line → shown line (1-based)


def split_hidden(source: str, delimiters: Markers | None = None) -> Split | None:
    """``source`` without its hidden regions (``None`` if it has none); like nbgrader's
    ``ClearHiddenTests``, a line holding a delimiter starts or ends a region
    (:meth:`Markers.regions <autograder.nbgrader_api.Markers.regions>`; ``delimiters``
    default to the kit's)."""
    delimiters = delimiters or markers()
    regions = delimiters.regions(source, HIDDEN)
    if not regions:
        return None
    starts = {region.begin: region for region in regions}
    split, inside = Split(), None
    for index, line in enumerate(source.split("\n")):
        if index in starts:
            inside = starts[index]
            split.shown.append(inside.indent + PLACEHOLDER)
        elif inside is not None and index == inside.end:
            inside = None
        elif inside is not None:
            split.hidden.append(line)
        elif delimiters.end_hidden in line:  # a stray end: nbgrader drops it too
            continue
        else:
            split.shown.append(line)
            split.line_map[index + 1] = len(split.shown)
    return split


def _lines(text: str) -> set[str]:
    return {line.strip() for line in text.splitlines()}


class _Scrubber:
    """Tells and removes what would give a hidden test away in a piece of output."""

    def __init__(self, secret: set[str], delimiters: Markers):
        self.secret, self.markers = secret, delimiters.delimiters(HIDDEN)

    def leaks(self, text: str) -> bool:
        plain = strip_ansi(text)
        return (any(marker in plain for marker in self.markers)
                or any(line in plain for line in self.secret))

    def text(self, text: str) -> str:
        lines = text.splitlines(keepends=True)
        kept = [(WITHHELD + ("\n" if line.endswith("\n") else "")) if self.leaks(line) else line
                for line in lines]
        return REFERENCE.sub(r"\1", "".join(kept))


def _frame(entry: str, cells: dict, splits: dict, scrub: _Scrubber) -> str:
    """One entry of an IPython traceback (a header, a frame, or the last line) as the
    student may see it."""
    found = _CELL_FRAME.match(strip_ansi(entry))
    if found:
        count, line = int(found.group(1)), int(found.group(2))
        cell = cells.get(count)
        if cell is None:  # not a cell of this notebook: nothing says what it holds
            return f"Cell In[{count}]: (not shown)\n"
        split = splits.get(id(cell))
        if split is not None:  # a cell with hidden tests
            if line not in split.line_map:
                return f"Cell In[{count}]: in the hidden tests (not shown)\n"
            shown = split.line_map[line]
            return f"Cell In[{count}], line {shown}\n----> {shown} {split.shown[shown - 1]}\n"
    if scrub.leaks(entry):
        return "(not shown: it holds a line of the hidden tests)\n"
    return REFERENCE.sub(r"\1", entry)


def _error(output, cells: dict, splits: dict, scrub: _Scrubber):
    ename, evalue = output.get("ename", "Error"), scrub.text(str(output.get("evalue", "")))
    entries = list(output.get("traceback", []))
    if entries and strip_ansi(entries[-1]).startswith(f"{ename}:"):
        entries = entries[:-1]  # IPython's last line: rebuilt from ename and evalue below
    output.traceback = [_frame(e, cells, splits, scrub) for e in entries] + [
        f"\x1b[0;31m{ename}\x1b[0m: {evalue}"]
    output.evalue = evalue
    return output


def student_view(nb, delimiters: Markers | None = None):
    """A copy of the graded notebook ``nb`` as a student may see it (module docstring);
    ``delimiters``: the course's (default: the kit's, :func:`autograder.nbgrader_api.markers`)."""
    delimiters = delimiters or markers()
    nb = copy.deepcopy(nb)
    splits = {}
    for cell in nb.cells:
        split = split_hidden(cell.source, delimiters) if is_test_cell(cell) else None
        if split is not None:
            splits[id(cell)] = split
    hidden, public = set(), set()
    for cell in nb.cells:
        split = splits.get(id(cell))
        hidden |= _lines("\n".join(split.hidden)) if split else set()
        public |= _lines("\n".join(split.shown) if split else cell.source)
    outside = "\n".join(public)  # a hidden line inside a visible one gives nothing away
    scrub = _Scrubber({line for line in hidden - public
                       if len(line) >= MIN_LENGTH and line not in outside}, delimiters)
    cells = {c.get("execution_count"): c for c in nb.cells
             if c.cell_type == "code" and c.get("execution_count") is not None}
    for cell in nb.cells:
        if id(cell) in splits:
            cell.source = "\n".join(splits[id(cell)].shown)
        for output in cell.get("outputs", []):
            if output.output_type == "error":
                _error(output, cells, splits, scrub)
            elif output.output_type == "stream":
                output.text = scrub.text(output.text)
            else:
                data = output.get("data", {})
                for mime in ("text/plain", "text/markdown", "text/html"):
                    if isinstance(data.get(mime), str):
                        data[mime] = scrub.text(data[mime])
    return nb


def add_hints(view, graded, catalogue: Catalogue) -> int:
    """Under each failing test cell of ``view`` (the :func:`student_view` of ``graded``)
    whose failure matches a planted bug's (:mod:`autograder.diagnosis`), one line: that
    bug's hint. Return how many were added."""
    hints = catalogue.hints(failures(graded))
    for cell in view.cells:
        for hint in hints.get(grade_id(cell), []) if is_test_cell(cell) else []:
            cell.outputs.append(hint_output(hint))
    return sum(len(h) for h in hints.values())


def hint_output(hint: str):
    return nbformat.v4.new_output("display_data", data={
        "text/plain": f"Hint: {hint}",
        "text/html": f"<div class='{HINT_CLASS}' style='{HINT_STYLE}'><b>Hint:</b> "
                     f"{html.escape(hint)}</div>"})


class HideHiddenTests(ClearHiddenTests):
    """The feedback conversion's first step: :func:`student_view`, with the delimiters
    configured for nbgrader's ``ClearSolutions`` and ``ClearHiddenTests`` (or for this
    class), and :func:`add_hints` when the course
    folder (the working directory) holds the assignment's misconception catalogue."""

    hints = Bool(True, help="add a hint under a failure that looks like a planted bug's"
                 ).tag(config=True)

    def preprocess(self, nb, resources):
        delimiters = dataclasses.replace(Markers.from_config(self.config),
                                         begin_hidden=self.begin_test_delimeter,
                                         end_hidden=self.end_test_delimeter)
        view = student_view(nb, delimiters)
        assignment = resources.get("nbgrader", {}).get("assignment")
        path = Course(Path.cwd()).misconceptions_path(assignment)
        if self.hints and assignment and path.exists():
            add_hints(view, nb, Catalogue.load(path))
        return view, resources


def generate_feedback(assignment: str, show_hidden: bool = False, hints: bool = True) -> int:
    """nbgrader's ``generate_feedback ASSIGNMENT --force`` in the current course folder,
    with :class:`HideHiddenTests` first unless ``show_hidden``; return its exit status."""
    from nbgrader.apps import GenerateFeedbackApp
    from nbgrader.converters import GenerateFeedback
    from traitlets.config import Config

    app = GenerateFeedbackApp()
    app.initialize([assignment, "--force"])
    if not show_hidden:
        configured = app.config.GenerateFeedback.get(
            "preprocessors", GenerateFeedback.class_traits()["preprocessors"].default())
        extra = Config()
        extra.GenerateFeedback.preprocessors = [
            HideHiddenTests, *(p for p in configured if p is not HideHiddenTests)]
        extra.HideHiddenTests.hints = hints
        app.update_config(extra)
    try:
        app.start()
    except SystemExit as done:
        return int(done.code or 0)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="nbgrader generate_feedback without hidden tests (run in the course folder).")
    parser.add_argument("assignment")
    parser.add_argument("--show-hidden", action="store_true",
                        help="nbgrader's own feedback: hidden tests and full tracebacks")
    parser.add_argument("--no-hints", action="store_true",
                        help="no hint under failures that look like a planted bug's")
    args = parser.parse_args(argv)
    return generate_feedback(args.assignment, args.show_hidden, hints=not args.no_hints)


if __name__ == "__main__":
    sys.exit(main())
