"""A course folder for nbgrader, built from this repository's source notebooks.

Layout under ``root`` (default ``build/course``; git ignores ``build/``)::

    nbgrader_config.py                      autograder/nbgrader_config.py, limits written in
    source/<assignment>/<assignment>.ipynb  staged from notebooks/<assignment>.ipynb
    release/<assignment>/...                the student version
    submitted/<student>/<assignment>/...    collected submissions (+ timestamp.txt)
    autograded/  feedback/  gradebook.db    nbgrader's outputs
    archive/                                submissions replaced by newer ones
    grading_log/<assignment>/<student>.json seconds, peak memory, the grader's message
    misconceptions/<assignment>.json        the planted bugs' failure signatures
                                            (autograder.diagnosis), written at release
    reports/                                the class report (autograder.report)
"""

from __future__ import annotations

import filecmp
import json
import os
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

from autograder import sources
from autograder.diagnosis import StaleSignatures, catalogue
from autograder.leaks import find_feedback_leaks, find_leaks, readable_text
from autograder.nbgrader_api import CONFIG_FILE, course_config_text, describe_validation, markers
from cs182meta.settings import grading_environment

DEFAULT_ROOT = sources.REPO / "build" / "course"


def _thread_env(threads: int | None) -> dict:
    """OpenMP threads for a notebook's kernel: unset leaves torch's default (all cores)."""
    return {} if threads is None else {"OMP_NUM_THREADS": str(threads),
                                       "MKL_NUM_THREADS": str(threads)}


class GradingError(RuntimeError):
    """A pipeline step failed; the message says which and why."""


class Course:
    def __init__(self, root: Path | str = DEFAULT_ROOT):
        self.root = Path(root).resolve()
        self.warnings: list[str] = []  # what a step could not do, for the command to print

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
    def path(self, step: str, *parts: str) -> Path:
        return self.root.joinpath(step, *parts)

    def prepare(self, assignments: list[str]) -> None:
        """Create the folder, its config, and stage the source notebooks."""
        self.root.mkdir(parents=True, exist_ok=True)
        (self.root / CONFIG_FILE).write_text(course_config_text())
        for name in assignments:
            notebook = sources.NOTEBOOKS / f"{name}.ipynb"
            if not notebook.exists():
                raise GradingError(f"{notebook} is missing; run `python -m autograder build`")
            target = self.path("source", name, f"{name}.ipynb")
            target.parent.mkdir(parents=True, exist_ok=True)
            if not target.exists() or not filecmp.cmp(notebook, target, shallow=False):
                shutil.copyfile(notebook, target)

    # ------------------------------------------------------------------ steps
    def release(self, assignments: list[str], jobs: int = 1) -> list[Path]:
        """Generate the student version of each assignment, check it for leaks, and check
        that every test fails on the blank release (``nbgrader validate --invert``). The
        two runs of each notebook (its source must pass, its release must fail) go
        ``jobs`` at a time, one thread each when more than one."""
        self.prepare(assignments)
        sources_ = [self.path("source", name, f"{name}.ipynb") for name in assignments]
        self._each(self.check_source_passes, sources_, jobs)
        released = []
        for name, source in zip(assignments, sources_):
            self.nbgrader("generate_assignment", name, "--force", "--create")
            release = self.path("release", name, f"{name}.ipynb")
            leaks = find_leaks(nbformat.read(source, 4), nbformat.read(release, 4),
                               markers(self.root))
            if leaks:
                shutil.rmtree(self.path("release", name))
                raise GradingError(
                    f"release of {name} leaks (release removed):\n  " + "\n  ".join(leaks)
                )
            released.append(release)
        self._each(self.check_blank_fails, released, jobs)
        for name in assignments:
            self.store_misconceptions(name)
        return released

    def _each(self, check, notebooks: list[Path], jobs: int) -> None:
        """``check(notebook, threads)`` on each notebook, ``jobs`` at a time; raise the
        first failure (in the order given) after all have run."""
        threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
        with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
            futures = [pool.submit(check, nb, threads) for nb in notebooks]
        for future in futures:
            future.result()

    def misconceptions_path(self, assignment: str) -> Path:
        return self.path("misconceptions", f"{assignment}.json")

    def store_misconceptions(self, assignment: str) -> None:
        """Copy the assignment's misconception catalogue into the course (outside the
        release). A stale one is removed instead, with a warning in ``self.warnings``:
        the report and hints then go without it rather than misdiagnose."""
        target = self.misconceptions_path(assignment)
        try:
            catalogue(assignment).save(target)
        except StaleSignatures as stale:
            target.unlink(missing_ok=True)
            self.warnings.append(f"{assignment}: no misconception hints or diagnosis: {stale}")

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
        return self.path("feedback")

    def check_feedback(self, assignment: str) -> None:
        """The leak check on every file of ``assignment``'s feedback
        (:func:`autograder.leaks.find_feedback_leaks`): remove each file that leaks, then
        raise GradingError naming them and what leaked."""
        source = nbformat.read(self.path("source", assignment, f"{assignment}.ipynb"), 4)
        delimiters, problems = markers(self.root), []
        for folder in sorted(self.path("feedback").glob(f"*/{assignment}")):
            graded = self.path("autograded", folder.parent.name, assignment, f"{assignment}.ipynb")
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
        csv_path = Path(csv_path).resolve()
        csv_path.parent.mkdir(parents=True, exist_ok=True)
        self.nbgrader("export", "--to", str(csv_path))
        return csv_path
