"""The class report (autograder.report): what it shows, and the bad input it refuses.

A report of real graded submissions is tested in test_grading_pipeline.py.
"""

from __future__ import annotations

import csv
import shutil

import pytest

from autograder import sources
from autograder.__main__ import main
from autograder.authoring import PlantedBug
from autograder.class_results import ClassResults, Submission
from autograder.course import Course
from autograder.course import GradedCell as Cell
from autograder.diagnosis import Catalogue
from autograder.report import csv_rows, render_html, write_report

A = "02_nonparametric"


def _results() -> ClassResults:
    bugs = [PlantedBug("ex", "a", "b", ("t1",), why="adds where it should multiply",
                       hint="Check whether the operation matches the formula.")]
    catalogue = Catalogue.from_bugs("nb", bugs, {1: {"t1": "AssertionError: wrong value #"}})
    cells = [Cell("t1", "code", 2.0), Cell("t2", "code", 3.0), Cell("why", "markdown", 1.0)]
    subs = []
    for n in range(6):
        failed = {"t1": "AssertionError: wrong value #"} if n < 3 else {}
        if n == 5:
            failed = {"t2": "AssertionError: something new <script>alert(1)</script>"}
        sub = Submission(f"s{n}", {"t1": 0.0 if "t1" in failed else 2.0,
                                   "t2": 0.0 if "t2" in failed else 3.0,
                                   "why": None if n % 2 else 1.0},
                         failed, {c: f"{f} (raw {n})" for c, f in failed.items()},
                         seconds=10.0 + n, peak_mb=300.0 + n)
        sub.misconceptions = catalogue.diagnose(failed)
        sub.unrecognised = catalogue.unrecognised(failed)
        subs.append(sub)
    subs[4].message = "stopped: the whole notebook ran over 600 s"
    return ClassResults("nb", cells, subs, catalogue)


def test_report_shows_misconceptions_unrecognised_failures_limits_and_pending_answers():
    page = render_html(_results())
    assert "adds where it should multiply" in page and "3 (50%)" in page
    assert "Check whether the operation matches the formula." in page
    assert "something new &lt;script&gt;" in page  # unrecognised, escaped, with its student
    assert "stopped: the whole notebook ran over 600 s" in page
    assert "Written answers waiting for a grader" in page and "s1, s3, s5" in page
    assert page.count("data:image/png;base64,") == 1 and "<script" not in page


def test_csv_has_a_row_per_submission():
    rows = csv_rows(_results())
    assert rows[0][:5] == ["student", "score", "max_score", "t1", "t2"]
    by_student = {r[0]: dict(zip(rows[0], r)) for r in rows[1:]}
    assert by_student["s0"]["misconceptions"] == "adds where it should multiply"
    assert by_student["s5"]["unrecognised"] == "t2" and by_student["s1"]["why"] == ""
    assert by_student["s3"]["score"] == "5"


def test_report_files_are_written(tmp_path):
    page, table = write_report(_results(), tmp_path / "reports")
    assert page.read_text().startswith("<!DOCTYPE html>")
    assert len(list(csv.reader(table.open()))) == 7


def _course_with_a_foreign_gradebook(root):
    """A course whose autograded notebook exists but whose gradebook is another
    course's (its assignment has other graded cells)."""
    for step, student in (("source", None), ("autograded", "alice")):
        folder = root / step / (student or "") / A
        folder.mkdir(parents=True)
        shutil.copyfile(sources.NOTEBOOKS / f"{A}.ipynb", folder / f"{A}.ipynb")
    with Course(root).gradebook() as gb:
        gb.add_assignment(A)
        gb.add_notebook(A, A)
        gb.add_grade_cell("question_1", A, A, max_score=1, cell_type="code")
        gb.add_student("alice")
        gb.add_submission(A, "alice")


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission
@pytest.mark.parametrize("case", ["unknown-assignment", "no-submissions", "empty-folder",
                                  "foreign-gradebook", "missing-folder"])
def test_bad_input_gets_one_line_exit_2_and_nothing_written(tmp_path, capsys, case):
    root = tmp_path / "course"
    root.mkdir()
    args = []
    if case == "unknown-assignment":
        args = ["99_nothing"]
    elif case == "no-submissions":
        (root / "source" / A).mkdir(parents=True)
        shutil.copyfile(sources.NOTEBOOKS / f"{A}.ipynb", root / "source" / A / f"{A}.ipynb")
        args = [A]
    elif case == "foreign-gradebook":
        _course_with_a_foreign_gradebook(root)
    elif case == "missing-folder":
        root = tmp_path / "nowhere"
    before = sorted(tmp_path.rglob("*"))
    assert main(["--course", str(root), "report", *args]) == 2
    error = capsys.readouterr().err.strip()
    assert error.startswith("error: ") and "Traceback" not in error
    assert sorted(tmp_path.rglob("*")) == before, "the report wrote something"
    expected = {"unknown-assignment": "unknown assignment", "no-submissions": "no autograded",
                "empty-folder": "no autograded", "foreign-gradebook": "another course",
                "missing-folder": "no course folder"}[case]
    assert expected in error, error
