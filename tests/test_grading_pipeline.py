"""The grading pipeline end to end: release every notebook, grade sample submissions.

Proves each autograded test can fail: a submission with one planted bug must lose exactly
the points of the tests that bug targets, and nothing else.
"""

import nbformat
import pytest

from autograder import sources
from autograder.course import Course
from autograder.feedback import student_view
from autograder.grades import cell_scores
from autograder.grading import grade_pending
from autograder.isolated import Limits
from autograder.leaks import (
    _secret_and_public_lines,
    find_feedback_leaks,
    find_leaks,
    hidden_only_lines,
    readable_text,
)
from autograder.nbgrader_api import grade_id
from autograder.samples import bug_sample_name, write_samples
from autograder.submissions import collect

ASSIGNMENTS = sources.assignments()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    course = Course(root / "course")
    course.release(ASSIGNMENTS)  # includes the leak check and validate --invert
    write_samples(course, ASSIGNMENTS, root / "submissions")
    collect(course, root / "submissions", ASSIGNMENTS)
    scores = {}
    for assignment in ASSIGNMENTS:
        grade_pending(course, assignment, jobs=2, limits=Limits())
        scores[assignment] = cell_scores(course, assignment)
    return course, scores


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_free_of_solutions_hidden_tests_and_outputs(graded, assignment):
    course, _ = graded
    source = nbformat.read(course.path("source", assignment, f"{assignment}.ipynb"), 4)
    release = nbformat.read(course.path("release", assignment, f"{assignment}.ipynb"), 4)
    assert find_leaks(source, release) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_perfect_and_noisy_submissions_get_full_marks(graded, assignment):
    _, scores = graded
    for student in ("perfect", "noisy"):
        row = scores[assignment][student]
        lost = {cell: s for cell, s in row.items() if s[0] != s[1]}
        assert not lost, f"{student} lost points on {lost}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_blank_submission_scores_zero(graded, assignment):
    _, scores = graded
    assert all(score == 0 for score, _ in scores[assignment]["blank"].values())


@pytest.mark.parametrize(
    "assignment, number, bug",
    [(a, n, b) for a in ASSIGNMENTS for n, b in enumerate(sources.planted_bugs(a), start=1)],
    ids=lambda v: v if isinstance(v, str) else (str(v) if isinstance(v, int) else v.cell),
)
def test_each_planted_bug_loses_exactly_its_exercise(graded, assignment, number, bug):
    _, scores = graded
    row = scores[assignment][bug_sample_name(number)]
    for cell, (score, maximum) in row.items():
        if cell in bug.loses:
            assert score == 0, f"bug {bug.why!r} was not caught by {cell}"
        else:
            assert score == maximum, f"bug {bug.why!r} also cost points in {cell}"


@pytest.fixture(scope="module")
def feedback(graded):
    course, _ = graded
    for assignment in ASSIGNMENTS:
        course.feedback(assignment)  # with its leak check, which raises if anything leaks
    return course.path("feedback")


def test_feedback_and_grades_csv(graded, feedback, tmp_path):
    course, scores = graded
    for assignment in ASSIGNMENTS:
        html = (feedback / "perfect" / assignment / f"{assignment}.html").read_text()
        assert "nearest_neighbour" in html or assignment != "00_episodes"
    csv = course.export(tmp_path / "grades.csv").read_text().splitlines()
    students = {student for table in scores.values() for student in table}
    # nbgrader exports one row per student and assignment, a missing submission included.
    assert csv[0].startswith("assignment,") and len(csv) == 1 + len(students) * len(ASSIGNMENTS)


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_gives_no_hidden_test_away_but_every_message(graded, feedback, assignment):
    """Every sample's feedback (perfect, blank, noisy, each planted bug): no hidden-test
    line, marker or reference function; each failing test's ``ExceptionType: message``."""
    course, scores = graded
    source = nbformat.read(course.path("source", assignment, f"{assignment}.ipynb"), 4)
    # Lines of the hidden tests that are not also lines of the model solution (which the
    # samples hand in as their own), checked without the leak check's exemption.
    reference = hidden_only_lines(source) - _secret_and_public_lines(source, ("SOLUTION",))[0]
    shown_messages = 0
    for student in scores[assignment]:
        text = readable_text(feedback / student / assignment / f"{assignment}.html")
        graded_nb = nbformat.read(
            course.path("autograded", student, assignment, f"{assignment}.ipynb"), 4)
        assert find_feedback_leaks(source, text, graded_nb) == []
        assert "_reference_" not in text and "HIDDEN TESTS" not in text, student
        assert not [line for line in reference if line in text], student
        for cell in student_view(graded_nb).cells:
            for output in cell.get("outputs", []):
                if output.output_type == "error":
                    assert f"{output.ename}: {output.evalue}" in text, (student, grade_id(cell))
                    shown_messages += 1
                    if output.ename == "AssertionError":
                        assert output.evalue.strip(), f"{student} {grade_id(cell)}: no message"
    assert shown_messages  # the blank and buggy samples fail tests


@pytest.mark.parametrize(
    "assignment, number, bug",
    [(a, n, b) for a in ASSIGNMENTS for n, b in enumerate(sources.planted_bugs(a), start=1)],
    ids=lambda v: v if isinstance(v, str) else (str(v) if isinstance(v, int) else v.cell),
)
def test_a_planted_bug_shows_the_message_of_the_test_it_fails(graded, feedback, assignment,
                                                              number, bug):
    course, _ = graded
    student = bug_sample_name(number)
    text = readable_text(feedback / student / assignment / f"{assignment}.html")
    graded_nb = nbformat.read(course.path("autograded", student, assignment, f"{assignment}.ipynb"), 4)
    for cell in student_view(graded_nb).cells:
        if grade_id(cell) in bug.loses:
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert errors, f"{student}: {grade_id(cell)} lost its points without an error"
            for error in errors:
                assert error.evalue.strip(), f"{student}: {grade_id(cell)} fails without a message"
                assert f"{error.ename}: {error.evalue}" in text, (student, grade_id(cell))
