"""Record the planted bugs' failure signatures: ``python -m autograder misconceptions``.

Grades one sample submission per planted bug (in a scratch course, deleted afterwards),
runs each bug against the *visible* part of the test cells it loses (as the student's
notebook runs them, :func:`visible_failures`), and writes both into
``notebooks/src/NN_name.signatures.json`` (:mod:`autograder.diagnosis`). Run it after
adding or editing a planted bug or a test; the grading pipeline test fails while the
file is stale, and ``release`` leaves out what is stale.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from autograder import sources
from autograder.course import Course, GradingError
from autograder.diagnosis import failures, write_signatures
from autograder.grading import grade_pending
from autograder.limits import Limits
from autograder.mutation import KILLED, TIMEOUT, variants_at_test_cells
from autograder.nbgrader_api import grade_id, is_test_cell
from autograder.samples import bug_sample_name, plant, write_samples
from autograder.submissions import collect
from cs182meta.failures import normalise
from cs182meta.hints import cell_key


def recorded_signatures(course: Course, assignment: str) -> dict[int, dict[str, str]]:
    """``{bug number: failures}`` read from the autograded ``bug-<n>`` samples of
    ``course``; raise GradingError if one was not graded."""
    signatures = {}
    for number in range(1, len(course.assignment(assignment).planted_bugs) + 1):
        path = course.notebook("autograded", assignment, bug_sample_name(number))
        if not path.exists():
            raise GradingError(f"{path} is missing: grade the planted-bug samples first")
        signatures[number] = failures(json.loads(path.read_text()))
    return signatures


def visible_failures(assignment: str, release_nb) -> tuple[dict[int, dict[str, str]], dict[str, str]]:
    """``({bug number: {test cell: normalised failure}}, {test cell: key of its source})``
    for the visible part (``release_nb``'s version) of each test cell a planted bug loses,
    run after the bug in a fork of the source notebook (grading profile)."""
    nb, bugs = sources.notebook(assignment), sources.planted_bugs(assignment)
    solutions = {grade_id(c): c.source for c in nb.cells}
    visible = {grade_id(c): c.source for c in release_nb.cells if is_test_cell(c)}
    needs: dict[str, list] = {}
    for number, bug in enumerate(bugs, 1):
        for cell in bug.loses:
            needs.setdefault(cell, []).append((number, plant(solutions[bug.cell], bug), visible[cell]))
    found: dict[int, dict[str, str]] = {}
    for (number, cell), (status, error) in variants_at_test_cells(nb, needs).items():
        if status in (KILLED, TIMEOUT):
            ename, _, evalue = (error or "Timeout").partition(": ")
            found.setdefault(number, {})[cell] = normalise(ename, evalue)
    return found, {cell: cell_key(visible[cell]) for cell in needs}


def record(assignments: list[str], jobs: int = 2) -> list[Path]:
    """Grade every planted bug of ``assignments`` and write their signature files."""
    written = []
    with tempfile.TemporaryDirectory(prefix="cs182meta-misconceptions-") as tmp:
        course = Course(Path(tmp) / "course")
        course.release(assignments, jobs=jobs, past_due=sources.assignments())  # a scratch course
        write_samples(course, assignments, Path(tmp) / "submissions", others=())
        collect(course, Path(tmp) / "submissions", assignments)
        for assignment in assignments:
            grade_pending(course, assignment, jobs=jobs, limits=Limits())
            visible, keys = visible_failures(assignment, course.assignment(assignment).release)
            written.append(write_signatures(assignment, recorded_signatures(course, assignment),
                                            visible, keys))
    return written
