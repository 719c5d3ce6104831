"""``python -m autograder demo``: the grading pipeline end to end on sample submissions."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

from autograder.class_results import load
from autograder.course import Course
from autograder.grades import cell_scores, format_table, marks
from autograder.grading import check_sandbox, grade_submissions, pending
from autograder.limits import Limits
from autograder.pdfs import write_pdfs
from autograder.report import write_report
from autograder.samples import CORRECT_SAMPLES, bug_sample_name, write_samples
from autograder.submissions import collect
from cs182meta.pdf import RenderError, find_chromium

JOBS = 2  # submissions (and release checks) at a time: the 2-core laptop the demo targets


def run_demo(out: Path, assignments: list[str], bugs: str = "one",
             unconfined: bool = False) -> None:
    """Release, write sample submissions (perfect, blank and the planted bugs ``bugs``
    selects, :func:`autograder.samples.chosen_bugs`; with ``per-exercise`` or ``all``
    also noisy), grade them :data:`JOBS` at a time, then feedback, grades and the class report,
    and the written answers' PDFs, all under ``out`` (deleted first). Student code runs in bubblewrap; where it cannot,
    nothing is graded unless ``unconfined`` (:func:`autograder.grading.check_sandbox`)."""
    start = time.perf_counter()
    demo = Path(out).resolve()
    check_sandbox(Course(demo / "course"), unconfined)
    if demo.exists():
        shutil.rmtree(demo)  # the demo's own folder only; never the real course
    course = Course(demo / "course")
    print(f"1/7 release {', '.join(assignments)} (with leak check and validate --invert; "
          "all at once, so every deadline counts as past: 04 shows 02's and 03's solutions)")
    course.release(assignments, jobs=JOBS, past_due=assignments)
    others = ("perfect", "blank") if bugs in ("one", "none") else CORRECT_SAMPLES
    which = {"one": "the first planted bug of each notebook", "none": "no planted bug",
             "per-exercise": "the first planted bug of each exercise",
             "all": "every planted bug"}[bugs]
    print(f"2/7 sample submissions: {', '.join(others)} and {which}")
    write_samples(course, assignments, demo / "submissions", bugs=bugs, others=others)
    collect(course, demo / "submissions", assignments)
    print(f"3/7 autograde (isolated, {JOBS} at a time, all notebooks in one queue)")
    grade_submissions(course, [(a, s) for a in assignments for s in pending(course, a)],
                      jobs=JOBS, limits=Limits(), unconfined=unconfined)
    for assignment in assignments:
        graded = cell_scores(course, assignment)
        table = format_table(graded, marks(course, assignment))
        print(f"\n{assignment}\n{table}\n")
        for number, bug in enumerate(course.assignment(assignment).planted_bugs, start=1):
            name = bug_sample_name(number)
            if name in graded:
                print(f"  {name}: {bug.cell}: {bug.why}")
    print("\n4/7 feedback (without hidden tests, with leak check)")
    for assignment in assignments:
        course.feedback(assignment)  # raises GradingError if a file gives a hidden test away
    print(f"    {course.step_folder('feedback')}/<student>/<assignment>/*.html")
    print("5/7 export")
    print(f"    {course.export(demo / 'grades.csv')}")
    print("6/7 class report (what the class got wrong, and the likely misconceptions)")
    for assignment in assignments:
        page, _ = write_report(load(course, assignment), course.step_folder("reports"))
        print(f"    {page}")
    print("7/7 written answers as PDFs for Gradescope (one per submission, and a template)")
    try:
        find_chromium()
    except RenderError as missing:
        print(f"    skipped: {missing}")
        assignments = []
    for assignment in assignments:
        pdfs = write_pdfs(course, assignment)
        print(f"    {pdfs[0].parent}/: {len(pdfs)} PDFs")
    print(f"demo finished in {time.perf_counter() - start:.0f} s")
