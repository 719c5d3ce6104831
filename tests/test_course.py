"""The course model (autograder/course.py): the one owner of the folder layout, the
gradebook and the score rule; the grades CSV it writes."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest

from autograder import sources
from autograder.course import Course, spreadsheet_text

PACKAGE = Path(__file__).resolve().parents[1] / "autograder"
A = "00_episodes"

# What only autograder/course.py may do: open the gradebook, build course paths.
OWNED = {
    "opens the gradebook": re.compile(r"\bGradebook\s*\("),
    "builds a gradebook URL": re.compile(r"\bgradebook_url\s*\("),
    "builds nbgrader's course directory": re.compile(r"\bCourseDirectory\s*\("),
    "builds a course path": re.compile(r"\.path\s*\(\s*[\"'](source|release|submitted|autograded"
                                       r"|feedback|archive|grading_log|misconceptions|reports)"),
    "joins a path onto a course's root": re.compile(r"\.root\s*/|\.root\.joinpath\("),
    "names a kit folder of the course": re.compile(
        r"Path\(\s*[\"'](misconceptions|grading_log|archive|reports)[\"']"),
}
# nbgrader_api.py wraps nbgrader itself: it defines the gradebook's URL from nbgrader's
# CourseDirectory, which course.py then uses.
DEFINES = {"nbgrader_api.py": {"builds a gradebook URL", "builds nbgrader's course directory"}}


def course_model_violations(name: str, text: str) -> list[str]:
    if name == "course.py":
        return []
    allowed = DEFINES.get(name, set())
    return [f"{name}:{number}: {what}: {line.strip()}"
            for number, line in enumerate(text.splitlines(), start=1)
            for what, pattern in OWNED.items()
            if what not in allowed and pattern.search(line)
            and not line.lstrip().startswith(("def ", "#"))]


def test_only_course_py_knows_the_layout_and_opens_the_gradebook():
    found = [v for file in sorted(PACKAGE.glob("*.py"))
             for v in course_model_violations(file.name, file.read_text())]
    assert not found, "ask autograder.course.Course instead:\n" + "\n".join(found)


@pytest.mark.parametrize("line", [
    "with Gradebook(url) as gb:",
    'out = course.path("autograded", student, a)',
    'log = course.root / "grading_log" / a',
    'path = Path("misconceptions", f"{a}.json")',
])
def test_the_layout_check_finds_a_path_built_elsewhere(line):
    assert course_model_violations("grading.py", f"x = 1\n    {line}\n")
    assert not course_model_violations("course.py", line)


def test_paths_follow_nbgraders_layout_and_the_courses_own_folder_names(tmp_path):
    course = Course(tmp_path / "course")
    course.prepare([A])
    assert course.notebook("source", A) == course.root / "source" / A / f"{A}.ipynb"
    assert course.notebook("autograded", A, "bob") == course.root / "autograded/bob" / A / f"{A}.ipynb"
    assert course.misconceptions_path(A) == course.root / "misconceptions" / f"{A}.json"
    assert course.grading_log(A, "bob") == course.root / "grading_log" / A / "bob.json"
    with open(course.config_file, "a") as config:
        config.write('\nc.CourseDirectory.autograded_directory = "graded"\n')
    renamed = Course(course.root)
    assert renamed.notebook("autograded", A, "bob") == course.root / "graded/bob" / A / f"{A}.ipynb"


def test_students_are_those_with_the_notebook_in_that_step(tmp_path):
    course = Course(tmp_path / "course")
    for student in ("zoe", "amy"):
        path = course.notebook("submitted", A, student)
        path.parent.mkdir(parents=True)
        path.write_text("{}")
    course.folder("submitted", "01_blackbox", "kim").mkdir(parents=True)  # another notebook
    (course.step_folder("submitted") / "stray.txt").write_text("")
    assert course.students("submitted", A) == ["amy", "zoe"]
    course.folder("feedback", A, "amy").mkdir(parents=True)  # feedback: HTML, no notebook
    assert course.students("feedback", A) == ["amy"]
    assert course.students("autograded", A) == []


def test_an_assignment_is_read_once_and_again_after_it_is_staged(tmp_path, monkeypatch):
    course = Course(tmp_path / "course")
    course.prepare([A])
    staged = course.assignment(A)
    assert course.assignment(A) is staged and staged.source is staged.source
    points = {c.name: c.max_score for c in staged.cells}
    assert points["nearest_neighbour_tests"] == 3 and points["why_pixels_fail"] == 2
    assert [c.name for c in staged.written] == ["why_pixels_fail"]
    assert staged.points == sum(points.values())
    course.prepare([A])  # the same notebook: nothing to read again
    assert course.assignment(A) is staged
    edited = tmp_path / "notebooks"
    edited.mkdir()
    (edited / f"{A}.ipynb").write_text(
        (sources.NOTEBOOKS / f"{A}.ipynb").read_text().replace('"points": 3', '"points": 4', 1))
    monkeypatch.setattr(sources, "NOTEBOOKS", edited)
    course.prepare([A])
    assert course.assignment(A).points == staged.points + 1


# ---------------------------------------------------------------------- scores
def _gradebook_course(tmp_path, names: dict[str, str]) -> Course:
    """A course whose gradebook has one assignment (a 3-point test, a 2-point written
    answer) and a submission for each student of ``names`` ({id: LMS name})."""
    course = Course(tmp_path / "course")
    course.root.mkdir(parents=True)
    with course.gradebook() as gb:
        gb.add_assignment(A)
        gb.add_notebook(A, A)
        gb.add_grade_cell("test", A, A, max_score=3, cell_type="code")
        gb.add_grade_cell("essay", A, A, max_score=2, cell_type="markdown")
        for student, name in names.items():
            gb.add_student(student, last_name=name)
            gb.add_submission(A, student)
    return course


def _set(course: Course, student: str, cell: str, **values) -> None:
    with course.gradebook() as gb:
        grade = gb.find_grade(cell, A, A, student)
        for key, value in values.items():
            setattr(grade, key, value)
        gb.db.commit()


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")  # nbgrader's add_submission
def test_one_score_rule_manual_over_auto_extra_credit_and_pending(tmp_path):
    course = _gradebook_course(tmp_path, {"ann": "", "ben": "", "cat": ""})
    _set(course, "ann", "test", auto_score=3.0, needs_manual_grade=False)
    _set(course, "ann", "essay", manual_score=1.5, extra_credit=0.5, needs_manual_grade=False)
    _set(course, "ben", "test", auto_score=3.0, manual_score=1.0, needs_manual_grade=False)
    _set(course, "ben", "essay", needs_manual_grade=True)
    _set(course, "cat", "test", auto_score=0.0, extra_credit=1.0, needs_manual_grade=False)
    cells, table = course.scores(A)
    assert [(c.name, c.kind, c.max_score) for c in cells] == [("test", "code", 3.0),
                                                             ("essay", "markdown", 2.0)]
    assert table["ann"] == {"test": 3.0, "essay": 2.0}
    assert table["ben"] == {"test": 1.0, "essay": None}  # the manual score wins; essay waits
    assert table["cat"]["test"] == 1.0
    assert course.scores(A, "ben")[1] == {"ben": table["ben"]}


@pytest.mark.filterwarnings("ignore::sqlalchemy.exc.SAWarning")
def test_grades_csv_quotes_every_field_and_reads_names_as_text(tmp_path):
    names = {"s1": "Doe, Jane", "s2": 'O"Brien', "s3": "two\nlines", "s4": "=1+1",
             "s5": "+SUM(A1)", "s6": "-2", "s7": "@cmd", "s8": "\tx", "s9": "\rx",
             "s10": '=HYPERLINK("http://x","click")'}
    course = _gradebook_course(tmp_path, names)
    with course.gradebook() as gb:
        gb.add_student("absent", last_name="No, Show")  # no submission: a row of zeros
    for student in names:
        _set(course, student, "test", auto_score=0.0 if student == "s1" else 3.0,
             needs_manual_grade=False)
    out = course.export(tmp_path / "grades.csv")
    with open(out, newline="", encoding="utf-8") as file:  # as a CSV reader must
        text = file.read()
    rows = list(csv.DictReader(text.splitlines(keepends=True)))
    assert len(rows) == len(names) + 1
    by_id = {row["student_id"]: row for row in rows}
    for student, name in names.items():
        row = by_id[student]
        assert row["last_name"] == spreadsheet_text(name)
        assert not row["last_name"].startswith(("=", "+", "-", "@", "\t", "\r"))
        assert float(row["raw_score"]) == (0.0 if student == "s1" else 3.0)
        assert float(row["max_score"]) == 5.0
    assert by_id["s1"]["last_name"] == "Doe, Jane" and by_id["s4"]["last_name"] == "'=1+1"
    assert by_id["absent"]["last_name"] == "No, Show" and float(by_id["absent"]["score"]) == 0
    header, first = text.splitlines()[:2]
    assert header.startswith('"assignment","duedate"') and first.startswith(f'"{A}"')
    for line in csv.reader(text.splitlines(keepends=True)):
        assert len(line) == 11  # no name shifts a column


def test_spreadsheet_text_leaves_ordinary_text_alone():
    assert spreadsheet_text("Ng") == "Ng" and spreadsheet_text("a=b") == "a=b"
    assert spreadsheet_text("=cmd") == "'=cmd" and spreadsheet_text("") == ""
