"""Record the planted bugs' failure signatures: ``python -m autograder misconceptions``.

Grades one sample submission per planted bug (in a scratch course, deleted afterwards)
and writes ``notebooks/src/NN_name.signatures.json`` (:mod:`autograder.diagnosis`).
Run it after adding or editing a planted bug or a test's message; the grading pipeline
test fails while the file is stale.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from autograder.course import Course, GradingError
from autograder.diagnosis import failures, write_signatures
from autograder.grading import grade_pending
from autograder.limits import Limits
from autograder.samples import bug_sample_name, write_samples
from autograder.submissions import collect


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


def record(assignments: list[str], jobs: int = 2) -> list[Path]:
    """Grade every planted bug of ``assignments`` and write their signature files."""
    written = []
    with tempfile.TemporaryDirectory(prefix="cs182meta-misconceptions-") as tmp:
        course = Course(Path(tmp) / "course")
        course.release(assignments, jobs=jobs)
        write_samples(course, assignments, Path(tmp) / "submissions", others=())
        collect(course, Path(tmp) / "submissions", assignments)
        for assignment in assignments:
            grade_pending(course, assignment, jobs=jobs, limits=Limits())
            written.append(write_signatures(assignment, recorded_signatures(course, assignment)))
    return written
