"""Hostile submissions, made from notebook 00 at test time, graded by the isolated grader.

Each must get the points it deserves and a message in its autograded notebook (which is
what the feedback shows), and leave every other grade and every source file untouched.
"""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import subprocess
import zipfile

import nbformat
import pytest
from nbformat.v4 import new_code_cell

from autograder.course import Course
from autograder.diagnosis import Catalogue, failures
from autograder.grades import cell_scores
from autograder.gradescope import build_zip
from autograder.grading import grade_pending
from autograder.isolated import IsolatedGrader, warm_cache
from autograder.limits import Limits
from autograder.nbgrader_api import grade_id
from autograder.samples import filled
from autograder.submissions import collect

A = "00_episodes"
NN, GL = "nearest_neighbour_tests", "generic_learner_tests"
LIMITS = Limits(wall_s=240, cell_s=20, memory_mb=2500)


def _index(nb, wanted):
    return next(i for i, c in enumerate(nb.cells) if grade_id(c) == wanted)


def _insert_before(nb, cell_id, source):
    nb.cells.insert(_index(nb, cell_id), new_code_cell(source))
    return nb


def _replace_solution(nb, cell_id, old, new):
    cell = nb.cells[_index(nb, cell_id)]
    assert old in cell.source
    cell.source = cell.source.replace(old, new)
    return nb


PROBE = """\
import os
from pathlib import Path
found = []
here = Path.cwd()
for folder in [here, *here.parents]:
    for name in ("gradebook.db", "submitted", "autograded", "source"):
        if (folder / name).exists():
            found.append(str(folder / name))
    try:
        (folder / "pwned.txt").write_text("x")
    except OSError:
        pass
print("PROBE found:", found)
"""


def hostile_submissions(perfect) -> dict[str, object]:
    """``{student: notebook or raw bytes}``."""
    subs = {}
    subs["perfect"] = perfect
    subs["import-crash"] = _replace_solution(
        copy.deepcopy(perfect), "nearest_neighbour", "def nearest_neighbour_predict",
        "import no_such_module_for_grading\n\ndef nearest_neighbour_predict")
    subs["infinite-loop"] = _replace_solution(  # hangs inside the function the tests call
        copy.deepcopy(perfect), "generic_learner", "    model = make_small_network(n_way)",
        "    while True:\n        pass\n    model = make_small_network(n_way)")
    subs["memory-bomb"] = _insert_before(
        copy.deepcopy(perfect), "small-network",
        "hog = []\nwhile True:\n    hog.append(bytearray(200 * 2**20))\n    hog[-1][::4096] = b'x' * len(hog[-1][::4096])")
    buggy = _replace_solution(copy.deepcopy(perfect), "nearest_neighbour", "argmin", "argmax")
    edited = copy.deepcopy(buggy)
    edited.cells[_index(edited, NN)].source = "pass  # tests removed"
    subs["edited-test"] = edited
    deleted = copy.deepcopy(buggy)
    del deleted.cells[_index(deleted, NN)]
    subs["deleted-test"] = deleted
    subs["rebinds-names"] = _insert_before(  # names the tests use, not the solutions
        copy.deepcopy(perfect), NN,
        "import numpy as np\nnp = load = EpisodeSampler = evaluate_episodes = None")
    subs["hides-errors"] = _insert_before(
        copy.deepcopy(buggy), NN,
        "import sys\nip = get_ipython()\nip.showtraceback = lambda *a, **k: None\n"
        "ip.set_custom_exc((BaseException,), lambda *a, **k: None)\nsys.excepthook = lambda *a: None")
    subs["probes-course"] = _insert_before(copy.deepcopy(perfect), NN, PROBE)
    subs["corrupt-json"] = b'{"cells": [ this is not json'
    return subs


@pytest.fixture(scope="module")
def hostile(tmp_path_factory):
    root = tmp_path_factory.mktemp("hostile")
    course = Course(root / "course")
    course.release([A])
    release = nbformat.read(course.notebook("release", A), 4)
    source = nbformat.read(course.notebook("source", A), 4)
    inbox = root / "inbox"
    for student, nb in hostile_submissions(filled(release, source)).items():
        (inbox / student).mkdir(parents=True)
        data = nb if isinstance(nb, bytes) else nbformat.writes(nb).encode()
        (inbox / student / f"{A}.ipynb").write_bytes(data)
    (inbox / "misnamed").mkdir()
    (inbox / "misnamed" / "homework0.ipynb").write_bytes(b"{}")
    collected, skipped = collect(course, inbox, [A])
    sources_before = {p: hashlib.sha256(p.read_bytes()).hexdigest()
                      for p in course.step_folder("submitted").rglob("*.ipynb")}
    sources_before[course.notebook("source", A)] = hashlib.sha256(
        course.notebook("source", A).read_bytes()).hexdigest()
    grader = IsolatedGrader(course, LIMITS, cache=warm_cache(course))
    students = sorted(c.student for c in collected)
    outcomes = {o.student: o for o in grader.grade_all(A, students, jobs=2)}
    return course, outcomes, cell_scores(course, A), sources_before, skipped


def _autograded(course, student):
    return nbformat.read(course.notebook("autograded", A, student), 4)


def _text(nb) -> str:
    return json.dumps(nb)


EXPECTED = {  # student: (nearest-neighbour points, generic-learner points)
    "perfect": (3, 3),
    "import-crash": (0, 3),
    "infinite-loop": (3, 0),
    "memory-bomb": (3, 0),
    "edited-test": (0, 3),
    "deleted-test": (0, 3),
    "rebinds-names": (3, 3),
    "hides-errors": (0, 3),
    "probes-course": (3, 3),
    "corrupt-json": (0, 0),
}


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_hostile_submission_gets_the_points_it_deserves(hostile, student):
    _, _, scores, _, _ = hostile
    row = scores[student]
    assert (row[NN][0], row[GL][0]) == EXPECTED[student], row


def test_timeouts_memory_and_unreadable_files_are_explained(hostile):
    course, outcomes, _, _, _ = hostile
    assert "CellTimeoutError" in _text(_autograded(course, "infinite-loop"))
    assert "MB limit" in outcomes["memory-bomb"].message
    assert "MB limit" in _text(_autograded(course, "memory-bomb"))
    assert "not a valid notebook" in _text(_autograded(course, "corrupt-json"))
    assert "import-crash" in outcomes and "no_such_module_for_grading" in _text(
        _autograded(course, "import-crash"))


def test_restored_tests_are_the_gradebooks(hostile):
    course, _, _, _, _ = hostile
    for student in ("edited-test", "deleted-test"):
        nb = _autograded(course, student)
        assert "tests removed" not in _text(nb)
        assert "AssertionError" in json.dumps(nb.cells[_index(nb, NN)].outputs)


def test_misnamed_notebook_is_reported_not_graded(hostile):
    course, _, scores, _, skipped = hostile
    assert any("homework0.ipynb" in s and "00_episodes.ipynb" in s for s in skipped)
    assert "misnamed" not in scores


def test_a_submission_cannot_reach_the_course(hostile):
    course, _, _, before, _ = hostile
    out = _text(_autograded(course, "probes-course"))
    assert "PROBE found: []" in out
    assert not list(course.root.rglob("pwned.txt"))
    for path, digest in before.items():
        assert hashlib.sha256(path.read_bytes()).hexdigest() == digest, f"{path} changed"


def test_grading_twice_gives_the_same_score_and_no_duplicate_rows(hostile, tmp_path):
    course, _, scores, _, _ = hostile
    again = IsolatedGrader(course, LIMITS, cache=course.root / "cache").grade(A, "perfect")
    assert again.score == sum(s for s, _ in scores["perfect"].values())
    with open(course.export(tmp_path / "grades.csv"), newline="") as file:
        rows = list(csv.DictReader(file))
    assert sum(1 for r in rows if r["student_id"] == "perfect") == 1


def test_grade_pending_skips_graded_submissions(hostile, capsys):
    course, _, _, _, _ = hostile
    grade_pending(course, A, jobs=1, limits=LIMITS)
    assert "graded" not in capsys.readouterr().out


# ---------------------------------------------------------------- Gradescope
def _gradescope(tmp_path, course, submission: dict[str, bytes]) -> dict:
    package = build_zip(course, A, tmp_path / "zips")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(root / "source")
    (root / "source" / "run_autograder").chmod(0o755)
    (root / "submission").mkdir(parents=True)
    for name, data in submission.items():
        (root / "submission" / name).write_bytes(data)
    subprocess.run(["bash", str(root / "source" / "run_autograder")], check=True, timeout=600,
                   env={**__import__("os").environ, "AUTOGRADER_ROOT": str(root),
                        "PYTHON": __import__("sys").executable})
    return json.loads((root / "results" / "results.json").read_text())


def test_gradescope_package_grades_a_submission(hostile, tmp_path):
    course, _, _, _, _ = hostile
    perfect = course.notebook("submitted", A, "perfect").read_bytes()
    results = _gradescope(tmp_path, course, {f"{A}.ipynb": perfect})
    tests = {t["name"]: t for t in results["tests"]}
    assert results["score"] == 6.0 and set(tests) == {NN, GL}
    assert all(t["visibility"] == "after_published" for t in tests.values())  # both hide tests
    assert all(t["max_score"] == 3.0 for t in tests.values())


@pytest.mark.parametrize("files", [{"notes.txt": b"hello"}, {f"{A}.ipynb": b"not json"}])
def test_gradescope_always_writes_results(hostile, tmp_path, files):
    course, _, _, _, _ = hostile
    results = _gradescope(tmp_path, course, files)
    assert results["score"] == 0 and len(results["tests"]) == 2
    assert results["output"]


def test_hostile_submissions_are_not_taken_for_a_misconception(hostile):
    """Crashes, hangs, memory bombs, probes and unreadable files match no planted bug;
    the three built on planted bug 1 (argmax), whatever they did to the tests, match
    that bug or nothing."""
    course = hostile[0]
    catalogue = Catalogue.load(course.misconceptions_path(A))
    first_bug = {m.bugs for m in catalogue.misconceptions if 1 in m.bugs}
    for student in EXPECTED:
        found = {m.bugs for m in catalogue.diagnose(failures(json.loads(
            course.notebook("autograded", A, student).read_text())))}
        if student in {"edited-test", "deleted-test", "hides-errors"}:
            assert found <= first_bug, (student, found)
        else:
            assert not found, (student, found)


def test_gradescope_output_carries_the_hint_of_a_planted_bug(hostile, tmp_path):
    course = hostile[0]
    buggy = course.notebook("submitted", A, "edited-test").read_bytes()  # bug 1
    results = _gradescope(tmp_path, course, {f"{A}.ipynb": buggy})
    tests = {t["name"]: t for t in results["tests"]}
    (hint,) = {m.hint for m in Catalogue.load(course.misconceptions_path(A)).misconceptions
               if 1 in m.bugs}
    assert tests[NN]["score"] == 0 and f"Hint: {hint}" in tests[NN]["output"]
    assert "Hint:" not in tests[GL]["output"]
    without = build_zip(course, A, tmp_path / "no-hints", hints=False)
    with zipfile.ZipFile(without) as archive:
        assert f"course/misconceptions/{A}.json" not in archive.namelist()
    with zipfile.ZipFile(build_zip(course, A, tmp_path / "hints")) as archive:
        assert f"course/misconceptions/{A}.json" in archive.namelist()
