"""The release checks run nbgrader's Validator (starts kernels: about a minute)."""

import nbformat
import pytest

from autograder.authoring import expand
from autograder.course import Course, GradingError


def _notebook(path, body):
    source = (f'# %% [solution] id="sq"\ndef square(x):\n    ### BEGIN SOLUTION\n    {body}\n'
              '    ### END SOLUTION\n\n# %% [tests] id="sq_tests" points=1\nassert square(3) == 9\n')
    nbformat.write(expand(source, "sq.py", "99_sq"), path)
    return path


def test_a_failing_source_and_a_passing_blank_are_refused(tmp_path):
    course = Course(tmp_path / "course")
    course.prepare([])
    wrong = _notebook(tmp_path / "wrong.ipynb", "return x + x")
    with pytest.raises(GradingError, match="fails its own tests") as failed:
        course.check_source_passes(wrong)
    assert "The following cell failed:\n\n    assert square(3) == 9" in str(failed.value)
    assert "AssertionError" in str(failed.value)
    course.check_blank_fails(wrong)  # its only test fails
    right = _notebook(tmp_path / "right.ipynb", "return x * x")
    with pytest.raises(GradingError, match="cannot tell a blank answer") as passed:
        course.check_blank_fails(right)
    assert "The following cell passed:\n\n    assert square(3) == 9" in str(passed.value)
