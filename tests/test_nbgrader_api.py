"""The kit's use of nbgrader (no kernels started)."""

import pytest
from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbformat.v4 import new_code_cell, new_notebook
from nbgrader.converters import Autograde
from nbgrader.preprocessors import ClearHiddenTests, ClearSolutions, Execute, OverwriteCells
from traitlets.config import Config

from autograder.authoring import expand
from autograder.course import Course
from autograder.isolated import sanitize_steps, score_steps
from autograder.limits import Limits
from autograder.nbgrader_api import (
    HIDDEN,
    SOLUTION,
    Markers,
    course_config,
    describe_validation,
    grade_id,
    gradebook_url,
    is_reference_name,
    is_test_cell,
    markers,
    reference_names,
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


# ---------------------------------------------------------------------- markers
CUSTOM = ('c = get_config()\n'
          'c.ClearSolutions.begin_solution_delimeter = "<<< ANSWER"\n'
          'c.ClearSolutions.end_solution_delimeter = "ANSWER >>>"\n'
          'c.ClearHiddenTests.begin_test_delimeter = "<<< SECRET"\n'
          'c.ClearHiddenTests.end_test_delimeter = "SECRET >>>"\n')


def test_the_default_markers_are_nbgraders():
    solutions, hidden = ClearSolutions(), ClearHiddenTests()
    assert Markers() == Markers(solutions.begin_solution_delimeter, solutions.end_solution_delimeter,
                                hidden.begin_test_delimeter, hidden.end_test_delimeter)
    assert Markers.from_config(Config()) == Markers() == markers()  # the kit's config sets none


def test_markers_follow_the_course_config(tmp_path):
    course = Course(tmp_path / "course")
    course.prepare([])
    assert markers(course.root) == Markers()
    (tmp_path / "nbgrader_config.py").write_text(CUSTOM)
    custom = markers(tmp_path)
    assert custom == Markers("<<< ANSWER", "ANSWER >>>", "<<< SECRET", "SECRET >>>")
    assert custom.has_hidden("x\n# <<< SECRET\ny\n# SECRET >>>")
    assert not custom.has_hidden("### BEGIN HIDDEN TESTS\ny\n### END HIDDEN TESTS")


def test_regions_are_cut_as_nbgrader_cuts_them():
    source = ("a = 1\n    ### BEGIN HIDDEN TESTS\n    b = 2\n    ### END HIDDEN TESTS\nc = 3\n"
              "### BEGIN SOLUTION\nd = 4\n### END SOLUTION\n### BEGIN HIDDEN TESTS\ne = 5\n"
              "### END HIDDEN TESTS")
    cell = graded_tests("t", 1, "x = 1")
    cell.source = source
    nbgrader_cut, _ = ClearHiddenTests().preprocess_cell(cell, {}, 0)
    outside, inside = Markers().split(source, (HIDDEN,))
    assert outside == nbgrader_cut.source.split("\n")
    assert inside == {HIDDEN: ["    b = 2", "e = 5"]}
    outside, inside = Markers().split(source)
    assert outside == ["a = 1", "c = 3"] and inside[SOLUTION] == ["d = 4"]
    assert [(r.begin, r.end, r.indent) for r in Markers().regions(source, HIDDEN)] == [
        (1, 3, "    "), (8, 10, "")]
    with pytest.raises(ValueError, match="without"):
        Markers().regions("### BEGIN SOLUTION\nx = 1", SOLUTION)
    with pytest.raises(ValueError, match="nested"):
        Markers().regions("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION", SOLUTION)


def test_reference_names_and_plain_dict_cells():
    assert is_reference_name("_reference_prototypes") and not is_reference_name("prototypes")
    assert reference_names("f(_reference_a) + _reference_b_2 + my_reference_c") == {
        "_reference_a", "_reference_b_2"}
    cell = dict(graded_tests("t", 1, "assert True"))
    cell["metadata"] = dict(cell["metadata"])
    assert is_test_cell(cell) and grade_id(cell) == "t"
    assert not is_test_cell({"cell_type": "code", "source": ""})
