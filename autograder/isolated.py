"""Parallel, isolated autograding.

nbgrader's own ``autograde`` runs student code inside the course folder, next to the
gradebook and every other submission. Here each submission is graded in three steps:

1. **sanitize** (this process): read the submission, restore the read-only and test
   cells from the gradebook (hidden tests included, deleted cells added back), clear
   outputs — nbgrader's own sanitize preprocessors;
2. **execute** (a child process, :mod:`autograder.sandbox`, with a per-cell timeout):
   :mod:`autograder.supervision` starts it inside bubblewrap where it works
   (:mod:`autograder.confinement`), else unconfined in a throwaway folder, with a
   private copy of the dataset cache, and enforces a wall-time limit for the whole
   submission and a memory limit on all its processes. The notebook goes in on its
   stdin, its test cells blank; each executed cell's outputs come back on its stdout as
   they are ready, and this process validates them (:class:`Results`) — there is no
   file to forge. Test cells are judged by :mod:`autograder.judge`, a process that never
   runs student code, through :class:`autograder.judging.JudgeLink`;
3. **score** (this process): test cells score pass or fail (:func:`pass_or_fail`), then
   the rest of nbgrader's autograde preprocessors (``SaveAutoGrades`` writes the scores).

Whatever goes wrong with one submission is that submission's row and message, never
the end of the run.

Both lists are nbgrader's (``nbgrader.converters.Autograde``), configured by the course's
``nbgrader_config.py``; see :func:`sanitize_steps` and :func:`score_steps` for the two
places the kit differs.

Only this process reads or writes the gradebook and the course folder, one submission
at a time; the children run ``jobs`` at once.
"""

from __future__ import annotations

import copy
import json
import os
import subprocess
import sys
import threading
import time
import traceback
import uuid
import warnings
import weakref
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ExecutePreprocessor
from nbformat.v4 import new_markdown_cell
from nbformat.v4.nbbase import validate as validate_node
from nbgrader.preprocessors import OverwriteCells
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from autograder import confinement, supervision
from autograder.course import Course, total
from autograder.judging import JudgeLink, JudgePool, for_the_sandbox
from autograder.leaks import carries_the_source
from autograder.limits import MAX_ATTACHMENT, MAX_NOTEBOOK_BYTES, MAX_RESULTS_BYTES, Limits
from autograder.nbgrader_api import (
    autograde_preprocessors,
    grade_id,
    is_test_cell,
    run_preprocessors,
)
from autograder.sandbox import cap_outputs, error_output, mark_unexecuted
from autograder.supervision import Outbox
from cs182meta.settings import grading_environment


@dataclass
class Outcome:
    student: str
    assignment: str
    score: float
    max_score: float
    seconds: float
    peak_mb: float
    message: str = ""
    confined: bool = True  # False: graded without a sandbox (``--unconfined``)
    flags: tuple[str, ...] = ()  # for the course staff: signs of a copied source notebook


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
    nb = copy.deepcopy(course.assignment(assignment).release)
    nb.cells.insert(0, new_markdown_cell(f"**Your submission could not be graded:** {reason}"))
    for cell in nb.cells:
        if is_test_cell(cell):
            cell.outputs = [error_output("SubmissionUnreadable", reason)]
    return nb


def warm_cache(course: Course) -> Path:
    """The course's own dataset cache, generated once; each sandbox gets a copy, so no
    submission can change the data another one is graded on."""
    cache = course.step_folder("cache")
    if not any(cache.glob("*.npz")):
        env = grading_environment(os.environ, cache=cache)  # the dataset grading runs on
        subprocess.run([sys.executable, "-c", "from cs182meta.data import load; load(split='all')"],
                       env=env, check=True)
    return cache


def clean_submission(nb, known: set[str]) -> list[str]:
    """Make a submission safe for nbgrader's preprocessors; return what was changed.

    * nbgrader metadata whose id is not a cell of this assignment (a test cell pasted
      from another notebook), or that repeats an id (a cell duplicated by copy and
      paste: the last copy keeps it, as in nbgrader's ``DeduplicateIds``), or that is
      not a dictionary, is removed: the cell stays, as the student's own code;
    * an attachment over :data:`MAX_ATTACHMENT` is removed, with a note in its cell.
    """
    notes, seen = [], set()
    for cell in reversed(nb.cells):
        meta = cell.get("metadata", {}).get("nbgrader")
        if meta is not None:
            gid = meta.get("grade_id") if isinstance(meta, dict) else None
            if gid not in known or gid in seen:
                del cell.metadata["nbgrader"]
                notes.append(f"a cell whose grading id {str(gid)[:64]!r} is "
                             + ("repeated" if gid in seen else "not this assignment's")
                             + " is graded as your own code")
            else:
                seen.add(gid)
        attachments = cell.get("attachments") or {}
        for name in list(attachments):
            size = len(json.dumps(attachments[name]))
            if size > MAX_ATTACHMENT:
                del attachments[name]
                cell.source += (f"\n\n*[attachment {name[:100]!r} removed by the grader: "
                                f"{size / 2**20:.1f} MB, over {MAX_ATTACHMENT / 2**20:.0f} MB]*")
                notes.append(f"attachment {name[:100]!r} removed ({size / 2**20:.1f} MB)")
    return notes[::-1]


def pass_or_fail(nb, partial: dict[str, float]) -> None:
    """Test cells score pass or fail.

    nbgrader credits a test cell with the value of its first ``execute_result``, even
    one produced before an error, and fails a cell over a value above its points. Here
    a result is only a display, except in a cell whose source opts in to partial credit
    (``partial``: grade id → points), where it counts only if the cell raised nothing,
    and is clipped to ``[0, points]`` (a value that is not a number counts 0)."""
    for cell in nb.cells:
        if not is_test_cell(cell):
            continue
        outputs = cell.get("outputs", [])
        failed = any(o.output_type == "error" or
                     (o.output_type == "stream" and o.get("name") == "stderr")
                     for o in outputs)
        first = True
        for output in outputs:
            if output.output_type != "execute_result":
                continue
            points = partial.get(grade_id(cell))
            if points is None or failed or not first:
                output.output_type = "display_data"
                output.pop("execution_count", None)
                continue
            first = False
            try:
                value = float(str(output.get("data", {}).get("text/plain", "")).strip())
            except ValueError:
                value = 0.0
            value = 0.0 if value != value else min(max(value, 0.0), points)  # NaN → 0
            output["data"] = {"text/plain": f"{value:g}"}


class Results:
    """The sandbox's result lines, validated and merged into ``nb`` (see
    :mod:`autograder.sandbox`). Only outputs and execution counts of code cells are
    taken, each cell at most once and in order; anything else stops the reading with
    ``problem`` set."""

    def __init__(self, nb, link=None):
        self.nb = nb
        self.link = link  # the judge (autograder.judging.JudgeLink): test cells are its
        self.pending = bytearray()
        self.total = 0
        self.last = -1
        self.done = False
        self.message: str | None = None
        self.problem: str | None = None
        self.malformed = False  # a line the sandbox would never write: nothing counts

    def feed(self, data: bytes) -> None:
        if self.problem:
            return
        self.total += len(data)
        if self.total > MAX_RESULTS_BYTES:
            self.problem = (f"the notebook's outputs came to over "
                            f"{MAX_RESULTS_BYTES // 2**20} MB; the grader stopped it")
            return
        self.pending += data
        while not self.problem and b"\n" in self.pending:
            line, _, rest = bytes(self.pending).partition(b"\n")
            self.pending = bytearray(rest)
            self._line(line)

    def _line(self, line: bytes) -> None:
        try:
            record = json.loads(line)
            if self.done:
                raise ValueError("a line after the last one")
            if not isinstance(record, dict):
                raise ValueError("not an object")
            if record.get("done") is True and set(record) == {"done", "message"}:
                self.done = True
                self.message = str(record["message"])[:2000] if record["message"] else None
                return
            if self.link is not None and "judge" in record:
                self.link.judge_point(record, self.last)
                self.last = record["judge"]
            elif self.link is not None and "reply" in record:
                self.link.reply(record)
            else:
                self._cell(record)
        except (ValueError, TypeError, KeyError, RecursionError, nbformat.ValidationError) as err:
            self.malformed = True
            self.problem = (f"the results of the notebook's process were not what the "
                            f"grader sends ({str(err)[:200]}), so none of them count")

    def _cell(self, record: dict) -> None:
        if set(record) != {"cell", "id", "execution_count", "outputs"}:
            raise ValueError("unexpected fields")
        index, count, outputs = record["cell"], record["execution_count"], record["outputs"]
        if type(index) is not int or not self.last < index < len(self.nb.cells):
            raise ValueError(f"cell {index!r} out of order")
        cell = self.nb.cells[index]
        if cell.cell_type != "code" or record["id"] != cell.get("id"):
            raise ValueError(f"cell {index} is not the code cell sent")
        if self.link is not None and (is_test_cell(cell) or not self.link.idle):
            raise ValueError(f"cell {index}'s results are the judge's")
        if count is not None and type(count) is not int:
            raise ValueError("bad execution count")
        if not isinstance(outputs, list):
            raise ValueError("outputs are not a list")
        for output in outputs:
            validate_node(output, "output")
        cell.outputs = [nbformat.from_dict(o) for o in cap_outputs(outputs)]
        cell.execution_count = count
        self.last = index


class IsolatedGrader:
    """Grades submissions of one course. ``sandbox``: ``"bwrap"`` (bubblewrap, or
    :class:`autograder.confinement.SandboxUnavailable`), ``"user"`` (the container mode:
    an unprivileged uid per submission), ``"none"`` (unconfined, asked for) or ``"auto"``
    (see :func:`autograder.confinement.confinement`); ``cgroups``: use a memory cgroup
    per submission where one can be made."""

    def __init__(self, course: Course, limits: Limits = Limits(), cache: Path | None = None,
                 sandbox: str = "bwrap", cgroups: bool = True):
        self.course = course
        self.config = course.config()
        self.limits = limits
        self.cache = cache  # warm dataset cache, copied into each sandbox
        self._db = threading.Lock()  # gradebook and course folder: one writer
        self.threads = os.cpu_count() or 1  # torch threads per sandbox
        self.bwrap = confinement.confinement(course.root, sandbox)
        self.judges = JudgePool(cache)
        weakref.finalize(self, self.judges.close)  # no idle judge outlives its grader
        self.cgroups = cgroups

    @property
    def confined(self) -> bool:
        return self.bwrap is not None

    # ------------------------------------------------------------------ parent side
    def sanitize(self, assignment: str, student: str):
        """The submission ready to run, or None and why not; and the signs that it was
        made from the source notebook (:func:`autograder.leaks.carries_the_source`)."""
        submitted = self.course.notebook("submitted", assignment, student)
        resources = self.course.nbgrader_resources(assignment, student)
        with self._db, warnings.catch_warnings():
            warnings.simplefilter("ignore", SAWarning)  # nbgrader's own ORM use
            known = self.course.register_submission(assignment, student)
            size = submitted.stat().st_size
            if size > MAX_NOTEBOOK_BYTES:
                return None, (f"{submitted.name} is {size / 2**20:.0f} MB, over the "
                              f"{MAX_NOTEBOOK_BYTES // 2**20} MB limit for a notebook"), []
            try:
                nb = nbformat.read(submitted, as_version=4)
                nbformat.validate(nb)
            except Exception as err:  # noqa: BLE001 — any unreadable file is the same case
                return (None, f"{submitted.name} is not a valid notebook "
                              f"({err.__class__.__name__})", [])
            flags = carries_the_source(self.course.assignment(assignment).source, nb,
                                       self.course.markers())
            notes = clean_submission(nb, known)
            nb = run_preprocessors(sanitize_steps(self.config), nb, resources)
            if notes:
                nb.cells.insert(0, new_markdown_cell("**Grader:** " + "; ".join(notes)))
            return nb, "", flags

    def score(self, assignment: str, student: str, nb) -> tuple[float, float]:
        """nbgrader's scoring steps on the executed ``nb`` (``SaveAutoGrades`` writes the
        gradebook), the autograded notebook saved; return (score, max score)."""
        with self._db:
            resources = self.course.nbgrader_resources(assignment, student)
            nb = run_preprocessors(score_steps(self.config), nb, resources)
            self.course.save_autograded(assignment, student, nb)
            cells, table = self.course.scores(assignment, student)
        return total(table.get(student, {})), sum(c.max_score for c in cells)

    # ------------------------------------------------------------------ child side
    def execute(self, nb) -> tuple[object, float, str]:
        """Run ``nb`` in a sandbox process; return (executed nb, peak MB, message)."""
        _unique_ids(nb)  # the sandbox's results name cells by id (a restored cell has none)
        argv = [sys.executable, "-m", "autograder.sandbox", f"--cell-timeout={self.limits.cell_s}"]
        result = _without_outputs(copy.deepcopy(nb))
        outbox = Outbox(for_the_sandbox(nb).encode())
        link = JudgeLink(result, outbox, self.judges, self.threads)
        results = Results(result, link)
        try:
            with supervision.start(argv, self.limits, bwrap=self.bwrap, cache=self.cache,
                                   threads=self.threads, cgroups=self.cgroups) as sandbox:
                peak, message = sandbox.watch(
                    outbox, results.feed, lambda: results.problem or link.problem,
                    readers=((link.process.stdout, link.feed),))
        finally:
            link.close()
        if link.problem and not results.problem:
            message = message or link.problem
        if results.malformed:  # forged or corrupted: keep nothing it said
            _without_outputs(result)
        if not message:
            if results.problem:
                message = results.problem
            elif results.done and sandbox.returncode == 0:
                message = results.message or ""
            else:
                message = (f"the notebook's process stopped before it finished (exit "
                           f"status {sandbox.returncode}); later cells did not run")
        mark_unexecuted(result, message or "the grader stopped before this cell ran")
        return result, peak, message

    # ------------------------------------------------------------------ one submission
    def grade(self, assignment: str, student: str) -> Outcome:
        """Grade one submission; whatever fails is this submission's message."""
        start = time.perf_counter()
        try:
            return self._grade(assignment, student, start)
        except Exception as err:  # noqa: BLE001 — one submission never ends the run
            print(f"grading {student}/{assignment} failed:\n{traceback.format_exc()}",
                  file=sys.stderr)
            message = (f"the grader failed on this submission ({err.__class__.__name__}: "
                       f"{str(err)[:300]}); please tell the course staff")
            try:
                with self._db:
                    self.course.register_submission(assignment, student)
                score, max_score = self.score(assignment, student,
                                              _unreadable(self.course, assignment, message))
            except Exception:  # noqa: BLE001
                score, max_score = 0.0, 0.0
            return Outcome(student, assignment, score, max_score,
                           time.perf_counter() - start, 0.0, message, self.confined)

    def _grade(self, assignment: str, student: str, start: float) -> Outcome:
        nb, problem, flags = self.sanitize(assignment, student)
        peak = 0.0
        if nb is None:
            nb, message = _unreadable(self.course, assignment, problem), problem
        else:
            nb, peak, message = self.execute(nb)
            if message:
                nb.cells.insert(0, new_markdown_cell(f"**Grader:** {message}"))
            pass_or_fail(nb, self.course.assignment(assignment).partial_credit)
        score, max_score = self.score(assignment, student, nb)
        return Outcome(student, assignment, score, max_score,
                       time.perf_counter() - start, peak, message, self.confined, tuple(flags))

    def grade_all(self, assignment: str, students: list[str], jobs: int = 1) -> list[Outcome]:
        return self.grade_many([(assignment, student) for student in students], jobs)

    def grade_many(self, work: list[tuple[str, str]], jobs: int = 1) -> list[Outcome]:
        """Grade ``(assignment, student)`` pairs, ``jobs`` at a time (of any assignments,
        so that no core waits for the next notebook)."""
        self.threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
        try:
            with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
                return list(pool.map(lambda item: self.grade(*item), work))
        finally:
            self.judges.close()


def _without_outputs(nb):
    """``nb`` with every code cell's outputs and execution count cleared."""
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
    return nb


def _unique_ids(nb) -> None:
    """Give every cell an id of its own, as nbformat does when it reads a notebook."""
    seen = set()
    for cell in nb.cells:
        if not cell.get("id") or cell["id"] in seen:
            cell["id"] = uuid.uuid4().hex[:8]
            while cell["id"] in seen:
                cell["id"] = uuid.uuid4().hex[:8]
        seen.add(cell["id"])

