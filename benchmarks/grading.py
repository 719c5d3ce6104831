"""Grading throughput: submissions per minute with 1 and 2 parallel jobs.

Releases notebook 00 into a scratch course, makes N copies of a perfect submission (one
student each) and grades them with the isolated grader for each job count. Prints
submissions per minute and the per-submission peak memory (RSS of the sandbox's process
tree). Run: ``python benchmarks/grading.py [--submissions 8] [--jobs 1 2]``.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from autograder.course import Course  # noqa: E402
from autograder.isolated import IsolatedGrader, warm_cache  # noqa: E402
from autograder.limits import Limits  # noqa: E402
from autograder.samples import filled  # noqa: E402
from autograder.submissions import collect  # noqa: E402
from cs182meta.device import describe  # noqa: E402

A = "00_episodes"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--submissions", type=int, default=8)
    parser.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        course = Course(Path(tmp) / "course")
        course.release([A])
        release = nbformat.read(course.notebook("release", A), 4)
        source = nbformat.read(course.notebook("source", A), 4)
        perfect = filled(release, source)
        cache = warm_cache(course)
        print(f"machine: {describe('cpu')}")
        print(f"{args.submissions} perfect submissions of {A} per run\n")
        print("| jobs | wall time (s) | submissions / minute | peak RSS per submission (MB) |")
        print("| --- | --- | --- | --- |")
        for jobs in args.jobs:
            for step in ("submitted", "autograded", "archive"):
                shutil.rmtree(course.step_folder(step), ignore_errors=True)
            inbox = Path(tmp) / f"inbox-{jobs}"
            for i in range(args.submissions):
                (inbox / f"s{i:03d}").mkdir(parents=True)
                nbformat.write(perfect, inbox / f"s{i:03d}" / f"{A}.ipynb")
            collected, _ = collect(course, inbox, [A])
            grader = IsolatedGrader(course, Limits(), cache=cache)
            start = time.perf_counter()
            outcomes = grader.grade_all(A, [c.student for c in collected], jobs=jobs)
            wall = time.perf_counter() - start
            written = 2  # the written answer is graded by hand
            assert all(o.score == o.max_score - written for o in outcomes), "a perfect one lost points"
            peak = statistics.median(o.peak_mb for o in outcomes)
            print(f"| {jobs} | {wall:.0f} | {len(outcomes) / wall * 60:.1f} | {peak:.0f} |")


if __name__ == "__main__":
    main()
