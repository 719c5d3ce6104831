"""Feedback without answers: no hidden test, no reference code, and each failure's message.

The end-to-end tests build a tiny course (two exercises, hidden tests, a hidden reference
function bound by a composed test), grade four submissions and generate feedback: about a
minute. tests/test_grading_pipeline.py checks the real notebooks' feedback.
"""

from __future__ import annotations

import ast
import copy
import json

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from autograder import sources
from autograder.authoring import expand
from autograder.course import Course, GradingError
from autograder.feedback import PLACEHOLDER, WITHHELD, HideHiddenTests, split_hidden, student_view
from autograder.gradescope import results_for
from autograder.isolated import IsolatedGrader
from autograder.leaks import (
    _secret_and_public_lines,
    find_feedback_leaks,
    find_leaks,
    readable_text,
)
from autograder.limits import Limits
from autograder.nbgrader_api import HIDDEN, Markers, course_config, grade_id, is_test_cell, markers
from autograder.submissions import collect

NAME = "99_tiny"
TINY = '''\
# %% id="setup"
import sys
import warnings

sys.stderr = sys.stdout  # as notebook_setup does under nbgrader: stderr would cost points

# %% [solution] id="square"
def square(x):
    ### BEGIN SOLUTION
    return x * x
    ### END SOLUTION


# %% [tests] id="square_tests" points=2
from cs182meta.student import student

assert student.square(3) == 9, "square(3) should be 9"
### BEGIN HIDDEN TESTS
def _reference_square(value):
    secret_product = value * value
    return secret_product


for secret_input in (-4, 7):
    assert student.square(secret_input) == _reference_square(secret_input), (
        "square must also be right for negative and odd numbers"
    )
### END HIDDEN TESTS

# %% [solution] id="cube"
def cube(x):
    ### BEGIN SOLUTION
    return square(x) * x
    ### END SOLUTION


# %% [tests] id="cube_tests" points=1
import warnings

from cs182meta.student import student

### BEGIN HIDDEN TESTS
warnings.warn("a warning raised in the hidden tests")
### END HIDDEN TESTS
# One mistake costs once: the cube of 2, or what the student's own square gives.
assert student.cube(2) in (8, student.square(2) * 2), "cube(2) should be 8"
'''
SUBMISSIONS = {  # student: (square's body, cube's body)
    "right": ("return x * x", "return square(x) * x"),
    "student": ("return x * 3", "return square(x) * x"),  # hidden test fails; Gradescope's name
    "crashes": ("if x < 0:\n        raise ValueError('no negative numbers, please')\n"
                "    return x * x", "return square(x) * x"),
    "visible": ("return x * x", "return x * x"),  # cube's visible test fails
}
HIDDEN_CODE = ("secret_product", "_reference_square", "for secret_input", "BEGIN HIDDEN",
               'warnings.warn("a warning raised in the hidden tests")')


def _submission(release, square_body, cube_body):
    nb = nbformat.v4.reads(nbformat.v4.writes(release))
    for cell in nb.cells:
        if grade_id(cell) == "square":
            cell.source = f"def square(x):\n    {square_body}"
        elif grade_id(cell) == "cube":
            cell.source = f"def cube(x):\n    {cube_body}"
    return nb


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("feedback")
    notebooks = root / "notebooks"
    notebooks.mkdir()
    nbformat.write(expand(TINY, "tiny.py", NAME), notebooks / f"{NAME}.ipynb")
    mp = pytest.MonkeyPatch()
    mp.setattr(sources, "NOTEBOOKS", notebooks)  # Course.prepare stages from here
    course = Course(root / "course")
    try:
        course.release([NAME])
    finally:
        mp.undo()
    release = nbformat.read(course.notebook("release", NAME), 4)
    for student, (square_body, cube_body) in SUBMISSIONS.items():
        (root / "inbox" / student).mkdir(parents=True)
        nbformat.write(_submission(release, square_body, cube_body),
                       root / "inbox" / student / f"{NAME}.ipynb")
    collect(course, root / "inbox", [NAME])
    grader = IsolatedGrader(course, Limits(wall_s=120, cell_s=30, memory_mb=2000))
    scores = {o.student: o.score for o in grader.grade_all(NAME, sorted(SUBMISSIONS), jobs=2)}
    course.feedback(NAME)
    return course, scores


def _feedback(course, student) -> str:
    return readable_text(course.folder("feedback", NAME, student) / f"{NAME}.html")


def test_the_tiny_course_grades_as_expected(tiny):
    _, scores = tiny
    assert scores == {"right": 3, "student": 1, "crashes": 1, "visible": 2}


@pytest.mark.parametrize("student", sorted(SUBMISSIONS))
def test_feedback_shows_no_hidden_test(tiny, student):
    course, _ = tiny
    text = _feedback(course, student)
    source = nbformat.read(course.notebook("source", NAME), 4)
    assert find_feedback_leaks(source, text) == []
    for code in HIDDEN_CODE:
        assert code not in text, f"{student}'s feedback shows {code!r}"
    assert "square(3) should be 9" in text and PLACEHOLDER in text  # the visible part stays
    assert "Score: " in text


def test_a_failing_hidden_test_shows_its_type_and_message_only(tiny):
    course, _ = tiny
    text = _feedback(course, "student")
    assert "AssertionError: square must also be right for negative and odd numbers" in text
    assert "in the hidden tests (not shown)" in text


def test_the_students_own_code_stays_in_a_traceback(tiny):
    course, _ = tiny
    text = _feedback(course, "crashes")
    assert "ValueError: no negative numbers, please" in text
    assert "raise ValueError('no negative numbers, please')" in text  # their frame


def test_a_failing_visible_test_shows_its_line(tiny):
    course, _ = tiny
    text = _feedback(course, "visible")
    assert ('assert student.cube(2) in (8, student.square(2) * 2), "cube(2) should be 8"'
            in text.split("---->", 1)[1])
    assert "AssertionError: cube(2) should be 8" in text


def test_a_warning_from_a_hidden_line_shows_its_message_not_its_line(tiny):
    course, _ = tiny
    graded = nbformat.read(course.notebook("autograded", NAME, "right"), 4)
    printed = json.dumps([cell.get("outputs", []) for cell in graded.cells])
    assert "UserWarning: a warning raised in the hidden tests" in printed
    assert "warnings.warn(" not in printed  # the judge prints no line of its cells
    text = _feedback(course, "right")
    assert "UserWarning: a warning raised in the hidden tests" in text


def test_gradescope_results_show_type_and_message_only(tiny):
    course, _ = tiny
    results = results_for(course, NAME, "")
    assert {t["name"]: t["visibility"] for t in results["tests"]} == {
        "square_tests": "after_published", "cube_tests": "after_published"}
    outputs = {t["name"]: t["output"] for t in results["tests"]}
    assert outputs == {
        "square_tests": "AssertionError: square must also be right for negative and odd numbers",
        "cube_tests": "passed",
    }
    assert not any(code in json.dumps(results) for code in HIDDEN_CODE)


def test_the_leak_check_removes_a_leaking_file_and_says_what_leaked(tiny):
    course, _ = tiny
    planted = course.folder("feedback", NAME, "right") / "notes.txt"
    planted.write_text("def _reference_square(value):\n    secret_product = value * value\n")
    with pytest.raises(GradingError) as failed:
        course.check_feedback(NAME)
    message = str(failed.value)
    assert "feedback/right/99_tiny/notes.txt" in message
    assert "'_reference_square'" in message and "'secret_product = value * value'" in message
    assert not planted.exists()
    course.check_feedback(NAME)  # the rest is clean


def test_show_hidden_gives_nbgraders_full_feedback(tiny):
    course, _ = tiny
    course.feedback(NAME, show_hidden=True)
    try:
        text = _feedback(course, "student")
        assert "secret_product = value * value" in text and "BEGIN HIDDEN TESTS" in text
    finally:
        course.feedback(NAME)  # the other tests read the default feedback


# ---------------------------------------------------------------- no kernels
def test_split_hidden_maps_visible_lines():
    split = split_hidden("a = 1\n### BEGIN HIDDEN TESTS\nb = 2\n### END HIDDEN TESTS\nc = 3")
    assert split.shown == ["a = 1", PLACEHOLDER, "c = 3"] and split.hidden == ["b = 2"]
    assert split.line_map == {1: 1, 5: 3}
    assert split_hidden("a = 1") is None


def test_the_leak_check_spares_what_the_student_wrote():
    source = expand(TINY, "tiny.py", NAME)
    leaky = "x\n    secret_product = value * value\ny"
    assert find_feedback_leaks(source, leaky)
    student = new_notebook(cells=[new_code_cell("secret_product = value * value  # mine")])
    assert find_feedback_leaks(source, leaky, student) == []
    assert find_feedback_leaks(source, "x = 1\nreturn x * x") == []  # solution lines are fine


def test_a_hidden_line_inside_a_visible_line_is_no_leak():
    source = expand('# %% [tests] id="t" points=1\nresult = check_all(3)\n### BEGIN HIDDEN TESTS\n'
                    'check_all(3)\nassert secret_check(4)\n### END HIDDEN TESTS\n', "t.py", "99_t")
    assert find_feedback_leaks(source, "----> 1 result = check_all(3)") == []
    assert find_feedback_leaks(source, "assert secret_check(4)")


def _message_text(node, source: str) -> str:
    """An assert message as written: string pieces, and ``{expression}`` for f-string parts."""
    if isinstance(node, ast.Constant):
        return str(node.value)
    if isinstance(node, ast.JoinedStr):
        return "".join(_message_text(part, source) for part in node.values)
    if isinstance(node, ast.FormattedValue):
        return "{" + ast.get_source_segment(source, node.value) + "}"
    return ast.get_source_segment(source, node)


def _hidden_asserts(cell):
    hidden = {number + 1 for region in markers().regions(cell.source, HIDDEN)
              for number in range(region.begin + 1, region.end)}
    return [n for n in ast.walk(ast.parse(cell.source))
            if isinstance(n, ast.Assert) and n.lineno in hidden]


@pytest.mark.parametrize("name", sources.assignments())
def test_hidden_assertion_messages_teach_without_giving_the_answer(name):
    """Feedback shows a failing hidden assert's message alone: every hidden assert has one,
    and none holds a line of a reference implementation (a line of a hidden or solution
    region found nowhere outside them, ≥ 6 characters)."""
    nb = sources.notebook(name)
    secret, _ = _secret_and_public_lines(nb)
    asserts = [(cell, node) for cell in nb.cells if is_test_cell(cell)
               for node in _hidden_asserts(cell)]
    # The messages' own lines are lines of hidden regions too: they are what may be shown.
    message_lines = {line.strip() for cell, node in asserts if node.msg is not None
                     for line in cell.source.split("\n")[node.msg.lineno - 1:node.msg.end_lineno]
                     if node.msg.lineno > node.test.end_lineno}
    reference = secret - message_lines
    problems = []
    for cell, node in asserts:
        where = f"{name} {grade_id(cell)}, line {node.lineno}"
        if node.msg is None:
            problems.append(f"{where}: a hidden assert without a message")
            continue
        text = _message_text(node.msg, cell.source)
        problems += [f"{where}: message {text!r} holds {line!r}" for line in reference
                     if line in text]
    assert not problems, "\n".join(problems)


# ---------------------------------------------------------------- the course's delimiters
CUSTOM_CONFIG = ('c = get_config()\n'
                 'c.ClearSolutions.begin_solution_delimeter = "<<< ANSWER"\n'
                 'c.ClearSolutions.end_solution_delimeter = "ANSWER >>>"\n'
                 'c.ClearHiddenTests.begin_test_delimeter = "<<< SECRET"\n'
                 'c.ClearHiddenTests.end_test_delimeter = "SECRET >>>"\n')
CUSTOM_SOLUTION = "def square(x):\n    # <<< ANSWER\n    result = x * x\n    return result\n    # ANSWER >>>"
CUSTOM_TESTS = ("assert square(3) == 9\n# <<< SECRET\nassert square(-4) == 16, 'negative numbers'\n"
                "# SECRET >>>\nassert square(0) == 0")


def _custom_course(root):
    """A course folder whose config sets other delimiters, and its source notebook."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "nbgrader_config.py").write_text(CUSTOM_CONFIG)
    source = expand('# %% [solution] id="sq"\n### BEGIN SOLUTION\n### END SOLUTION\n\n'
                    '# %% [tests] id="sq_tests" points=1\nassert True\n', "sq.py", NAME)
    source.cells[0].source, source.cells[1].source = CUSTOM_SOLUTION, CUSTOM_TESTS
    return markers(root), source


def test_the_leak_checks_follow_the_courses_delimiters(tmp_path):
    custom, source = _custom_course(tmp_path)
    release = nbformat.v4.reads(nbformat.v4.writes(source))
    release.cells[0].source = "def square(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()"
    release.cells[1].source = "assert square(3) == 9\nassert square(0) == 0"
    assert find_leaks(source, release, custom) == []
    release.cells[0].source += "\n    result = x * x"
    release.cells[1].source += "\n# SECRET >>>"
    problems = " ".join(find_leaks(source, release, custom))
    assert "secret line 'result = x * x'" in problems and "marker 'SECRET >>>'" in problems
    assert find_leaks(source, release, Markers()) == []  # nbgrader's defaults see no region
    hidden_line = "assert square(-4) == 16, 'negative numbers'"
    assert find_feedback_leaks(source, f"----> 3 {hidden_line}", delimiters=custom)
    assert find_feedback_leaks(source, "<<< SECRET", delimiters=custom)
    assert find_feedback_leaks(source, "assert square(3) == 9", delimiters=custom) == []


def test_the_feedback_cuts_the_courses_hidden_regions(tmp_path):
    custom, graded = _custom_course(tmp_path)
    hidden_line = "assert square(-4) == 16, 'negative numbers'"
    graded.cells[1].outputs = [nbformat.v4.new_output(
        "stream", name="stdout", text=f"warning at: {hidden_line}\n")]
    for view in (student_view(graded, custom),  # and as nbgrader's feedback runs it:
                 HideHiddenTests(config=course_config(tmp_path)).preprocess(graded, {})[0]):
        tests = view.cells[1]
        assert tests.source == f"assert square(3) == 9\n{PLACEHOLDER}\nassert square(0) == 0"
        assert tests.outputs[0].text == WITHHELD + "\n"
    assert student_view(graded, Markers()).cells[1].source == CUSTOM_TESTS  # defaults: no region


def test_the_courses_feedback_check_uses_its_delimiters(tmp_path):
    custom, source = _custom_course(tmp_path / "course")
    course = Course(tmp_path / "course")
    course.folder("source", NAME).mkdir(parents=True)
    nbformat.write(source, course.notebook("source", NAME))
    leaky = course.folder("feedback", NAME, "someone") / f"{NAME}.html"
    leaky.parent.mkdir(parents=True)
    leaky.write_text("<pre>assert square(-4) == 16, 'negative numbers'</pre>")
    with pytest.raises(GradingError, match="negative numbers"):
        course.check_feedback(NAME)
    assert not leaky.exists()


def test_a_submission_made_from_the_source_notebook_shows_it():
    from autograder import sources
    from autograder.leaks import carries_the_source, hidden_only_lines
    from autograder.samples import filled

    source = sources.notebook("00_episodes")
    release = nbformat.read(sources.NOTEBOOKS / "00_episodes.ipynb", 4)  # stand-in release
    for cell in release.cells:
        outside, _ = markers().split(cell.source)
        cell.source = "\n".join(outside)
    perfect = filled(release, source)
    assert carries_the_source(source, perfect) == []
    assert any("BEGIN HIDDEN TESTS" in sign for sign in carries_the_source(source, source))
    hidden = sorted(hidden_only_lines(source))
    pasted = copy.deepcopy(perfect)
    pasted.cells[-1].source += "\n" + hidden[0]
    assert carries_the_source(source, pasted) == []  # one line may be a coincidence
    pasted.cells[-1].source += "\n" + hidden[1]
    assert carries_the_source(source, pasted) == ["it holds 2 lines of the hidden tests"]
