"""The kit's use of nbgrader (no kernels started)."""

from nbformat.v4 import new_code_cell

from autograder.authoring import graded_tests, solution
from autograder.course import Course
from autograder.nbgrader_api import (
    course_config,
    describe_validation,
    grade_id,
    gradebook_url,
    is_test_cell,
)


def test_course_config_is_the_course_folders(tmp_path):
    assert course_config(tmp_path) == {}  # no file: nbgrader's defaults
    course = Course(tmp_path / "course")
    course.prepare([])
    assert course_config(course.root).Execute.timeout == 120


def test_validation_failures_name_each_cell_and_error():
    text = describe_validation({
        "failed": [{"source": "assert f(1) == 2", "raw_error": "\x1b[0;31mAssertionError\x1b[0m",
                    "error": "<span>AssertionError</span>"}],
        "passed": [{"source": "assert g() is None"}],
    })
    assert "The following cell failed:\n\n    assert f(1) == 2" in text
    assert "The error was:\n\n    AssertionError" in text  # without the terminal colours
    assert "The following cell passed:\n\n    assert g() is None" in text
    assert "unknown: [1]" in describe_validation({"unknown": [1]})


def test_gradebook_url_is_nbgraders_default(tmp_path):
    assert gradebook_url(tmp_path) == f"sqlite:///{tmp_path.resolve() / 'gradebook.db'}"


def test_test_cells_are_graded_code_the_student_does_not_write():
    assert is_test_cell(graded_tests("t", 1, "assert True"))
    assert not is_test_cell(solution("s", "### BEGIN SOLUTION\nx = 1\n### END SOLUTION"))
    assert not is_test_cell(new_code_cell("x = 1"))
    answer = graded_tests("a", 1, "x = 1")
    answer.metadata["nbgrader"]["solution"] = True  # an autograded answer
    assert not is_test_cell(answer)
    assert grade_id(answer) == "a" and grade_id(new_code_cell("")) is None
