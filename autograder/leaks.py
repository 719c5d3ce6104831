"""The leak checks: nothing secret from a source notebook may reach a student.

:func:`find_leaks` checks a release. Secret = solution code and model answers (between
``### BEGIN/END SOLUTION``), hidden tests (between ``### BEGIN/END HIDDEN TESTS``), and
stored outputs of any cell. The delimiters are nbgrader's as the course configures them
(:class:`autograder.nbgrader_api.Markers`); a line that holds one is a marker line.

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

from autograder.authoring import revealed
from autograder.nbgrader_api import (
    HIDDEN,
    SOLUTION,
    Markers,
    grade_id,
    is_test_cell,
    markers,
    reference_names,
)

MIN_LENGTH = 6  # a shorter line (`x = 1`, `)`) gives nothing away


def _secret_and_public_lines(source_nb, kinds=(SOLUTION, HIDDEN), delimiters: Markers | None = None
                             ) -> tuple[set[str], set[str]]:
    """Lines (stripped, ≥ :data:`MIN_LENGTH` characters) inside regions of ``kinds`` and
    nowhere outside every region; and the lines outside every region. ``delimiters``: the
    course's (default: the kit's, :func:`autograder.nbgrader_api.markers`)."""
    delimiters = delimiters or markers()
    secret, public = set(), set()
    for cell in source_nb.cells:
        outside, inside = delimiters.split(cell.source)
        for kind in kinds:
            secret.update(line.strip() for line in inside[kind])
        public.update(line.strip() for line in outside)
    # A line that also stands outside every secret region (an import, a blank line,
    # `return model.eval()`) gives nothing away.
    return {line for line in secret - public if len(line) >= MIN_LENGTH}, public


def find_leaks(source_nb, release_nb, delimiters: Markers | None = None) -> list[str]:
    """Every way ``release_nb`` gives away a secret of ``source_nb``; empty if none.
    ``delimiters``: the course's (default: the kit's)."""
    delimiters = delimiters or markers()
    secret, _ = _secret_and_public_lines(source_nb, delimiters=delimiters)
    problems = []
    for index, cell in enumerate(release_nb.cells):
        where = f"cell {index} ({grade_id(cell) or cell.cell_type})"
        for marker in delimiters.found(cell.source):
            problems.append(f"{where}: contains the marker {marker!r}")
        for line in cell.source.splitlines():
            if line.strip() in secret:
                problems.append(f"{where}: contains secret line {line.strip()!r}")
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{where}: has stored outputs or an execution count")
        if cell.get("attachments"):
            problems.append(f"{where}: has attachments")
    return problems


def find_reveals(release_nb, others: dict, delimiters: Markers | None = None
                 ) -> tuple[dict[str, list[str]], list[str]]:
    """What ``release_nb`` shows of the secrets of ``others`` ({name: source notebook}, the
    course's other assignments): ``({other: [ids of the cells that show its solutions]},
    problems)``.

    A solution line of another notebook (a line secret there, as :func:`find_leaks` sees
    it) may stand only in a cell that declares that notebook with ``reveals=[...]``
    (:func:`autograder.authoring.revealed`); then it is listed, and ``release`` wants the
    instructor to confirm that notebook is past due. Anywhere else it is a problem. A line
    that one of ``others`` shows outside its secret regions counts for none of them.
    (Other notebooks' hidden tests are not scanned: their generic lines, such as
    ``except StudentCodeError:``, stand in visible tests everywhere.)"""
    delimiters = delimiters or markers()
    shown: dict[str, list[str]] = {}
    problems = []
    # A line that some other notebook shows anyway (a training loop's `loss.backward()`,
    # an import) is no one's secret; a cell that itself shows another's solutions does
    # not count.
    public = {line.strip() for nb in others.values() for cell in nb.cells if not revealed(cell)
              for line in delimiters.split(cell.source)[0]}
    solutions = {other: _secret_and_public_lines(source_nb, (SOLUTION,), delimiters)[0] - public
                 for other, source_nb in others.items()}
    for index, cell in enumerate(release_nb.cells):
        where = f"cell {index} ({grade_id(cell) or cell.cell_type})"
        lines = {line.strip() for line in cell.source.splitlines()}
        declared = [other for other in revealed(cell) if other in others]
        # A line several notebooks' solutions share belongs to the one the cell declares.
        lines_declared = set().union(*(solutions[other] for other in declared))
        for other in sorted(others):
            found = sorted(lines & solutions[other])
            if found and other in declared:
                shown.setdefault(other, []).append(grade_id(cell) or str(index))
            elif found and set(found) - lines_declared:
                found = sorted(set(found) - lines_declared)
                problems.append(
                    f"{where}: contains {len(found)} solution line(s) of {other}, e.g. {found[0]!r} "
                    f"(remove them, or declare the cell with reveals=[\"{other}\"])")
    return shown, problems


def hidden_only_lines(source_nb, delimiters: Markers | None = None) -> set[str]:
    """Lines of the hidden tests that occur nowhere outside the hidden and solution
    regions of ``source_nb``, not even inside a longer line there (the feedback check looks
    for them inside lines: a traceback prefixes ``---->  3``); ≥ 6 characters, stripped."""
    secret, public = _secret_and_public_lines(source_nb, (HIDDEN,), delimiters)
    outside = "\n".join(public)
    return {line for line in secret if line not in outside}


def carries_the_source(source_nb, submission_nb, delimiters: Markers | None = None
                       ) -> list[str]:
    """Signs that ``submission_nb`` was made from the instructor's ``source_nb`` (someone
    had the source notebook): nbgrader's solution or hidden-test markers in any cell, or
    two or more lines that stand only in the source's hidden tests (not in its solutions:
    a right answer may share a line with a hidden reference). Empty if none."""
    delimiters = delimiters or markers()
    solutions, _ = _secret_and_public_lines(source_nb, (SOLUTION,), delimiters)
    hidden = hidden_only_lines(source_nb, delimiters) - solutions
    found = sorted({m for cell in submission_nb.cells for m in delimiters.found(cell.source)})
    copied = sorted({line.strip() for cell in submission_nb.cells
                     for line in cell.source.splitlines() if line.strip() in hidden})
    signs = [f"it holds the marker {m!r}" for m in found]
    if len(copied) >= 2:
        signs.append(f"it holds {len(copied)} lines of the hidden tests")
    return signs


def readable_text(path: Path) -> str:
    """A feedback file's text as a reader sees it: HTML without tags and entities, and
    without ANSI colour codes; any other file decoded as UTF-8."""
    text = Path(path).read_bytes().decode("utf-8", errors="replace")
    if Path(path).suffix.lower() in (".html", ".htm"):
        text = html.unescape(re.sub(r"<[^>]*>", "", text))
    return strip_ansi(text)


def find_feedback_leaks(source_nb, text: str, student_nb=None,
                        delimiters: Markers | None = None) -> list[str]:
    """Every hidden test of ``source_nb`` that ``text`` (a feedback file, see
    :func:`readable_text`) gives away; empty if none. ``student_nb`` is the student's graded
    notebook: text that stands in a cell the student wrote (any cell but a test cell) is
    theirs and never counts. ``delimiters``: the course's (default: the kit's)."""
    delimiters = delimiters or markers()
    own = "\n".join(c.source for c in (student_nb.cells if student_nb else [])
                    if not is_test_cell(c))
    problems = [f"contains the marker {marker!r}" for marker in delimiters.found(text, HIDDEN)
                if marker not in own]
    names = sorted(reference_names(text) - reference_names(own))
    problems += [f"names the hidden reference function {name!r}" for name in names]
    secret = sorted(line for line in hidden_only_lines(source_nb, delimiters) if line not in own)
    problems += [f"contains hidden-test line {line!r}" for line in secret if line in text]
    return problems


def find_hints_leaks(source_nb, text: str, bugs, delimiters: Markers | None = None) -> list[str]:
    """Every secret that ``text`` (a release's hints file) gives away: a hidden test's
    line, a solution line, a marker, a planted bug's edit or its instructor-facing
    ``why``. Empty if none."""
    delimiters = delimiters or markers()
    solutions, _ = _secret_and_public_lines(source_nb, kinds=(SOLUTION,), delimiters=delimiters)
    problems = find_feedback_leaks(source_nb, text, delimiters=delimiters)
    problems += [f"contains solution line {line!r}" for line in sorted(solutions) if line in text]
    for bug in bugs:
        for what, secret in (("edit", bug.find.strip()), ("edit", bug.replace.strip()), ("why", bug.why)):
            if len(secret) >= MIN_LENGTH and secret in text:
                problems.append(f"contains a planted bug's {what} {secret!r}")
    return problems
