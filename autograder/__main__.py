"""``python -m autograder``: build, release, autograde, feedback, export, samples, demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from autograder import sources
from autograder.authoring import SourceError
from autograder.course import DEFAULT_ROOT, Course, GradingError
from autograder.demo import run_demo
from autograder.gradescope import build_zip
from autograder.grading import autograde
from autograder.limits import MUTANT_S, Limits
from autograder.samples import BUG_SELECTIONS, write_samples

UNCONFINED_HELP = ("grade without bubblewrap, where it cannot run: student code then runs as "
                   "you, able to read and write what you can (the score table, the grading log "
                   "and the class report say so)")


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


def _past_due(values: list[str] | None) -> list[str]:
    """``--past-due 01_blackbox,02_nonparametric`` (repeatable): the assignments whose
    deadline the instructor confirms has passed (none when the flag is absent or empty)."""
    names = [name for value in values or [] for name in value.split(",") if name]
    return _assignments(names) if names else []


def _add_past_due(parser) -> None:
    parser.add_argument("--past-due", action="append", metavar="NAMES",
                        help="assignments (comma-separated, repeatable) whose deadline has passed: "
                             "needed to release one that shows their solutions (04_families)")


def cmd_release(args) -> None:
    course = Course(args.course)
    past_due = _past_due(args.past_due)
    names = _assignments(args.assignments)
    if not args.assignments:  # "everything": all that can go out now, and say what cannot
        held = {name: course.not_past_due(name, past_due) for name in names}
        for name, not_due in held.items():
            if not_due:
                print(f"not released: {name} shows reference solutions of {', '.join(sorted(not_due))}; "
                      f"release it after they are due: python -m autograder release {name} "
                      f"--past-due {','.join(sorted(not_due))}")
        names = [name for name in names if not held[name]]
    for path in course.release(names, jobs=args.jobs, past_due=past_due):
        print(f"released {path} (leak check and validate --invert passed)")
    for warning in course.warnings:
        print(f"warning: {warning}", file=sys.stderr)


def cmd_autograde(args) -> None:
    autograde(Course(args.course), args.submissions, _assignments(args.assignment), args.jobs,
              Limits(wall_s=args.timeout, memory_mb=args.memory_mb), args.replace, args.force,
              args.unconfined)


def cmd_feedback(args) -> None:
    course = Course(args.course)
    for assignment in _assignments(args.assignments):
        folder = course.feedback(assignment, show_hidden=args.show_hidden,
                                 hints=not args.no_hints)
        what = ("with hidden tests and full tracebacks: for instructors only" if args.show_hidden
                else "without hidden tests; leak check passed")
        print(f"feedback for {assignment} in {folder} ({what})")


def cmd_export(args) -> None:
    print(f"grades written to {Course(args.course).export(args.to)}")


def cmd_gradescope(args) -> None:
    course = Course(args.course)
    for assignment in _assignments(args.assignments):
        if not course.is_released(assignment):
            course.release([assignment], past_due=_past_due(args.past_due))
        print(f"wrote {build_zip(course, assignment, Path(args.out), hints=not args.no_hints)}")


def cmd_samples(args) -> None:
    course = Course(args.course)
    assignments = _assignments(args.assignments)
    course.release(assignments, past_due=_past_due(args.past_due))
    students = write_samples(course, assignments, Path(args.out), bugs=args.bugs)
    print(f"wrote sample submissions for {', '.join(students)} to {args.out}")


def cmd_demo(args) -> None:
    run_demo(Path(args.out), _assignments(args.assignments), bugs=args.bugs,
             unconfined=args.unconfined)


def cmd_misconceptions(args) -> None:
    from autograder.misconceptions import record

    for path in record(_assignments(args.assignments)):
        print(f"wrote {path.relative_to(sources.REPO)}")


def cmd_report(args) -> None:
    from autograder.class_results import ReportInputError, load
    from autograder.report import write_report

    course = Course(args.course)
    known = sources.assignments()
    unknown = [n for n in args.assignments if n not in known]
    if unknown:
        raise ReportInputError(f"unknown assignment(s) {unknown}; known: {known}")
    if not course.root.is_dir():
        raise ReportInputError(f"no course folder {course.root}: pass --course PATH")
    names = args.assignments or course.graded_assignments()
    if not names:
        raise ReportInputError(f"{course.root} has no autograded submissions: run "
                               "`python -m autograder autograde SUBMISSIONS` first")
    classes = [load(course, name) for name in names]  # every check before any file
    out = Path(args.out) if args.out else course.step_folder("reports")
    for results in classes:
        page, table = write_report(results, out)
        print(f"{results.assignment}: {len(results.submissions)} submissions -> {page} and "
              f"{table.name}")


def cmd_mutate(args) -> None:
    from autograder.mutation import MutantsSurvived, mutate  # needs the dev extras (mutmut)

    out = Path(args.out) if args.out else None
    try:
        mutate(_assignments(args.assignments), args.exercise, args.limit, out)
    except (MutantsSurvived, ValueError) as err:
        raise GradingError(str(err)) from err


def cmd_pdfs(args) -> None:
    from autograder.pdfs import write_pdfs
    from cs182meta.pdf import RenderError

    try:
        written = write_pdfs(Course(args.course), args.assignment, Path(args.out) if args.out else None)
    except RenderError as err:
        raise GradingError(str(err)) from err
    print(f"{args.assignment}: {len(written)} PDFs (the template and one per student) in {written[0].parent}")


def cmd_corpus(args) -> None:
    from autograder.corpus import CorpusDisagrees, check_all

    try:
        check_all(_assignments(args.assignments), args.limit)
    except (CorpusDisagrees, ValueError) as err:
        raise GradingError(str(err)) from err


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
    p.add_argument("-j", "--jobs", type=int, default=1,
                   help="notebooks checked at once (each run uses cores / jobs threads)")
    _add_past_due(p)
    p = commands.add_parser("autograde", help="collect and autograde submissions")
    p.add_argument("submissions", help="a folder of student folders, or an LMS zip")
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--replace", action="store_true",
                   help="replace a collected submission that differs (the old one is archived)")
    p.add_argument("--force", action="store_true", help="regrade already graded submissions")
    p.add_argument("-j", "--jobs", type=int, default=1, help="submissions graded at once")
    p.add_argument("--timeout", type=float, default=Limits.wall_s, help="seconds per submission")
    p.add_argument("--memory-mb", type=int, default=Limits.memory_mb, help="memory per submission")
    p.add_argument("--unconfined", action="store_true", help=UNCONFINED_HELP)
    p = commands.add_parser("feedback", help="HTML feedback per student, without hidden tests")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--show-hidden", action="store_true",
                   help="nbgrader's full feedback: hidden tests, reference code, whole "
                        "tracebacks (for instructors; not leak-checked)")
    p.add_argument("--no-hints", action="store_true",
                   help="no hint under a failure that looks like a planted bug's")
    p = commands.add_parser("export", help="grades as CSV")
    p.add_argument("--to", default="build/grades.csv")
    p = commands.add_parser("gradescope", help="Gradescope autograder zips")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--out", default="build/gradescope")
    p.add_argument("--no-hints", action="store_true",
                   help="no hint in a failing test's output")
    _add_past_due(p)
    p = commands.add_parser("samples", help="write sample submissions")
    p.add_argument("assignments", nargs="*")
    _add_past_due(p)
    p.add_argument("--out", default="build/samples")
    p.add_argument("--bugs", choices=BUG_SELECTIONS, default="all",
                   help="which planted-bug samples to write (default: all)")
    p = commands.add_parser("demo", help="release, grade samples, feedback, grades")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--out", default="build/demo")
    p.add_argument("--bugs", choices=BUG_SELECTIONS, default="one",
                   help="planted-bug samples to grade: the first of each notebook (default), "
                        "of each exercise, all of them or none")
    p.add_argument("--unconfined", action="store_true", help=UNCONFINED_HELP)

    p = commands.add_parser("report", help="the class report: what the class got wrong")
    p.add_argument("assignments", nargs="*", help="default: every graded assignment")
    p.add_argument("--out", help="folder for the HTML and CSV (default <course>/reports)")

    p = commands.add_parser("misconceptions",
                            help="grade the planted bugs and record their failure signatures")
    p.add_argument("assignments", nargs="*")

    p = commands.add_parser("mutate", help="mutation analysis: wrong code the tests must reject")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--exercise", action="append", help="only this exercise (repeatable)")
    p.add_argument("--limit", type=float, default=MUTANT_S, help="seconds per mutant")
    p.add_argument("--out", help="also write the statuses as JSON to this file")

    p = commands.add_parser("pdfs", help="written answers as PDFs for a manually graded Gradescope "
                            "assignment, one per collected submission, and a template")
    p.add_argument("assignment")
    p.add_argument("--out", help="PDFs go to OUT/<assignment>/ (default <course>/pdfs)")

    p = commands.add_parser("corpus", help="correct alternatives must pass the tests, "
                            "conceptual mistakes fail them")
    p.add_argument("assignments", nargs="*")
    p.add_argument("--limit", type=float, default=MUTANT_S, help="seconds per variant")

    args = parser.parse_args(argv)
    handlers = {
        "build": cmd_build, "sync": cmd_sync, "release": cmd_release, "autograde": cmd_autograde,
        "feedback": cmd_feedback, "export": cmd_export, "samples": cmd_samples,
        "gradescope": cmd_gradescope,
        "demo": cmd_demo, "mutate": cmd_mutate, "report": cmd_report,
        "misconceptions": cmd_misconceptions, "corpus": cmd_corpus, "pdfs": cmd_pdfs,
    }
    from autograder.class_results import ReportInputError

    try:
        handlers[args.command](args)
    except ReportInputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except (GradingError, SourceError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
