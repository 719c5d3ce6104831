"""Gradescope: build an autograder zip, and the grader that runs inside it.

``python -m autograder gradescope [NN_name ...]`` writes ``build/gradescope/<name>.zip``
holding ``setup.sh`` (installs the kit), ``run_autograder`` and a prepared course
(release, gradebook with the test cells). Gradescope unpacks it to
``/autograder/source``, puts the student's files in ``/autograder/submission`` and reads
``/autograder/results/results.json`` — which :func:`run` writes in every case, also when
the notebook crashes, times out, or is not a notebook at all.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import traceback
import zipfile
from pathlib import Path, PurePosixPath

import nbformat

from autograder import sources
from autograder.course import Course
from autograder.diagnosis import failures
from autograder.feedback import student_view
from autograder.isolated import IsolatedGrader
from autograder.leaks import find_feedback_leaks
from autograder.limits import GRADESCOPE_LIMITS, MAX_NOTEBOOK_BYTES, Limits
from autograder.limits import GRADESCOPE_MAX_MESSAGE as MAX_OUTPUT
from autograder.limits import GRADESCOPE_MAX_RESULTS as MAX_RESULTS
from autograder.nbgrader_api import Markers, grade_id
from autograder.submissions import collect, is_junk

STUDENT = "student"
KIT_FILES = ("pyproject.toml", "README.md", "cs182meta", "autograder")

SETUP_SH = """\
#!/usr/bin/env bash
# Gradescope runs this once when it builds the autograder image.
set -euxo pipefail
# bubblewrap: the grader runs student code in its sandbox where the container allows
# namespaces, and warns (once) and runs it unconfined where not.
apt-get update && apt-get install -y python3 python3-pip python3-venv bubblewrap
python3 -m venv /opt/cs182meta
/opt/cs182meta/bin/pip install --upgrade pip
# The CPU build of torch keeps the image small and the grader inside Gradescope's memory.
/opt/cs182meta/bin/pip install torch torchvision --index-url https://download.pytorch.org/whl/cpu
/opt/cs182meta/bin/pip install "/autograder/source/kit[course]"
# Warm the dataset cache so that grading does not generate it for every submission.
CS182META_CACHE=/autograder/source/cache /opt/cs182meta/bin/python -c \\
  "from cs182meta.data import load; load(split='background'); load(split='evaluation')"
"""

RUN_AUTOGRADER = """\
#!/usr/bin/env bash
# Gradescope runs this for every submission. AUTOGRADER_ROOT and PYTHON exist for tests.
ROOT="${{AUTOGRADER_ROOT:-/autograder}}"
PYTHON="${{PYTHON:-/opt/cs182meta/bin/python}}"
cd "$ROOT/source/kit"
exec "$PYTHON" -m autograder.gradescope --root "$ROOT" --assignment {assignment}
"""


def build_zip(course: Course, assignment: str, out_dir: Path, hints: bool = True) -> Path:
    """The Gradescope autograder zip for a released ``assignment``; with ``hints`` (and a
    misconception catalogue in the course), a failing test's output carries the hint of
    the planted bug its failure looks like."""
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{assignment}.zip"
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("setup.sh", SETUP_SH)
        info = zipfile.ZipInfo("run_autograder")
        info.external_attr = 0o755 << 16
        archive.writestr(info, RUN_AUTOGRADER.format(assignment=assignment))
        for name in KIT_FILES:
            path = sources.REPO / name
            files = [path] if path.is_file() else sorted(
                p for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts
            )
            for file in files:
                archive.write(file, f"kit/{file.relative_to(sources.REPO)}")
        catalogue = course.misconceptions_path(assignment)
        for path in (course.config_file, course.gradebook_file,
                     course.notebook("release", assignment), course.notebook("source", assignment),
                     *([catalogue] if hints and catalogue.exists() else [])):
            archive.write(path, f"course/{path.relative_to(course.root).as_posix()}")
    return target


def _cell_output(cell, source_nb=None, student_nb=None, delimiters: Markers | None = None) -> str:
    """``ExceptionType: message`` per error of a cell of the :func:`student_view`, or
    ``passed``; a message that would still quote a hidden test is withheld."""
    errors = []
    for output in cell.get("outputs", []):
        if output.output_type != "error":
            continue
        text = f"{output.ename}: {output.evalue}"
        if source_nb is not None and find_feedback_leaks(source_nb, text, student_nb,
                                                         delimiters):
            text = f"{output.ename} (its message is withheld: it quotes the hidden tests)"
        errors.append(text)
    return "\n".join(errors) if errors else "passed"


def _hints(course: Course, assignment: str, graded_nb) -> dict[str, list[str]]:
    """``{test cell: hints}`` for failures that look like a planted bug's
    (:mod:`autograder.diagnosis`); none without the misconception catalogue."""
    catalogue = course.assignment(assignment).catalogue
    if graded_nb is None or catalogue is None:
        return {}
    return catalogue.hints(failures(graded_nb))


def results_for(course: Course, assignment: str, message: str, student: str = STUDENT) -> dict:
    """results.json content from ``student``'s autograded notebook (or zeros if there is
    none): what the feedback shows, so no hidden test (see :mod:`autograder.feedback`);
    scores by the course's one score rule (:meth:`Course.scores`)."""
    autograded = course.notebook("autograded", assignment, student)
    source = course.notebook("source", assignment)
    staged, delimiters = course.assignment(assignment), course.markers()
    source_nb = staged.source if source.exists() else None
    hidden = staged.hidden_tests if source.exists() else set()
    cells, graded_nb = {}, None
    if autograded.exists():
        graded_nb = nbformat.read(autograded, 4)
        cells = {grade_id(c): c for c in student_view(graded_nb, delimiters).cells
                 if grade_id(c)}
    graded_cells, table = course.scores(assignment, student)
    scores = table.get(student, {}) if autograded.exists() else {}
    hints = _hints(course, assignment, graded_nb)
    tests = []
    for test in (c for c in graded_cells if c.kind == "code"):
        name = test.name
        output = (_cell_output(cells[name], source_nb, graded_nb, delimiters) if name in cells
                  else message or "not graded")
        tests.append({
            "name": name,
            "score": float(scores.get(name) or 0.0),
            "max_score": test.max_score,
            "output": "\n".join([output, *(f"Hint: {h}" for h in hints.get(name, []))]),
            "visibility": "after_published" if name in hidden else "visible",
        })
    return {
        "score": sum(t["score"] for t in tests),
        "output": message or "Graded by cs182meta. Written answers are graded by hand.",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "tests": tests,
    }


def _pick_submission(folder: Path, assignment: str) -> tuple[Path | None, str]:
    """The notebook to grade in Gradescope's submission folder: ``<assignment>.ipynb`` at
    any depth, else the only notebook; macOS metadata, hidden files and Jupyter
    checkpoints do not count."""
    files = sorted((p for p in folder.rglob("*") if p.is_file() and not p.is_symlink()
                    and not is_junk(PurePosixPath(p.relative_to(folder).as_posix()))),
                   key=lambda p: (len(p.parts), str(p)))
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    named = [p for p in notebooks if p.name == f"{assignment}.ipynb"]
    note = ""
    if named:
        chosen = named[0]
        if len(named) > 1:
            note = (f"note: {len(named)} files named {assignment}.ipynb; graded "
                    f"{chosen.relative_to(folder)}")
    elif len(notebooks) == 1:
        chosen = notebooks[0]
        note = f"note: graded {chosen.name}; name your file {assignment}.ipynb next time"
    else:
        found = ", ".join(str(p.relative_to(folder)) for p in files[:20]) or "nothing"
        return None, f"expected a notebook named {assignment}.ipynb; found {found}"
    size = chosen.stat().st_size
    if size > MAX_NOTEBOOK_BYTES:
        return None, (f"{chosen.name} is {size / 2**20:.0f} MB, over the "
                      f"{MAX_NOTEBOOK_BYTES // 2**20} MB limit for a notebook")
    return chosen, note


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit] + f"\n… [cut by the grader: {len(text):,} characters, the first {limit:,} kept]"


def capped(results: dict) -> dict:
    """``results`` with every message within :data:`MAX_OUTPUT` characters and the
    whole within :data:`MAX_RESULTS` (messages shortened further where needed)."""
    limit = MAX_OUTPUT
    while True:
        out = dict(results, output=_cut(str(results.get("output", "")), limit),
                   tests=[dict(t, output=_cut(str(t.get("output", "")), limit))
                          for t in results.get("tests", [])])
        if len(json.dumps(out)) <= MAX_RESULTS or limit < 100:
            return out
        limit //= 2


def run(root: Path, assignment: str, limits: Limits = GRADESCOPE_LIMITS) -> dict:
    """Grade ``root/submission`` and write ``root/results/results.json``; never raises."""
    results_file = root / "results" / "results.json"
    results_file.parent.mkdir(parents=True, exist_ok=True)
    packaged = root / "source" / "course"
    with tempfile.TemporaryDirectory(prefix="cs182meta-gs-") as tmp:
        course = Course(Path(tmp) / "course")
        shutil.copytree(packaged, course.root)
        message = ""
        try:
            submission, message = _pick_submission(root / "submission", assignment)
            if submission is not None:
                inbox = Path(tmp) / "inbox" / STUDENT
                inbox.mkdir(parents=True)
                shutil.copyfile(submission, inbox / f"{assignment}.ipynb")
                collect(course, inbox.parent, [assignment])
                cache = root / "source" / "cache"
                # Gradescope's container holds this submission alone; where its seccomp
                # profile blocks bubblewrap's namespaces, grade unconfined, with a warning.
                grader = IsolatedGrader(course, limits, cache if cache.exists() else None,
                                        sandbox="auto")
                outcome = grader.grade(assignment, STUDENT)
                message = "\n".join(m for m in (message, outcome.message) if m)
        except Exception:  # noqa: BLE001 — results.json must be written whatever happened
            print(traceback.format_exc())  # the staff see stdout; the student does not
            message = "the grader failed on this submission; please tell the course staff"
        try:
            results = results_for(course, assignment, message)
        except Exception:  # noqa: BLE001
            print(traceback.format_exc())
            results = {"score": 0.0, "output": message or "the grader failed; please tell "
                       "the course staff", "tests": []}
    results = capped(results)
    results_file.write_text(json.dumps(results, indent=2))
    return results


def main(argv: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(description="Grade one Gradescope submission.")
    parser.add_argument("--root", default=os.environ.get("AUTOGRADER_ROOT", "/autograder"))
    parser.add_argument("--assignment", required=True)
    args = parser.parse_args(argv)
    results = run(Path(args.root), args.assignment)
    print(f"score {results['score']:g}; results in {Path(args.root) / 'results/results.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
