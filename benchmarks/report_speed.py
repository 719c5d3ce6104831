"""How long the class report takes for a large class (issue 15: 400 submissions ≤ 10 s).

    python benchmarks/report_speed.py --template build/demo/course --assignment 02_nonparametric

builds a synthetic course of ``--copies`` autograded submissions by copying the graded
submissions of a real course (``--template``: one graded by ``make demo`` or the grading
pipeline) round-robin — notebooks, gradebook rows, grading logs — then times
``python -m autograder report`` on it as an instructor runs it (a fresh process, imports
included) and prints the seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from autograder.course import Course

REPO = Path(__file__).resolve().parents[1]


def synthetic_course(template: Course, assignment: str, copies: int, dest: Path) -> Course:
    """``copies`` submissions of ``assignment`` in a new course at ``dest``, each a copy
    of one of ``template``'s graded submissions (its notebook, grades and log)."""
    originals = template.students("autograded", assignment)
    if not originals:
        raise SystemExit(f"{template.root} has no autograded {assignment}: grade it first")
    course = Course(dest)
    dest.mkdir(parents=True)
    for part in ("nbgrader_config.py", "gradebook.db", f"source/{assignment}",
                 f"misconceptions/{assignment}.json"):
        src = template.root / part
        if src.is_dir():
            shutil.copytree(src, dest / part)
        elif src.exists():
            (dest / part).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(src, dest / part)
    with course.gradebook() as gb:
        grades = {s: {g.name: (g.auto_score, g.manual_score, g.needs_manual_grade)
                      for g in gb.find_submission_notebook(assignment, assignment, s).grades}
                  for s in originals}
        for student in originals:  # the template's own rows: the copies replace them
            gb.remove_submission(assignment, student)
        for number in range(copies):
            original = originals[number % len(originals)]
            student = f"s{number:04d}-{original}"
            gb.update_or_create_student(student)
            gb.add_submission(assignment, student)
            for grade in gb.find_submission_notebook(assignment, assignment, student).grades:
                grade.auto_score, grade.manual_score, grade.needs_manual_grade = \
                    grades[original][grade.name]
            target = course.notebook("autograded", assignment, student)
            target.parent.mkdir(parents=True)
            shutil.copyfile(template.notebook("autograded", assignment, original), target)
            log = template.grading_log(assignment, original)
            if log.exists():
                course.grading_log(assignment, student).parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(log, course.grading_log(assignment, student))
        gb.db.commit()
    return course


def time_report(course: Course, assignment: str) -> float:
    """Seconds of ``python -m autograder report ASSIGNMENT`` in a fresh process."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "autograder", "--course", str(course.root), "report",
                    assignment], check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", required=True, help="a course folder with graded samples")
    parser.add_argument("--assignment", default="02_nonparametric")
    parser.add_argument("--copies", type=int, default=400)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="cs182meta-report-") as tmp:
        start = time.perf_counter()
        course = synthetic_course(Course(args.template), args.assignment, args.copies,
                                  Path(tmp) / "course")
        print(f"synthetic course of {args.copies} submissions of {args.assignment} built in "
              f"{time.perf_counter() - start:.1f} s")
        times = [time_report(course, args.assignment) for _ in range(args.repeats)]
        size = sum(p.stat().st_size for p in course.step_folder("autograded").rglob("*.ipynb"))
        print(f"report of {args.copies} submissions ({size / 2**20:.0f} MB of notebooks): "
              + ", ".join(f"{t:.2f} s" for t in times) + f" (best {min(times):.2f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
