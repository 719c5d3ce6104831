"""One assignment's graded class, read back from the course folder — no re-execution.

Scores come from the gradebook by the course's one score rule (:meth:`Course.scores`),
failures from the autograded notebooks (:func:`autograder.diagnosis.failures`), seconds,
peak memory and the grader's message from ``grading_log/``
(:meth:`Course.grading_log`), and the misconceptions from the catalogue stored at
release (:attr:`autograder.course.Assignment.catalogue`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

from autograder.course import Course, GradedCell, total
from autograder.diagnosis import Catalogue, Misconception, failures
from autograder.nbgrader_api import grade_id


class ReportInputError(ValueError):
    """The course folder cannot give this report; the message says why and what to do."""


@dataclass
class Submission:
    student: str
    scores: dict[str, float | None]  # grade id → score (None: waits for a grader)
    failures: dict[str, str]  # failing test cell → normalised failure
    errors: dict[str, str]  # failing test cell → its raw ``ExceptionType: message``
    misconceptions: list[Misconception] = field(default_factory=list)
    unrecognised: dict[str, str] = field(default_factory=dict)
    seconds: float | None = None
    peak_mb: float | None = None
    message: str = ""  # the grader's: a limit hit, an unreadable file, a crash
    confined: bool = True  # False: graded without a sandbox (--unconfined)
    flags: list[str] = field(default_factory=list)  # signs of a copied source notebook

    @property
    def total(self) -> float:
        return total(self.scores)


@dataclass
class ClassResults:
    assignment: str
    cells: list[GradedCell]
    submissions: list[Submission]
    catalogue: Catalogue | None  # None: no current misconception catalogue

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.cells)

    def tests(self) -> list[GradedCell]:
        return [c for c in self.cells if c.kind == "code"]

    def written(self) -> list[GradedCell]:
        return [c for c in self.cells if c.kind != "code"]


def _errors(nb: dict) -> dict[str, str]:
    found = {}
    for cell in nb["cells"]:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                name = grade_id(cell)
                if name:
                    found.setdefault(name, f"{output.get('ename')}: {output.get('evalue')}")
    return found


def load(course: Course, assignment: str) -> ClassResults:
    """Everything the report shows of ``assignment``; raise :class:`ReportInputError` if
    the course has no such assignment, no graded submission of it, or a gradebook that
    does not belong to it."""
    if not course.notebook("source", assignment).exists():
        raise ReportInputError(f"{course.root} has no assignment {assignment!r} (no "
                               f"source/{assignment}/{assignment}.ipynb)")
    students = course.students("autograded", assignment)
    if not students:
        raise ReportInputError(f"{course.root} has no autograded submission of {assignment}: "
                               "run `python -m autograder autograde SUBMISSIONS` first")
    if not course.gradebook_file.exists():
        raise ReportInputError(f"{course.root} has no gradebook.db: grade the submissions "
                               "with `python -m autograder autograde` first")
    cells, scores = course.scores(assignment)
    expected = {c.name for c in course.assignment(assignment).cells}
    if {c.name for c in cells} != expected:
        raise ReportInputError(
            f"the gradebook's {assignment} has graded cells {sorted(c.name for c in cells)}, "
            f"but this course's source has {sorted(expected)}: the gradebook belongs to "
            "another course or another version of the notebook")
    catalogue = course.assignment(assignment).catalogue
    submissions = []
    for student in students:
        if student not in scores:
            raise ReportInputError(f"autograded/{student}/{assignment} has no grades in the "
                                   "gradebook: the gradebook belongs to another course")
        nb = json.loads(course.notebook("autograded", assignment, student).read_text())
        sub = Submission(student, scores[student], failures(nb), _errors(nb))
        if catalogue is not None:
            sub.misconceptions = catalogue.diagnose(sub.failures)
            sub.unrecognised = catalogue.unrecognised(sub.failures)
        record = course.grading_record(assignment, student)
        sub.seconds, sub.peak_mb = record.get("seconds"), record.get("peak_mb")
        sub.message = str(record.get("message", ""))
        sub.confined = record.get("sandbox") != "unconfined"
        sub.flags = [str(flag) for flag in record.get("flags") or []]
        submissions.append(sub)
    return ClassResults(assignment, cells, submissions, catalogue)


def pending_written(results: ClassResults) -> dict[str, list[str]]:
    """``{written answer: students whose answer waits for a grader}``."""
    return {cell.name: [s.student for s in results.submissions
                        if s.scores.get(cell.name) is None]
            for cell in results.written()}


def group_failures(results: ClassResults, cell: str) -> list[tuple[str, list[Submission]]]:
    """The failures of test ``cell``, grouped by normalised failure, largest first."""
    groups: dict[str, list[Submission]] = {}
    for sub in results.submissions:
        if cell in sub.failures:
            groups.setdefault(sub.failures[cell], []).append(sub)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def misconception_shares(results: ClassResults) -> list[tuple[Misconception, list[str]]]:
    """Each diagnosed misconception with its students, most frequent first."""
    found: dict[tuple, tuple[Misconception, list[str]]] = {}
    for sub in results.submissions:
        for m in sub.misconceptions:
            found.setdefault(m.bugs, (m, []))[1].append(sub.student)
    return sorted(found.values(), key=lambda item: (-len(item[1]), item[0].bugs))


def unrecognised_failures(results: ClassResults) -> list[tuple[str, str, list[str]]]:
    """``(test cell, normalised failure, students)`` that match no planted bug."""
    found: dict[tuple[str, str], list[str]] = {}
    for sub in results.submissions:
        for cell, failure in sub.unrecognised.items():
            found.setdefault((cell, failure), []).append(sub.student)
    return sorted(((c, f, s) for (c, f), s in found.items()), key=lambda t: (-len(t[2]), t[0]))

