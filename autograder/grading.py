"""Collect and autograde submissions, printing progress and the score table."""

from __future__ import annotations

import json
import time
from pathlib import Path

from nbgrader.api import Gradebook

from autograder.course import Course
from autograder.grades import cell_scores, format_table
from autograder.isolated import IsolatedGrader, Outcome, warm_cache
from autograder.limits import Limits
from autograder.nbgrader_api import gradebook_url
from autograder.submissions import collect


def pending(course: Course, assignment: str, force: bool = False,
            regrade: set[str] = frozenset()) -> list[str]:
    """Students whose collected submission of ``assignment`` has no autograded copy yet
    (all of them with ``force``; ``regrade`` names resubmitted students)."""
    submitted = sorted(p.parent.parent.name for p in
                       course.path("submitted").glob(f"*/{assignment}/{assignment}.ipynb"))
    return [s for s in submitted if force or s in regrade
            or not course.path("autograded", s, assignment, f"{assignment}.ipynb").exists()]


def grade_pending(course: Course, assignment: str, jobs: int, limits: Limits,
                  force: bool = False, regrade: set[str] = frozenset()) -> None:
    """Grade every pending submission of ``assignment`` (:func:`pending`)."""
    grade_submissions(course, [(assignment, s) for s in pending(course, assignment, force,
                                                                  regrade)], jobs, limits)


def grade_submissions(course: Course, work: list[tuple[str, str]], jobs: int,
                      limits: Limits) -> None:
    """Grade ``(assignment, student)`` pairs ``jobs`` at a time, log and print each."""
    grader = IsolatedGrader(course, limits, cache=warm_cache(course))
    start = time.perf_counter()
    for outcome in grader.grade_many(work, jobs=jobs):
        write_log(course, outcome)
        note = f"  ({outcome.message})" if outcome.message else ""
        print(f"  graded {outcome.student}/{outcome.assignment}: {outcome.score:g}/"
              f"{outcome.max_score:g} in {outcome.seconds:.0f} s, peak {outcome.peak_mb:.0f} MB"
              f"{note}")
    if work:
        minutes = (time.perf_counter() - start) / 60
        print(f"  {len(work)} submissions in {minutes * 60:.0f} s with {jobs} job(s): "
              f"{len(work) / minutes:.1f} per minute")


def log_path(course: Course, assignment: str, student: str) -> Path:
    """Where the grading of one submission is logged: seconds, peak memory and the
    grader's message (a limit hit, an unreadable file), for the class report."""
    return course.path("grading_log", assignment, f"{student}.json")


def write_log(course: Course, outcome: Outcome) -> None:
    path = log_path(course, outcome.assignment, outcome.student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"seconds": round(outcome.seconds, 2),
                                "peak_mb": round(outcome.peak_mb, 1),
                                "message": outcome.message}) + "\n")


def _record_names(course: Course, collected: list) -> None:
    """Students collected by LMS id keep the LMS's name in the gradebook (``last_name``,
    which ``export`` writes), so that two students who share a name stay two rows."""
    named = {c.student: c.name for c in collected if c.name}
    if named:
        with Gradebook(gradebook_url(course.root)) as gb:
            for student, name in named.items():
                gb.update_or_create_student(student, last_name=name, lms_user_id=student)


def autograde(course: Course, submissions: Path | str, assignments: list[str], jobs: int,
              limits: Limits, replace: bool = False, force: bool = False) -> None:
    """Collect ``submissions`` (a folder or LMS zip), release what is not released yet,
    grade what is pending and print each assignment's score table."""
    course.prepare(assignments)
    collected, skipped = collect(course, submissions, assignments, replace=replace)
    for reason in skipped:
        print(f"skipped {reason}")
    for item in collected:
        name = f" ({item.name})" if item.name else ""
        print(f"{item.student + name:20s} {item.assignment:16s} {item.status}")
    for assignment in assignments:
        if not course.path("release", assignment).exists():
            course.release([assignment])
        _record_names(course, [c for c in collected if c.assignment == assignment])
        replaced = {c.student for c in collected
                    if c.assignment == assignment and c.status == "replaced"}
        grade_pending(course, assignment, jobs, limits, force, replaced)
        print(f"\n{assignment}\n{format_table(cell_scores(course, assignment))}")
