"""The kit's use of nbgrader (no kernels started)."""

from autograder.course import Course
from autograder.nbgrader_api import course_config, describe_validation


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
