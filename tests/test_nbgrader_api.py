"""The kit's use of nbgrader (no kernels started)."""

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.converters import Autograde
from nbgrader.preprocessors import Execute, OverwriteCells

from autograder.authoring import expand
from autograder.course import Course
from autograder.isolated import sanitize_steps, score_steps
from autograder.limits import Limits
from autograder.nbgrader_api import (
    course_config,
    describe_validation,
    grade_id,
    gradebook_url,
    is_test_cell,
    run_preprocessors,
)


def graded_tests(grade_id, points, source):
    return expand(f'# %% [tests] id="{grade_id}" points={points}\n{source}\n', "t.py", "99_t").cells[0]


def solution(grade_id, source):
    return expand(f'# %% [solution] id="{grade_id}"\n{source}\n', "t.py", "99_t").cells[0]


def test_course_config_is_the_course_folders(tmp_path):
    assert course_config(tmp_path) == {}  # no file: nbgrader's defaults
    course = Course(tmp_path / "course")
    course.prepare([])
    assert course_config(course.root).Execute.timeout == Limits().cell_s


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


# nbgrader 0.9's `autograde`; a change here must be read before it is accepted: every
# preprocessor in these lists runs in the grader process, next to the gradebook.
NBGRADER_SANITIZE = ["ClearOutput", "DeduplicateIds", "OverwriteKernelspec", "OverwriteCells",
                     "CheckCellMetadata"]
NBGRADER_AUTOGRADE = ["Execute", "IgnorePattern", "ClearMetadataPreprocessor", "LimitOutput",
                      "SaveAutoGrades", "AssignLatePenalties", "CheckCellMetadata"]


def _names(items):
    return [(c if isinstance(c, type) else type(c)).__name__ for c in items]


def test_the_grader_runs_nbgraders_autograde_preprocessors(tmp_path):
    course = Course(tmp_path / "course")
    course.prepare([])
    config = course_config(course.root)
    converter = Autograde(config=config)  # what `nbgrader autograde` would run
    assert _names(converter.sanitize_preprocessors) == NBGRADER_SANITIZE
    assert _names(converter.autograde_preprocessors) == NBGRADER_AUTOGRADE

    sanitize = sanitize_steps(config)
    assert [type(p) for p in sanitize] == converter.sanitize_preprocessors
    assert next(p for p in sanitize if isinstance(p, OverwriteCells)).add_missing_cells
    # The sandbox executes the notebook in a separate process instead of nbgrader's Execute.
    assert [type(p) for p in score_steps(config)] == [
        c for c in converter.autograde_preprocessors if c is not Execute]


def test_grading_preprocessors_take_the_course_config(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(
        "c = get_config()\nc.IgnorePattern.enabled = True\nc.IgnorePattern.pattern = 'noise'\n"
        "c.LimitOutput.max_lines = 7\nc.ClearOutput.enabled = True\n")
    config = course_config(tmp_path)
    steps = {type(p).__name__: p for p in score_steps(config)}
    assert steps["IgnorePattern"].enabled and steps["IgnorePattern"].pattern == "noise"
    assert steps["LimitOutput"].max_lines == 7
    assert not steps["ClearMetadataPreprocessor"].enabled  # off unless configured, as in nbgrader
    assert {type(p).__name__: p for p in sanitize_steps(config)}["ClearOutput"].enabled


def test_a_disabled_preprocessor_does_nothing():
    nb = new_notebook(cells=[graded_tests("t", 1, "assert True")])
    kept = run_preprocessors([ClearMetadataPreprocessor()], nb, {})
    assert grade_id(kept.cells[0]) == "t"
    cleared = run_preprocessors([ClearMetadataPreprocessor(enabled=True)], nb, {})
    assert grade_id(cleared.cells[0]) is None
