"""Parallel, isolated autograding.

nbgrader's own ``autograde`` runs student code inside the course folder, next to the
gradebook and every other submission. Here each submission is graded in three steps:

1. **sanitize** (this process): read the submission, restore the read-only and test
   cells from the gradebook (hidden tests included, deleted cells added back), clear
   outputs — nbgrader's own sanitize preprocessors;
2. **execute** (a child process, :mod:`autograder.sandbox`): in a throwaway folder
   holding only that notebook and a private copy of the dataset cache, with a per-cell
   timeout, a wall-time limit for the whole submission and a memory limit on its
   process tree;
3. **score** (this process): the rest of nbgrader's autograde preprocessors
   (``SaveAutoGrades`` writes the scores).

Both lists are nbgrader's (``nbgrader.converters.Autograde``), configured by the course's
``nbgrader_config.py``; see :func:`sanitize_steps` and :func:`score_steps` for the two
places the kit differs.

Only this process reads or writes the gradebook and the course folder, one submission
at a time; the children run ``jobs`` at once.
"""

from __future__ import annotations

import copy
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
import psutil
from nbconvert.preprocessors import ExecutePreprocessor
from nbformat.v4 import new_markdown_cell
from nbgrader.api import Gradebook
from nbgrader.preprocessors import OverwriteCells
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from autograder.course import Course
from autograder.nbgrader_api import (
    autograde_preprocessors,
    course_config,
    gradebook_url,
    is_test_cell,
    run_preprocessors,
)
from autograder.sandbox import error_output, mark_unexecuted
from cs182meta.settings import grading_environment


@dataclass(frozen=True)
class Limits:
    """Per-submission limits. ``memory_mb`` bounds the RSS of the whole process tree."""

    wall_s: float = 600.0
    cell_s: int = 120
    memory_mb: int = 3072


# Gradescope stops an autograder at its own timeout (10 min by default): stay inside it.
GRADESCOPE_LIMITS = Limits(wall_s=540)


@dataclass
class Outcome:
    student: str
    assignment: str
    score: float
    max_score: float
    seconds: float
    peak_mb: float
    message: str = ""


def _resources(course: Course, assignment: str, student: str) -> dict:
    return {"nbgrader": {"db_url": gradebook_url(course.root),
                         "assignment": assignment, "notebook": assignment,
                         "student": student}}


def sanitize_steps(config: Config) -> list:
    """nbgrader's sanitize preprocessors, configured."""
    sanitize, _ = autograde_preprocessors(config)
    # nbgrader leaves out a test cell that the student deleted; the kit adds it back from
    # the gradebook, so it runs (and shows in the feedback) like any other test.
    return [cls(config=config, add_missing_cells=True) if issubclass(cls, OverwriteCells)
            else cls(config=config) for cls in sanitize]


def score_steps(config: Config) -> list:
    """nbgrader's autograde preprocessors that follow execution, configured."""
    _, autograde = autograde_preprocessors(config)
    # Student code runs in the sandbox process (autograder.sandbox), never in this one,
    # which holds the gradebook: nbgrader's in-process Execute is left out.
    return [cls(config=config) for cls in autograde if not issubclass(cls, ExecutePreprocessor)]


def _unreadable(course: Course, assignment: str, reason: str):
    """The release notebook with every test failing and the reason on top: what a
    student gets back for a file that is not a readable notebook."""
    nb = nbformat.read(course.path("release", assignment, f"{assignment}.ipynb"), 4)
    nb.cells.insert(0, new_markdown_cell(f"**Your submission could not be graded:** {reason}"))
    for cell in nb.cells:
        if is_test_cell(cell):
            cell.outputs = [error_output("SubmissionUnreadable", reason)]
    return nb


def warm_cache(course: Course) -> Path:
    """The course's own dataset cache, generated once; each sandbox gets a copy, so no
    submission can change the data another one is graded on."""
    cache = course.root / "cache"
    if not any(cache.glob("*.npz")):
        env = grading_environment(os.environ, cache=cache)  # the dataset grading runs on
        subprocess.run([sys.executable, "-c", "from cs182meta.data import load; load(split='all')"],
                       env=env, check=True)
    return cache


class IsolatedGrader:
    def __init__(self, course: Course, limits: Limits = Limits(), cache: Path | None = None):
        self.course = course
        self.config = course_config(course.root)
        self.limits = limits
        self.cache = cache  # warm dataset cache, copied into each sandbox
        self._db = threading.Lock()  # gradebook and course folder: one writer
        self.threads = os.cpu_count() or 1  # torch threads per sandbox

    # ------------------------------------------------------------------ parent side
    def sanitize(self, assignment: str, student: str):
        submitted = self.course.path("submitted", student, assignment, f"{assignment}.ipynb")
        resources = _resources(self.course, assignment, student)
        with self._db, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)  # nbgrader's own ORM use
            with Gradebook(resources["nbgrader"]["db_url"]) as gb:
                gb.update_or_create_student(student)
                stamp = self.course.path("submitted", student, assignment, "timestamp.txt")
                timestamp = stamp.read_text().strip() if stamp.exists() else None
                gb.update_or_create_submission(assignment, student,
                                               **({"timestamp": timestamp} if timestamp else {}))
            try:
                nb = nbformat.read(submitted, as_version=4)
                nbformat.validate(nb)
            except Exception as err:  # noqa: BLE001 — any unreadable file is the same case
                return None, f"{submitted.name} is not a valid notebook ({err.__class__.__name__})"
            return run_preprocessors(sanitize_steps(self.config), nb, resources), ""

    def score(self, assignment: str, student: str, nb) -> tuple[float, float]:
        resources = _resources(self.course, assignment, student)
        with self._db:
            nb = run_preprocessors(score_steps(self.config), nb, resources)
            out = self.course.path("autograded", student, assignment)
            out.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, out / f"{assignment}.ipynb")
            stamp = self.course.path("submitted", student, assignment, "timestamp.txt")
            if stamp.exists():
                shutil.copyfile(stamp, out / "timestamp.txt")
            with Gradebook(resources["nbgrader"]["db_url"]) as gb:
                notebook = gb.find_submission_notebook(assignment, assignment, student)
                return notebook.score, notebook.max_score

    # ------------------------------------------------------------------ child side
    def execute(self, nb) -> tuple[object, float, str]:
        """Run ``nb`` in a sandbox process; return (executed nb, peak MB, message)."""
        with tempfile.TemporaryDirectory(prefix="cs182meta-grade-") as tmp:
            work = Path(tmp) / "work"
            work.mkdir()
            nbformat.write(nb, work / "submission.ipynb")
            env = grading_environment(os.environ, cache=Path(tmp) / "cache")
            env["HOME"] = tmp
            env["MPLBACKEND"] = "Agg"
            # Parallel kernels that each spin up all cores' worth of OpenMP threads slow
            # one another down many times over: share the cores out instead.
            env["OMP_NUM_THREADS"] = str(self.threads)
            if self.cache is not None:
                shutil.copytree(self.cache, Path(tmp) / "cache")
            command = [sys.executable, "-m", "autograder.sandbox", "submission.ipynb",
                       str(Path(tmp) / "executed.ipynb"), f"--cell-timeout={self.limits.cell_s}"]
            env["PYTHONPATH"] = os.pathsep.join(
                [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH", "")]
            )
            process = subprocess.Popen(command, cwd=work, env=env, start_new_session=True,
                                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            peak, message = self._watch(process)
            executed = Path(tmp) / "executed.ipynb"
            if executed.exists():
                result = nbformat.read(executed, as_version=4)
            else:
                result = copy.deepcopy(nb)
            mark_unexecuted(result, message or "the grader stopped before this cell ran")
            return result, peak, message

    def _watch(self, process: subprocess.Popen) -> tuple[float, str]:
        """Wait for the sandbox, enforcing the wall-time and memory limits on its tree."""
        start, peak, message = time.monotonic(), 0.0, ""
        parent = psutil.Process(process.pid)
        while process.poll() is None:
            try:
                tree = [parent, *parent.children(recursive=True)]
                rss = sum(p.memory_info().rss for p in tree) / 2**20
            except psutil.Error:
                rss = 0.0
            peak = max(peak, rss)
            if rss > self.limits.memory_mb:
                message = (f"stopped: the notebook used {rss:.0f} MB, over the "
                           f"{self.limits.memory_mb} MB limit")
                self._kill_kernels(parent)
            if time.monotonic() - start > self.limits.wall_s:
                message = f"stopped: the whole notebook ran over {self.limits.wall_s:.0f} s"
                self._kill_tree(parent)
                break
            time.sleep(0.1)
        process.wait()
        return peak, message

    @staticmethod
    def _kill_kernels(parent: psutil.Process) -> None:
        # Kill the kernel only: the sandbox notices the dead kernel and writes what ran.
        for child in parent.children(recursive=True):
            try:
                child.kill()
            except psutil.Error:
                pass

    @staticmethod
    def _kill_tree(parent: psutil.Process) -> None:
        try:
            os.killpg(parent.pid, 9)
        except OSError:
            pass

    # ------------------------------------------------------------------ one submission
    def grade(self, assignment: str, student: str) -> Outcome:
        start = time.perf_counter()
        nb, problem = self.sanitize(assignment, student)
        peak = 0.0
        if nb is None:
            nb, message = _unreadable(self.course, assignment, problem), problem
        else:
            nb, peak, message = self.execute(nb)
            if message:
                nb.cells.insert(0, new_markdown_cell(f"**Grader:** {message}"))
        score, max_score = self.score(assignment, student, nb)
        return Outcome(student, assignment, score, max_score,
                       time.perf_counter() - start, peak, message)

    def grade_all(self, assignment: str, students: list[str], jobs: int = 1) -> list[Outcome]:
        self.threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            return list(pool.map(lambda s: self.grade(assignment, s), students))
