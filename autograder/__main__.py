"""``python -m autograder``: build, release, autograde, feedback, export, samples, demo."""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

import nbformat

from autograder import sources
from autograder.authoring import SourceError
from autograder.course import DEFAULT_ROOT, Course, GradingError
from autograder.grades import cell_scores, format_table
from autograder.gradescope import build_zip
from autograder.isolated import IsolatedGrader, Limits, warm_cache
from autograder.samples import sample_submissions
from autograder.submissions import collect


def _assignments(names: list[str] | None) -> list[str]:
    known = sources.assignments()
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise GradingError(f"unknown assignment(s) {unknown}; known: {known}")
    return names or known


def cmd_build(args) -> None:
    for path in sources.build():
        print(f"wrote {path.relative_to(sources.REPO)}")


def cmd_sync(args) -> None:
    for name in _assignments(args.assignments):
        print(f"wrote {sources.sync(name).relative_to(sources.REPO)} from notebooks/{name}.ipynb")


def cmd_release(args) -> None:
    course = Course(args.course)
    for path in course.release(_assignments(args.assignments)):
        print(f"released {path} (leak check and validate --invert passed)")


def grade_pending(course: Course, assignment: str, jobs: int, limits: Limits,
                  force: bool = False, regrade: set[str] = frozenset()) -> None:
    """Grade every collected submission of ``assignment`` that has no autograded copy
    yet (all of them with ``force``; ``regrade`` names resubmitted students)."""
    submitted = sorted(p.parent.parent.name for p in
                       course.path("submitted").glob(f"*/{assignment}/{assignment}.ipynb"))
    pending = [s for s in submitted if force or s in regrade
               or not course.path("autograded", s, assignment, f"{assignment}.ipynb").exists()]
    grader = IsolatedGrader(course, limits, cache=warm_cache(course))
    start = time.perf_counter()
    for outcome in grader.grade_all(assignment, pending, jobs=jobs):
        note = f"  ({outcome.message})" if outcome.message else ""
        print(f"  graded {outcome.student}: {outcome.score:g}/{outcome.max_score:g} in "
              f"{outcome.seconds:.0f} s, peak {outcome.peak_mb:.0f} MB{note}")
    if pending:
        minutes = (time.perf_counter() - start) / 60
        print(f"  {len(pending)} submissions in {minutes * 60:.0f} s with {jobs} job(s): "
              f"{len(pending) / minutes:.1f} per minute")


def cmd_autograde(args) -> None:
    course = Course(args.course)
    assignments = _assignments(args.assignment)
    course.prepare(assignments)
    collected, skipped = collect(course, args.submissions, assignments, replace=args.replace)
    for reason in skipped:
        print(f"skipped {reason}")
    for item in collected:
        print(f"{item.student:20s} {item.assignment:16s} {item.status}")
    limits = Limits(wall_s=args.timeout, memory_mb=args.memory_mb)
    for assignment in assignments:
        if not course.path("release", assignment).exists():
            course.release([assignment])
        replaced = {c.student for c in collected
                    if c.assignment == assignment and c.status == "replaced"}
        grade_pending(course, assignment, args.jobs, limits, args.force, replaced)
        print(f"\n{assignment}\n{format_table(cell_scores(course, assignment))}")


def cmd_feedback(args) -> None:
    course = Course(args.course)
    for assignment in _assignments(args.assignments):
        print(f"feedback for {assignment} in {course.feedback(assignment)}")


def cmd_export(args) -> None:
    print(f"grades written to {Course(args.course).export(args.to)}")


def first_bug_per_exercise(bugs) -> set[str]:
    """Sample names (``bug-<n>``) of the first planted bug of each exercise."""
    first: dict[str, str] = {}
    for number, bug in enumerate(bugs, start=1):
        first.setdefault(bug.cell, f"bug-{number}")
    return set(first.values())


def write_samples(course: Course, assignments: list[str], out: Path,
                  all_bugs: bool = True) -> list[str]:
    """Write sample submissions (folder of student folders) for released assignments:
    perfect, blank, noisy and one per planted bug (``all_bugs``) or per exercise."""
    students = []
    for assignment in assignments:
        source_nb = nbformat.read(course.path("source", assignment, f"{assignment}.ipynb"), 4)
        release_nb = nbformat.read(course.path("release", assignment, f"{assignment}.ipynb"), 4)
        bugs = sources.planted_bugs(assignment)
        chosen = first_bug_per_exercise(bugs)
        for student, nb in sample_submissions(release_nb, source_nb, bugs).items():
            if student.startswith("bug-") and not all_bugs and student not in chosen:
                continue
            folder = out / student
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / f"{assignment}.ipynb")
            students.append(student)
    return sorted(set(students))


def cmd_gradescope(args) -> None:
    course = Course(args.course)
    for assignment in _assignments(args.assignments):
        if not course.path("release", assignment).exists():
            course.release([assignment])
        print(f"wrote {build_zip(course, assignment, Path(args.out))}")


def cmd_samples(args) -> None:
    course = Course(args.course)
    assignments = _assignments(args.assignments)
    course.release(assignments)
    students = write_samples(course, assignments, Path(args.out))
    print(f"wrote sample submissions for {', '.join(students)} to {args.out}")


def cmd_demo(args) -> None:
    start = time.perf_counter()
    demo = Path(args.out).resolve()
    if demo.exists():
        shutil.rmtree(demo)  # the demo's own folder only; never the real course
    course = Course(demo / "course")
    assignments = _assignments(args.assignments)
    print(f"1/5 release {', '.join(assignments)} (with leak check and validate --invert)")
    course.release(assignments)
    all_bugs = not args.one_bug_per_exercise
    which = "one per planted bug" if all_bugs else "the first planted bug of each exercise"
    print(f"2/5 sample submissions: perfect, blank, noisy (stderr), {which}")
    write_samples(course, assignments, demo / "submissions", all_bugs=all_bugs)
    collect(course, demo / "submissions", assignments)
    print("3/5 autograde (isolated, 2 at a time)")
    for assignment in assignments:
        grade_pending(course, assignment, jobs=2, limits=Limits())
        print(f"\n{assignment}\n{format_table(cell_scores(course, assignment))}\n")
        graded = cell_scores(course, assignment)
        for number, bug in enumerate(sources.planted_bugs(assignment), start=1):
            if f"bug-{number}" in graded:
                print(f"  bug-{number}: {bug.cell}: {bug.why}")
    print("\n4/5 feedback")
    for assignment in assignments:
        course.feedback(assignment)
    print(f"    {course.path('feedback')}/<student>/<assignment>/*.html")
    print("5/5 export")
    print(f"    {course.export(demo / 'grades.csv')}")
    print(f"demo finished in {time.perf_counter() - start:.0f} s")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder", description=__doc__)
    parser.add_argument("--course", default=str(DEFAULT_ROOT),
                        help=f"the nbgrader course folder (default {DEFAULT_ROOT})")
    commands = parser.add_subparsers(dest="command", required=True)

    commands.add_parser("build", help="rebuild notebooks/*.ipynb from notebooks/src/*.py")
    p = commands.add_parser("sync", help="bring edits of notebooks/NN_name.ipynb back to its source")
    p.add_argument("assignments", nargs="*")
    p = commands.add_parser("release", help="student versions, leak check, validate --invert")
    p.add_argument("assignments", nargs="*")
    p = commands.add_parser("autograde", help="collect and autograde submissions")
    p.add_argument("submissions", help="a folder of student folders, or an LMS zip")
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--replace", action="store_true",
                   help="replace a collected submission that differs (the old one is archived)")
    p.add_argument("--force", action="store_true", help="regrade already graded submissions")
    p.add_argument("-j", "--jobs", type=int, default=1, help="submissions graded at once")
    p.add_argument("--timeout", type=float, default=600, help="seconds per submission")
    p.add_argument("--memory-mb", type=int, default=3072, help="memory per submission")
    p = commands.add_parser("feedback", help="HTML feedback per student")
    p.add_argument("assignments", nargs="*")
    p = commands.add_parser("export", help="grades as CSV")
    p.add_argument("--to", default="build/grades.csv")
    p = commands.add_parser("gradescope", help="Gradescope autograder zips")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--out", default="build/gradescope")
    p = commands.add_parser("samples", help="write sample submissions")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--out", default="build/samples")
    p = commands.add_parser("demo", help="release, grade samples, feedback, grades")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--out", default="build/demo")
    p.add_argument("--one-bug-per-exercise", action="store_true",
                   help="grade only the first planted bug of each exercise (default: all)")

    args = parser.parse_args(argv)
    handlers = {
        "build": cmd_build, "sync": cmd_sync, "release": cmd_release, "autograde": cmd_autograde,
        "feedback": cmd_feedback, "export": cmd_export, "samples": cmd_samples,
        "gradescope": cmd_gradescope,
        "demo": cmd_demo,
    }
    try:
        handlers[args.command](args)
    except (GradingError, SourceError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
