"""Fast unit tests of the grading pipeline's parts (no kernels started)."""

import copy
import json
import zipfile

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from autograder import sources
from autograder.authoring import PlantedBug, expand
from autograder.course import Course, GradingError
from autograder.leaks import find_leaks
from autograder.nbgrader_api import grade_id
from autograder.samples import (
    STDERR_NOISE,
    bug_sample_name,
    filled,
    first_bug_per_exercise,
    sample_submissions,
    two_bugs,
    write_samples,
)
from autograder.submissions import collect

SOURCE = """\
# %% [solution] id="sq"
def square(x):
    ### BEGIN SOLUTION
    result = x * x
    return result
    ### END SOLUTION

# %% [tests] id="sq_tests" points=1
from cs182meta.student import student

assert student.square(3) == 9
### BEGIN HIDDEN TESTS
assert student.square(-4) == 16
### END HIDDEN TESTS
"""


def source_and_release():
    source = expand(SOURCE, "sq.py", "99_square")
    release = copy.deepcopy(source)
    release.cells[0].source = "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    release.cells[1].source = "assert square(3) == 9"
    return source, release


def test_a_clean_release_has_no_leaks():
    source, release = source_and_release()
    assert find_leaks(source, release) == []


@pytest.mark.parametrize(
    "plant, expected",
    [
        (lambda nb: setattr(nb.cells[0], "source", nb.cells[0].source + "\n    result = x * x"),
         "secret line 'result = x * x'"),
        (lambda nb: setattr(nb.cells[1], "source",
                            nb.cells[1].source + "\nassert student.square(-4) == 16"),
         "secret line 'assert student.square(-4) == 16'"),
        (lambda nb: setattr(nb.cells[1], "source", "### BEGIN HIDDEN TESTS\n### END HIDDEN TESTS"),
         "marker"),
        (lambda nb: nb.cells[1].outputs.append(new_output("stream", name="stdout", text="9")),
         "stored outputs"),
    ],
)
def test_leak_check_catches_each_kind_of_leak(plant, expected):
    source, release = source_and_release()
    plant(release)
    problems = find_leaks(source, release)
    assert problems and expected in " ".join(problems)


def test_filled_submission_keeps_answers_and_drops_markers():
    source, release = source_and_release()
    nb = filled(release, source)
    assert "result = x * x" in nb.cells[0].source and "BEGIN SOLUTION" not in nb.cells[0].source
    noisy = filled(release, source, noise=STDERR_NOISE)
    assert "    print(\"student debug output on stderr\"" in noisy.cells[0].source


def test_a_bug_that_does_not_apply_is_an_error():
    source, release = source_and_release()
    with pytest.raises(ValueError, match="occurs 0 times"):
        filled(release, source, bug=PlantedBug("sq", "x ** 3", "x", ("sq_tests",)))
    samples = sample_submissions(release, source, [PlantedBug("sq", "x * x", "x + x", ("sq_tests",))])
    assert set(samples) == {"perfect", "blank", "noisy", bug_sample_name(1)}
    assert "result = x + x" in samples[bug_sample_name(1)].cells[0].source


def test_committed_notebooks_match_their_sources(tmp_path):
    for path in sources.build(tmp_path):
        committed = json.loads((sources.NOTEBOOKS / path.name).read_text())
        assert json.loads(path.read_text()) == committed, (
            f"notebooks/{path.name} differs from what notebooks/src/{path.stem}.py builds: "
            "run `python -m autograder build` (or `sync` to keep edits made in the notebook)"
        )


def test_every_planted_bug_applies_to_its_source():
    for name in sources.assignments():
        nb = sources.notebook(name)
        bugs = sources.planted_bugs(name)
        assert bugs, f"{name} plants no bug, so its tests are unproven"
        ids = {grade_id(c) for c in nb.cells}
        for bug in bugs:
            assert bug.cell in ids and set(bug.loses) <= ids
            filled(nb, nb, bug=bug)  # raises unless `find` occurs exactly once


def _notebook_bytes(text="x = 1"):
    return nbformat.writes(new_notebook(cells=[new_code_cell(text)])).encode()


def test_collect_from_folders_and_lms_zip(tmp_path):
    course = Course(tmp_path / "course")
    folder = tmp_path / "in"
    (folder / "alice").mkdir(parents=True)
    (folder / "alice" / "00_episodes.ipynb").write_bytes(_notebook_bytes())
    (folder / "bob" / "00_episodes").mkdir(parents=True)
    (folder / "bob" / "00_episodes" / "00_episodes.ipynb").write_bytes(_notebook_bytes())
    (folder / "carol").mkdir()
    (folder / "carol" / "homework.ipynb").write_bytes(_notebook_bytes())
    got, skipped = collect(course, folder, ["00_episodes"])
    assert {(c.student, c.status) for c in got} == {("alice", "new"), ("bob", "new")}
    assert any("homework.ipynb" in s and "not named after an assignment" in s for s in skipped)

    lms = tmp_path / "canvas.zip"
    with zipfile.ZipFile(lms, "w") as z:
        z.writestr("dave_12345_67890_00_episodes.ipynb", _notebook_bytes())
    got, _ = collect(course, lms, ["00_episodes"])
    assert [(c.student, c.name, c.status) for c in got] == [("12345", "dave", "new")]
    assert course.folder("submitted", "00_episodes", "12345").joinpath("timestamp.txt").exists()


def test_collect_never_overwrites_silently(tmp_path):
    course = Course(tmp_path / "course")
    first, second = tmp_path / "first", tmp_path / "second"
    for folder, text in ((first, "x = 1"), (second, "x = 2")):
        (folder / "alice").mkdir(parents=True)
        (folder / "alice" / "00_episodes.ipynb").write_bytes(_notebook_bytes(text))
    collect(course, first, ["00_episodes"])
    target = course.notebook("submitted", "00_episodes", "alice")
    assert [c.status for c in collect(course, first, ["00_episodes"])[0]] == ["unchanged"]
    kept = collect(course, second, ["00_episodes"])[0]
    assert kept[0].status.startswith("kept") and "x = 1" in target.read_text()
    replaced = collect(course, second, ["00_episodes"], replace=True)[0]
    assert replaced[0].status == "replaced" and "x = 2" in target.read_text()
    archived = list(course.archive_folder("00_episodes", "alice", "*").parent.glob(
        "*/00_episodes.ipynb"))
    assert len(archived) == 1 and "x = 1" in archived[0].read_text()


def test_collect_rejects_what_is_not_a_submission(tmp_path):
    course = Course(tmp_path / "course")
    with pytest.raises(GradingError, match="does not exist"):
        collect(course, tmp_path / "missing", ["00_episodes"])
    not_zip = tmp_path / "grades.txt"
    not_zip.write_text("hello")
    with pytest.raises(GradingError, match="nor a zip"):
        collect(course, not_zip, ["00_episodes"])


def test_demo_samples_the_first_planted_bug_of_each_exercise():
    bugs = [PlantedBug("a", "x", "y", ("a_tests",)), PlantedBug("b", "x", "y", ("b_tests",)),
            PlantedBug("a", "z", "w", ("a_tests",))]
    assert first_bug_per_exercise(bugs) == {bug_sample_name(1), bug_sample_name(2)}
    assert bug_sample_name(2) == "bug-2"  # the student folder and score-table row


def test_write_samples_one_bug_per_exercise(tmp_path):
    name = sources.assignments()[0]
    course = Course(tmp_path / "course")
    for step in ("source", "release"):  # the source stands in for its release here
        path = course.notebook(step, name)
        path.parent.mkdir(parents=True)
        path.write_bytes((sources.NOTEBOOKS / f"{name}.ipynb").read_bytes())
    bugs = sources.planted_bugs(name)
    students = write_samples(course, [name], tmp_path / "subs", bugs="per-exercise")
    assert students == sorted({"perfect", "blank", "noisy"} | first_bug_per_exercise(bugs))
    assert sorted(p.parent.name for p in (tmp_path / "subs").glob(f"*/{name}.ipynb")) == students
    demo = write_samples(course, [name], tmp_path / "demo", bugs="one", others=("perfect", "blank"))
    assert demo == ["blank", "bug-1", "perfect"]
    only = write_samples(course, [name], tmp_path / "only", others=(), pair=True)
    assert only == sorted({bug_sample_name(n) for n in range(1, len(bugs) + 1)} | {"two-bugs"})
    with pytest.raises(ValueError, match="bug selection"):
        write_samples(course, [name], tmp_path / "x", bugs="some")


def test_two_bugs_takes_the_first_bug_of_the_first_and_last_exercise():
    bugs = [PlantedBug("a", "x", "y", ("a_tests",)), PlantedBug("a", "z", "w", ("a_tests",)),
            PlantedBug("b", "x", "y", ("b_tests",)), PlantedBug("c", "x", "y", ("c_tests",)),
            PlantedBug("c", "z", "w", ("c_tests",))]
    assert two_bugs(bugs) == (1, 4)
    assert two_bugs(bugs[:2]) is None  # one exercise: no pair
