"""The nbgrader course folder: the one module that knows its layout and its gradebook.

Layout under ``root`` (default ``build/course``; git ignores ``build/``), nbgrader's
``{nbgrader_step}/{student_id}/{assignment_id}`` (``CourseDirectory``) plus the kit's own
folders::

    nbgrader_config.py                      autograder/nbgrader_config.py, limits written in
    source/<assignment>/<assignment>.ipynb  staged from notebooks/<assignment>.ipynb
    release/<assignment>/...                the student version
    submitted/<student>/<assignment>/...    collected submissions (+ timestamp.txt)
    autograded/  feedback/  gradebook.db    nbgrader's outputs
    archive/<student>/<assignment>/<stamp>  submissions replaced by newer ones
    grading_log/<assignment>/<student>.json seconds, peak memory, the grader's message
    misconceptions/<assignment>.json        the planted bugs' failure signatures
                                            (autograder.diagnosis), written at release
    release/<assignment>/<assignment>.hints.json
                                            the visible tests' hints (cs182meta.hints)
    reports/                                the class report (autograder.report)
    pdfs/<assignment>/<student>.pdf         written answers for Gradescope (autograder.pdfs)
    cache/                                  the dataset every submission is graded on

Every other module asks a :class:`Course` for a path (:meth:`Course.notebook`,
:meth:`Course.folder`, ...), for an :class:`Assignment` (its notebooks and cells, read
once), for the gradebook (:meth:`Course.gradebook`) and for scores
(:meth:`Course.scores`, the one score rule).
"""

from __future__ import annotations

import csv
import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
import warnings
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import nbformat
from nbgrader.api import Assignment as AssignmentRow
from nbgrader.api import Grade as GradeRow
from nbgrader.api import (
    Gradebook,
    GradeCell,
    MissingEntry,
    Notebook,
    SubmittedAssignment,
    SubmittedNotebook,
)
from nbgrader.coursedir import CourseDirectory
from sqlalchemy.exc import SAWarning
from traitlets.config import Config

from autograder import sources
from autograder.authoring import PlantedBug
from autograder.diagnosis import Catalogue, StaleSignatures, catalogue, student_hints
from autograder.leaks import (
    find_feedback_leaks,
    find_hints_leaks,
    find_leaks,
    find_reveals,
    readable_text,
)
from autograder.nbgrader_api import (
    CONFIG_FILE,
    Markers,
    course_config,
    course_config_text,
    describe_validation,
    grade_id,
    gradebook_url,
    is_graded,
    is_test_cell,
    markers,
)
from cs182meta.hints import SUFFIX as HINTS_SUFFIX
from cs182meta.settings import grading_environment

DEFAULT_ROOT = sources.REPO / "build" / "course"
PARTIAL_CREDIT = "partial_credit"  # source test cell metadata["cs182meta"][...] opts in
NBGRADER_STEPS = ("source", "release", "submitted", "autograded", "feedback")
# The columns of nbgrader's own CSV export, kept so that existing spreadsheets still fit.
CSV_COLUMNS = ("assignment", "duedate", "timestamp", "student_id", "last_name", "first_name",
               "email", "raw_score", "late_submission_penalty", "score", "max_score")
# A spreadsheet reads a text cell that starts with one of these as a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _thread_env(threads: int | None) -> dict:
    """OpenMP threads for a notebook's kernel: unset leaves torch's default (all cores)."""
    return {} if threads is None else {"OMP_NUM_THREADS": str(threads),
                                       "MKL_NUM_THREADS": str(threads)}


class GradingError(RuntimeError):
    """A pipeline step failed; the message says which and why."""


@dataclass(frozen=True)
class GradedCell:
    """A graded cell of an assignment: an autograded test or a written answer."""

    name: str
    kind: str  # "code" (autograded test) or "markdown" (written answer, graded by hand)
    max_score: float


class Assignment:
    """One assignment of a course as staged: its source and release notebooks, planted
    bugs, misconception catalogue and graded cells, each read once (ask the course again,
    :meth:`Course.assignment`, after it stages a new version)."""

    def __init__(self, course: Course, name: str):
        self.course = course
        self.name = name

    def __repr__(self) -> str:
        return f"Assignment({self.name!r}, course={str(self.course.root)!r})"

    @cached_property
    def source(self):
        """The staged source notebook (solutions and hidden tests)."""
        return nbformat.read(self.course.notebook("source", self.name), 4)

    @cached_property
    def release(self):
        """The student version, as released."""
        return nbformat.read(self.course.notebook("release", self.name), 4)

    @cached_property
    def planted_bugs(self) -> list[PlantedBug]:
        return sources.planted_bugs(self.name)

    @cached_property
    def catalogue(self) -> Catalogue | None:
        """The misconception catalogue stored at release (None: none is current)."""
        path = self.course.misconceptions_path(self.name)
        return Catalogue.load(path) if path.exists() else None

    @cached_property
    def cells(self) -> list[GradedCell]:
        """The graded cells of the source, in the notebook's order."""
        return [GradedCell(grade_id(c), "code" if c.cell_type == "code" else "markdown",
                           float(c.metadata["nbgrader"].get("points", 0)))
                for c in self.source.cells if is_graded(c)]

    @property
    def tests(self) -> list[GradedCell]:
        return [c for c in self.cells if c.kind == "code"]

    @property
    def written(self) -> list[GradedCell]:
        return [c for c in self.cells if c.kind != "code"]

    @property
    def points(self) -> float:
        return sum(c.max_score for c in self.cells)

    @cached_property
    def hidden_tests(self) -> set[str]:
        """The test cells with hidden tests (as the course's delimiters mark them)."""
        delimiters = self.course.markers()
        return {grade_id(c) for c in self.source.cells
                if is_test_cell(c) and delimiters.has_hidden(c.source)}

    @cached_property
    def partial_credit(self) -> dict[str, float]:
        """Test cells whose source opts in to partial credit: grade id → points."""
        return {grade_id(c): float(c.metadata["nbgrader"].get("points", 0))
                for c in self.source.cells
                if is_test_cell(c) and c.metadata.get("cs182meta", {}).get(PARTIAL_CREDIT)}


def total(row: dict[str, float | None]) -> float:
    """A student's total over ``row`` (cell → score; a pending written answer counts 0)."""
    return sum(score or 0.0 for score in row.values())


def spreadsheet_text(value: str) -> str:
    """``value`` as a spreadsheet shows it as text, never as a formula: a leading
    ``=``, ``+``, ``-``, ``@``, tab or carriage return gets a ``'`` in front."""
    return "'" + value if value.startswith(FORMULA_STARTS) else value


class Course:
    """An nbgrader course folder: every path in it, its assignments, its gradebook and
    the pipeline's steps (stage, release + checks, feedback + leak check, export)."""

    def __init__(self, root: Path | str = DEFAULT_ROOT):
        self.root = Path(root).resolve()
        self.warnings: list[str] = []  # what a step could not do, for the command to print
        self._assignments: dict[str, Assignment] = {}

    # ------------------------------------------------------------------ nbgrader
    def nbgrader(self, *args: str, check: bool = True, env: dict | None = None,
                 module: str = "nbgrader"):
        """Run ``nbgrader ARGS`` in the course folder (``python -m MODULE ARGS`` for another
        program on nbgrader's API); raise GradingError on failure."""
        bin_dir = os.path.dirname(sys.executable)  # nbgrader runs `alembic` from PATH
        full_env = grading_environment(
            {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
        )
        full_env.update(env or {})
        done = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=self.root, env=full_env, capture_output=True, text=True, check=False,
        )
        program = "nbgrader" if module == "nbgrader" else f"python -m {module}"
        if check and done.returncode != 0:
            raise GradingError(
                f"`{program} {' '.join(args)}` failed (exit {done.returncode}):\n"
                f"{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
            )
        return done

    # ------------------------------------------------------------------ folders
    @property
    def config_file(self) -> Path:
        return self.root / CONFIG_FILE

    def config(self) -> Config:
        """The course's nbgrader configuration (its ``nbgrader_config.py``)."""
        return course_config(self.root)

    def markers(self) -> Markers:
        """nbgrader's solution and hidden-test delimiters, as this course configures them."""
        return markers(self.root)

    @cached_property
    def _directory(self) -> CourseDirectory:
        """nbgrader's own path logic, with the course's config (its folder names)."""
        return CourseDirectory(config=self.config(), root=str(self.root))

    @property
    def gradebook_file(self) -> Path:
        return Path(gradebook_url(self.root).removeprefix("sqlite:///"))

    def step_folder(self, step: str) -> Path:
        """The folder of one nbgrader step (``source``, ``release``, ``submitted``,
        ``autograded``, ``feedback``) or of one of the kit's (``archive``,
        ``grading_log``, ``misconceptions``, ``reports``, ``pdfs``, ``cache``)."""
        if step in NBGRADER_STEPS:
            return self.root / getattr(self._directory, f"{step}_directory")
        return self.root / step

    def folder(self, step: str, assignment: str, student: str | None = None) -> Path:
        """An assignment's folder in ``step``: a student's for ``submitted``,
        ``autograded`` and ``feedback``; ``student=None`` for ``source`` and ``release``."""
        step_dir = getattr(self._directory, f"{step}_directory")
        path = self._directory.format_path(step_dir, student or ".", assignment)
        return Path(os.path.normpath(path))

    def notebook(self, step: str, assignment: str, student: str | None = None) -> Path:
        """The assignment's notebook in ``step`` (see :meth:`folder`)."""
        return self.folder(step, assignment, student) / f"{assignment}.ipynb"

    def students(self, step: str, assignment: str) -> list[str]:
        """The students with a notebook of ``assignment`` in ``step`` (``submitted`` or
        ``autograded``), or with a folder of it (``feedback``: HTML and whatever else
        the feedback wrote), sorted."""
        folder = self.step_folder(step)
        if not folder.is_dir():
            return []
        found = (self.folder if step == "feedback" else self.notebook)
        return sorted(d.name for d in folder.iterdir() if found(step, assignment, d.name).exists())

    def graded_assignments(self) -> list[str]:
        """Assignments with at least one autograded submission."""
        folder = self.step_folder("autograded")
        found = {p.name for p in folder.glob("*/*")} if folder.is_dir() else set()
        return sorted(a for a in found if self.students("autograded", a))

    def is_released(self, assignment: str) -> bool:
        return self.folder("release", assignment).exists()

    def timestamp(self, assignment: str, student: str) -> str | None:
        """When the submission was collected (``submitted/…/timestamp.txt``), or None."""
        stamp = self.folder("submitted", assignment, student) / "timestamp.txt"
        return (stamp.read_text().strip() or None) if stamp.exists() else None

    def archive_folder(self, assignment: str, student: str, stamp: str) -> Path:
        """Where a replaced submission collected at ``stamp`` is kept."""
        return self.step_folder("archive") / student / assignment / stamp

    def grading_log(self, assignment: str, student: str) -> Path:
        """Where the grading of one submission is logged: seconds, peak memory and the
        grader's message (a limit hit, an unreadable file), for the class report."""
        return self.step_folder("grading_log") / assignment / f"{student}.json"

    def grading_record(self, assignment: str, student: str) -> dict:
        """What :meth:`grading_log` holds for one submission (``{}`` if nothing)."""
        path = self.grading_log(assignment, student)
        try:
            record = json.loads(path.read_text())
        except (OSError, ValueError):
            return {}
        return record if isinstance(record, dict) else {}

    def misconceptions_path(self, assignment: str) -> Path:
        return self.step_folder("misconceptions") / f"{assignment}.json"

    def assignment(self, name: str) -> Assignment:
        """The :class:`Assignment` ``name``, read once (until it is staged again)."""
        if name not in self._assignments:
            self._assignments[name] = Assignment(self, name)
        return self._assignments[name]

    def prepare(self, assignments: list[str]) -> None:
        """Create the folder, its config, and stage the source notebooks."""
        self.root.mkdir(parents=True, exist_ok=True)
        self.config_file.write_text(course_config_text())
        self.__dict__.pop("_directory", None)  # the config may have changed
        for name in assignments:
            notebook = sources.NOTEBOOKS / f"{name}.ipynb"
            if not notebook.exists():
                raise GradingError(f"{notebook} is missing; run `python -m autograder build`")
            target = self.notebook("source", name)
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or not filecmp.cmp(notebook, target, shallow=False):
                shutil.copyfile(notebook, target)
                self._assignments.pop(name, None)

    # ------------------------------------------------------------------ gradebook
    @contextmanager
    def gradebook(self) -> Iterator[Gradebook]:
        """nbgrader's gradebook of this course, open (nbgrader's own ORM warnings off)."""
        with warnings.catch_warnings(), Gradebook(gradebook_url(self.root)) as gb:
            warnings.simplefilter("ignore", SAWarning)
            yield gb

    def nbgrader_resources(self, assignment: str, student: str) -> dict:
        """What nbgrader's autograde preprocessors need to know of one submission."""
        return {"nbgrader": {"db_url": gradebook_url(self.root), "assignment": assignment,
                             "notebook": assignment, "student": student}}

    def register_submission(self, assignment: str, student: str) -> set[str]:
        """The student and the submission (with its collection time) in the gradebook;
        return the assignment's cell ids."""
        timestamp = self.timestamp(assignment, student)
        with self.gradebook() as gb:
            gb.update_or_create_student(student)
            gb.update_or_create_submission(assignment, student,
                                           **({"timestamp": timestamp} if timestamp else {}))
            return {c.name for c in gb.find_notebook(assignment, assignment).source_cells}

    def name_students(self, names: dict[str, str]) -> None:
        """Students collected by LMS id keep the LMS's name (``{id: name}``) in the
        gradebook (``last_name``, which :meth:`export` writes), so that two students who
        share a name stay two rows."""
        if names:
            with self.gradebook() as gb:
                for student, name in names.items():
                    gb.update_or_create_student(student, last_name=name, lms_user_id=student)

    def save_autograded(self, assignment: str, student: str, nb) -> Path:
        """Write the autograded notebook (scores already saved by nbgrader's
        ``SaveAutoGrades``) beside a copy of the submission's timestamp."""
        out = self.folder("autograded", assignment, student)
        out.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, out / f"{assignment}.ipynb")
        stamp = self.folder("submitted", assignment, student) / "timestamp.txt"
        if stamp.exists():
            shutil.copyfile(stamp, out / "timestamp.txt")
        return out / f"{assignment}.ipynb"

    def scores(self, assignment: str, student: str | None = None
               ) -> tuple[list[GradedCell], dict[str, dict]]:
        """The one score rule, for the grades CSV, the score table, the class report and
        Gradescope: the gradebook's graded cells of ``assignment`` and
        ``{student: {cell: score}}`` for every graded submission. A score is nbgrader's
        ``Grade.score`` (a manual score over the automatic one, plus extra credit), and
        ``None`` for a written answer that still waits for a grader. ``student``: only
        that student's row."""
        with self.gradebook() as gb:
            cells = (gb.db.query(GradeCell.name, GradeCell.cell_type, GradeCell.max_score)
                     .join(Notebook, Notebook.id == GradeCell.notebook_id)
                     .join(AssignmentRow, AssignmentRow.id == Notebook.assignment_id)
                     .filter(AssignmentRow.name == assignment, Notebook.name == assignment)
                     .all())
            rows = (gb.db.query(SubmittedAssignment.student_id, GradeCell.name, GradeRow.score,
                                GradeRow.auto_score, GradeRow.manual_score,
                                GradeRow.needs_manual_grade)
                    .join(SubmittedNotebook, SubmittedNotebook.id == GradeRow.notebook_id)
                    .join(SubmittedAssignment,
                          SubmittedAssignment.id == SubmittedNotebook.assignment_id)
                    .join(AssignmentRow, AssignmentRow.id == SubmittedAssignment.assignment_id)
                    .join(GradeCell, GradeCell.id == GradeRow.cell_id)
                    .filter(AssignmentRow.name == assignment,
                            *([SubmittedAssignment.student_id == student] if student else []))
                    .all())
        graded = [GradedCell(name, kind, float(maximum or 0.0)) for name, kind, maximum in cells]
        table: dict[str, dict[str, float | None]] = {}
        for student, cell, score, auto, manual, needs_manual in rows:
            pending = needs_manual and auto is None and manual is None
            table.setdefault(student, {})[cell] = None if pending else float(score)
        return graded, table

    # ------------------------------------------------------------------ steps
    def release(self, assignments: list[str], jobs: int = 1, past_due: Iterable[str] = ()
                ) -> list[Path]:
        """Generate the student version of each assignment, check it for leaks, and check
        that every test fails on the blank release (``nbgrader validate --invert``). The
        two runs of each notebook (its source must pass, its release must fail) go
        ``jobs`` at a time, one thread each when more than one.

        A release that shows solutions of other assignments (cells declared with
        ``reveals``, :func:`autograder.leaks.find_reveals`) is refused unless each of those
        assignments is in ``past_due``: the instructor's word that its deadline has passed."""
        past_due = set(past_due)
        unknown = sorted(past_due - set(sources.assignments()))
        if unknown:
            raise GradingError(f"--past-due names no assignment: {', '.join(unknown)}; "
                               f"the assignments are {', '.join(sources.assignments())}")
        for name in assignments:  # before anything is written
            not_due = self.not_past_due(name, past_due)
            if not_due:
                self._refuse_not_due(name, not_due)
        self.prepare(assignments)
        sources_ = [self.notebook("source", name) for name in assignments]
        self._each(self.check_source_passes, sources_, jobs)
        released = []
        for name, source in zip(assignments, sources_):
            self.nbgrader("generate_assignment", name, "--force", "--create")
            self._assignments.pop(name, None)
            release = self.notebook("release", name)
            leaks = find_leaks(nbformat.read(source, 4), nbformat.read(release, 4),
                               self.markers())
            if leaks:
                shutil.rmtree(self.folder("release", name))
                raise GradingError(
                    f"release of {name} leaks (release removed):\n  " + "\n  ".join(leaks)
                )
            self.check_reveals(name, release, past_due)
            released.append(release)
        self._each(self.check_blank_fails, released, jobs)
        for name in assignments:
            self.store_misconceptions(name)
            self.release_hints(name)
        return released

    def not_past_due(self, name: str, past_due: Iterable[str] = ()) -> dict[str, list[str]]:
        """``{other assignment: [cell ids]}``: the assignments whose solutions ``name``'s
        release would show (declared cells) and that are not in ``past_due``."""
        nb = nbformat.read(sources.NOTEBOOKS / f"{name}.ipynb", 4)
        for cell in nb.cells:  # what the release shows
            cell.source = "\n".join(self.markers().split(cell.source)[0])
        shown, _ = find_reveals(nb, self._others(name), self.markers())
        return {other: cells for other, cells in shown.items() if other not in set(past_due)}

    @staticmethod
    def _others(name: str) -> dict:
        """Every other assignment's source notebook, built from ``notebooks/src`` (with
        its solutions): what the release of ``name`` must not show undeclared."""
        return {other: sources.notebook(other) for other in sources.assignments() if other != name}

    def _refuse_not_due(self, name: str, not_due: dict[str, list[str]]) -> None:
        others = sorted(not_due)
        cells = sorted({cell for cells in not_due.values() for cell in cells})
        raise GradingError(
            f"{name} shows reference solutions of {', '.join(others)} (cells {', '.join(cells)}): "
            f"students who get it could copy them. Release it only after those assignments are "
            f"due, and confirm it: `python -m autograder release {name} --past-due "
            f"{','.join(others)}` (`make release PAST_DUE={','.join(others)}`); nothing was released")

    def check_reveals(self, name: str, release: Path, past_due: set[str]) -> None:
        """Refuse (removing the release) a release of ``name`` that shows another
        assignment's solutions undeclared, or declared but not confirmed past due."""
        shown, problems = find_reveals(nbformat.read(release, 4), self._others(name), self.markers())
        not_due = {other: cells for other, cells in shown.items() if other not in past_due}
        if problems or not_due:
            shutil.rmtree(self.folder("release", name))
        if problems:
            raise GradingError(f"release of {name} leaks other assignments (release removed):\n  "
                               + "\n  ".join(problems))
        if not_due:
            self._refuse_not_due(name, not_due)

    def _each(self, check, notebooks: list[Path], jobs: int) -> None:
        """``check(notebook, threads)`` on each notebook, ``jobs`` at a time; raise the
        first failure (in the order given) after all have run."""
        threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(check, nb, threads) for nb in notebooks]
        for future in futures:
            future.result()

    def store_misconceptions(self, assignment: str) -> None:
        """Copy the assignment's misconception catalogue into the course (outside the
        release). A stale one is removed instead, with a warning in ``self.warnings``:
        the report and hints then go without it rather than misdiagnose."""
        target = self.misconceptions_path(assignment)
        try:
            catalogue(assignment).save(target)
        except StaleSignatures as stale:
            target.unlink(missing_ok=True)
            self.assignment(assignment).__dict__.pop("catalogue", None)
            self.warnings.append(f"{assignment}: no misconception hints or diagnosis: {stale}")

    def hints_path(self, assignment: str) -> Path:
        """The hints that go to students with the release (:mod:`cs182meta.hints`)."""
        return self.folder("release", assignment) / f"{assignment}{HINTS_SUFFIX}"

    def release_hints(self, assignment: str) -> Path | None:
        """Write the release's hints file (visible-test failures and hints only), after
        the leak check; a stale recording gives no file and a warning in ``self.warnings``."""
        target = self.hints_path(assignment)
        target.unlink(missing_ok=True)
        staged = self.assignment(assignment)
        try:
            hints = student_hints(assignment, staged.release)
        except StaleSignatures as stale:
            self.warnings.append(f"{assignment}: no hints in the release: {stale}")
            return None
        text = json.dumps(hints, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
        readable = "\n".join(_strings(hints))  # as a reader sees them, without JSON's escapes
        leaks = find_hints_leaks(staged.source, readable, staged.planted_bugs, self.markers())
        if leaks:
            raise GradingError(f"the hints of {assignment} leak (not released):\n  " + "\n  ".join(leaks))
        target.write_text(text)
        return target

    @staticmethod
    def _kit_env() -> dict:
        """PYTHONPATH for a child that runs a module of this kit (``autograder``)."""
        kit = str(Path(__file__).resolve().parents[1])
        return {"PYTHONPATH": os.pathsep.join(filter(None, [kit, os.environ.get("PYTHONPATH")]))}

    def _validate(self, notebook: Path, problem: str, *flags: str, threads: int | None = None
                  ) -> None:
        """nbgrader's Validator on ``notebook`` (see :func:`autograder.nbgrader_api.validate`)
        with the same environment as the nbgrader commands; raise unless it passes."""
        with tempfile.TemporaryDirectory(prefix="cs182meta-validate-") as tmp:
            out = Path(tmp) / "results.json"
            done = self.nbgrader(
                "validate", str(notebook), str(out), *flags, module="autograder.nbgrader_api",
                check=False, env={**self._kit_env(), **_thread_env(threads)})
            results = json.loads(out.read_text()) if out.exists() else None
        if results == {}:
            return
        details = (describe_validation(results) if results
                   else f"{done.stdout[-3000:]}{done.stderr[-2000:]}")
        raise GradingError(
            f"`nbgrader validate {' '.join(flags)} {notebook.name}`: {problem}:\n{details}"
        )

    def check_source_passes(self, source: Path, threads: int | None = None) -> None:
        self._validate(source, "the source notebook, with its solutions, fails its own tests "
                               "(nothing was released)", threads=threads)

    def check_blank_fails(self, release: Path, threads: int | None = None) -> None:
        self._validate(release, "some tests pass on the blank release, so they cannot tell a "
                                "blank answer from a right one", "--invert", threads=threads)

    def feedback(self, assignment: str, show_hidden: bool = False, hints: bool = True) -> Path:
        """HTML feedback for every graded submission of ``assignment``: nbgrader's
        ``generate_feedback`` without hidden tests (:mod:`autograder.feedback`), with a
        hint under each failure that looks like a planted bug's unless not ``hints``,
        then :meth:`check_feedback`. ``show_hidden``: nbgrader's own, full feedback
        (hidden tests, reference code and whole tracebacks), for instructors; not
        leak-checked."""
        flags = (["--show-hidden"] if show_hidden else []) + ([] if hints else ["--no-hints"])
        self.nbgrader(assignment, *flags, module="autograder.feedback", env=self._kit_env())
        if not show_hidden:
            self.check_feedback(assignment)
        return self.step_folder("feedback")

    def check_feedback(self, assignment: str) -> None:
        """The leak check on every file of ``assignment``'s feedback
        (:func:`autograder.leaks.find_feedback_leaks`): remove each file that leaks, then
        raise GradingError naming them and what leaked."""
        source = self.assignment(assignment).source
        delimiters, problems = self.markers(), []
        for student in self.students("feedback", assignment):
            folder = self.folder("feedback", assignment, student)
            graded = self.notebook("autograded", assignment, student)
            student_nb = nbformat.read(graded, 4) if graded.exists() else None
            for file in sorted(p for p in folder.rglob("*") if p.is_file()):
                leaks = find_feedback_leaks(source, readable_text(file), student_nb, delimiters)
                if leaks:
                    file.unlink()
                    shown = leaks[:5] + ([f"... and {len(leaks) - 5} more"] if len(leaks) > 5 else [])
                    problems.append(f"{file.relative_to(self.root)}:\n    " + "\n    ".join(shown))
        if problems:
            raise GradingError(f"feedback of {assignment} gives hidden tests away (those files "
                               "were removed):\n  " + "\n  ".join(problems))

    def export(self, csv_path: Path | str) -> Path:
        """The grades CSV: one row per student and assignment (a missing submission is
        a row of zeros), nbgrader's columns, scores by :meth:`scores`' rule. Every field
        is quoted and a text field never reads as a spreadsheet formula
        (:func:`spreadsheet_text`)."""
        csv_path = Path(csv_path).resolve()
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        rows = []
        with self.gradebook() as gb:
            assignments = [(a.name, a.duedate) for a in gb.assignments]
            students = [(s.id, s.last_name, s.first_name, s.email) for s in gb.students]
            for name, duedate in assignments:
                cells, table = self.scores(name)
                maximum = sum(c.max_score for c in cells)
                for student, last, first, email in students:
                    try:
                        submission = gb.find_submission(name, student)
                        stamp, penalty = submission.timestamp, submission.late_submission_penalty
                    except MissingEntry:
                        stamp, penalty = None, 0.0
                    raw = total(table.get(student, {}))
                    text = [name, duedate, stamp, student, last, first, email]
                    rows.append([spreadsheet_text("" if v is None else str(v)) for v in text]
                                + [raw, penalty or 0.0, max(0.0, raw - (penalty or 0.0)),
                                   maximum])
        with open(csv_path, "w", newline="", encoding="utf-8") as out:
            writer = csv.writer(out, quoting=csv.QUOTE_ALL)
            writer.writerow(CSV_COLUMNS)
            writer.writerows(rows)
        return csv_path


def _strings(value) -> list[str]:
    """Every string in a JSON value (keys included)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        return [text for key, item in value.items() for text in [key, *_strings(item)]]
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    return []
