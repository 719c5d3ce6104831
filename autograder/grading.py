"""Collect and autograde submissions, printing progress and the score table."""

from __future__ import annotations

import json
import time
from pathlib import Path

from autograder.confinement import SandboxUnavailable, confinement
from autograder.course import Course, GradingError
from autograder.grades import cell_scores, format_table, marks
from autograder.isolated import IsolatedGrader, Outcome, warm_cache
from autograder.limits import Limits
from autograder.submissions import collect


def pending(course: Course, assignment: str, force: bool = False,
            regrade: set[str] = frozenset()) -> list[str]:
    """Students whose collected submission of ``assignment`` has no autograded copy yet
    (all of them with ``force``; ``regrade`` names resubmitted students)."""
    graded = set(course.students("autograded", assignment))
    return [s for s in course.students("submitted", assignment)
            if force or s in regrade or s not in graded]


def grade_pending(course: Course, assignment: str, jobs: int, limits: Limits,
                  force: bool = False, regrade: set[str] = frozenset(),
                  unconfined: bool = False) -> None:
    """Grade every pending submission of ``assignment`` (:func:`pending`)."""
    grade_submissions(course, [(assignment, s) for s in pending(course, assignment, force,
                                                                  regrade)], jobs, limits,
                      unconfined)


UNCONFINED_WARNING = ("WARNING: grading UNCONFINED (--unconfined): student code runs as this "
                      "user, without a sandbox; the score table, the grading log and the class "
                      "report say so")


def check_sandbox(course: Course, unconfined: bool = False) -> None:
    """Raise :class:`GradingError` (why, how to fix it, and ``--unconfined``) where student
    code could not be sandboxed, unless the instructor asked for ``unconfined`` grading."""
    if not unconfined:
        try:
            confinement(course.root, "bwrap")
        except SandboxUnavailable as err:
            raise GradingError(str(err)) from err


def grader(course: Course, limits: Limits, unconfined: bool = False) -> IsolatedGrader:
    """The course's grader: in bubblewrap (see :func:`check_sandbox`), or without a
    sandbox when ``unconfined`` (the instructor's ``--unconfined``), with a warning."""
    check_sandbox(course, unconfined)
    if unconfined:
        print(UNCONFINED_WARNING, flush=True)
    return IsolatedGrader(course, limits, cache=warm_cache(course),
                          sandbox="none" if unconfined else "bwrap")


def grade_submissions(course: Course, work: list[tuple[str, str]], jobs: int,
                      limits: Limits, unconfined: bool = False) -> None:
    """Grade ``(assignment, student)`` pairs ``jobs`` at a time, log and print each."""
    if not work:
        return
    isolated = grader(course, limits, unconfined)
    start = time.perf_counter()
    for outcome in isolated.grade_many(work, jobs=jobs):
        write_log(course, outcome)
        note = f"  ({outcome.message})" if outcome.message else ""
        note += "" if outcome.confined else "  UNCONFINED"
        note += "".join(f"  FLAGGED: {flag}" for flag in outcome.flags)
        print(f"  graded {outcome.student}/{outcome.assignment}: {outcome.score:g}/"
              f"{outcome.max_score:g} in {outcome.seconds:.0f} s, peak {outcome.peak_mb:.0f} MB"
              f"{note}")
    minutes = (time.perf_counter() - start) / 60
    print(f"  {len(work)} submissions in {minutes * 60:.0f} s with {jobs} job(s): "
          f"{len(work) / minutes:.1f} per minute")


def write_log(course: Course, outcome: Outcome) -> None:
    """Log the grading of one submission (:meth:`Course.grading_log`)."""
    path = course.grading_log(outcome.assignment, outcome.student)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"seconds": round(outcome.seconds, 2),
                                "peak_mb": round(outcome.peak_mb, 1),
                                "message": outcome.message,
                                "sandbox": "bubblewrap" if outcome.confined else "unconfined",
                                "flags": list(outcome.flags)})
                    + "\n")


def autograde(course: Course, submissions: Path | str, assignments: list[str], jobs: int,
              limits: Limits, replace: bool = False, force: bool = False,
              unconfined: bool = False) -> None:
    """Collect ``submissions`` (a folder or LMS zip), release what is not released yet,
    grade what is pending and print each assignment's score table. Refuse before
    anything is collected where student code could not be sandboxed (:func:`grader`)."""
    check_sandbox(course, unconfined)
    course.prepare(assignments)
    collected, skipped = collect(course, submissions, assignments, replace=replace)
    for reason in skipped:
        print(f"skipped {reason}")
    for item in collected:
        name = f" ({item.name})" if item.name else ""
        print(f"{item.student + name:20s} {item.assignment:16s} {item.status}")
    for assignment in assignments:
        if not course.is_released(assignment):
            course.release([assignment])
        course.name_students({c.student: c.name for c in collected
                              if c.assignment == assignment and c.name})
        replaced = {c.student for c in collected
                    if c.assignment == assignment and c.status == "replaced"}
        grade_pending(course, assignment, jobs, limits, force, replaced, unconfined)
        print(f"\n{assignment}\n" + format_table(cell_scores(course, assignment),
                                                 marks(course, assignment)))
