"""The leak checks: nothing secret from a source notebook may reach a student.

:func:`find_leaks` checks a release. Secret = solution code and model answers (between
``### BEGIN/END SOLUTION``), hidden tests (between ``### BEGIN/END HIDDEN TESTS``), and
stored outputs of any cell.

:func:`find_feedback_leaks` checks a file of a student's feedback. There the student's own
answers appear by right, so solution lines are not secret; what must not appear is the
hidden tests: their markers, the names of hidden reference functions (``_reference_…``)
and any *hidden-only* line — a line inside a hidden region of the source that occurs
nowhere outside the hidden and solution regions (not even inside a longer line), at least
6 characters long — unless the
same text stands in a cell the student wrote.
"""

from __future__ import annotations

import html
import re
from pathlib import Path

from nbconvert.filters import strip_ansi

from autograder.nbgrader_api import grade_id, is_test_cell

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_REGION = re.compile(
    r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL
)
HIDDEN_MARKERS = ("BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
REFERENCE_NAME = re.compile(r"\b_reference_\w+")


def _secret_and_public_lines(source_nb, kinds=("SOLUTION", "HIDDEN TESTS")
                             ) -> tuple[set[str], set[str]]:
    """Lines (stripped, ≥ 6 characters) inside regions of ``kinds`` and nowhere outside
    every region; and the lines outside every region."""
    secret, public = set(), set()
    for cell in source_nb.cells:
        text = cell.source if cell.source.endswith("\n") else cell.source + "\n"
        for match in _REGION.finditer(text):
            if match.group(1) in kinds:
                secret.update(line.strip() for line in match.group(2).splitlines())
        public.update(line.strip() for line in _REGION.sub("", text).splitlines())
    # A line that also stands outside every secret region (an import, a blank line,
    # `return model.eval()`) gives nothing away.
    return {line for line in secret - public if len(line) >= 6}, public


def find_leaks(source_nb, release_nb) -> list[str]:
    """Every way ``release_nb`` gives away a secret of ``source_nb``; empty if none."""
    secret, _ = _secret_and_public_lines(source_nb)
    problems = []
    for index, cell in enumerate(release_nb.cells):
        where = f"cell {index} ({grade_id(cell) or cell.cell_type})"
        for marker in MARKERS:
            if marker in cell.source:
                problems.append(f"{where}: contains the marker '### {marker}'")
        for line in cell.source.splitlines():
            if line.strip() in secret:
                problems.append(f"{where}: contains secret line {line.strip()!r}")
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{where}: has stored outputs or an execution count")
        if cell.get("attachments"):
            problems.append(f"{where}: has attachments")
    return problems


def hidden_only_lines(source_nb) -> set[str]:
    """Lines of the hidden tests that occur nowhere outside the hidden and solution
    regions of ``source_nb``, not even inside a longer line there (the feedback check looks
    for them inside lines: a traceback prefixes ``---->  3``); ≥ 6 characters, stripped."""
    secret, public = _secret_and_public_lines(source_nb, kinds=("HIDDEN TESTS",))
    outside = "\n".join(public)
    return {line for line in secret if line not in outside}


def readable_text(path: Path) -> str:
    """A feedback file's text as a reader sees it: HTML without tags and entities, and
    without ANSI colour codes; any other file decoded as UTF-8."""
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    if Path(path).suffix.lower() in (".html", ".htm"):
        text = html.unescape(re.sub(r"<[^>]*>", "", text))
    return strip_ansi(text)


def find_feedback_leaks(source_nb, text: str, student_nb=None) -> list[str]:
    """Every hidden test of ``source_nb`` that ``text`` (a feedback file, see
    :func:`readable_text`) gives away; empty if none. ``student_nb`` is the student's graded
    notebook: text that stands in a cell the student wrote (any cell but a test cell) is
    theirs and never counts."""
    own = "\n".join(c.source for c in (student_nb.cells if student_nb else [])
                    if not is_test_cell(c))
    problems = [f"contains the marker '### {marker}'" for marker in HIDDEN_MARKERS
                if marker in text and marker not in own]
    names = sorted(set(REFERENCE_NAME.findall(text)) - set(REFERENCE_NAME.findall(own)))
    problems += [f"names the hidden reference function {name!r}" for name in names]
    secret = sorted(line for line in hidden_only_lines(source_nb) if line not in own)
    problems += [f"contains hidden-test line {line!r}" for line in secret if line in text]
    return problems
