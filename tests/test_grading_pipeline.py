"""The grading pipeline end to end: release every notebook, grade sample submissions.

Proves each autograded test can fail: a submission with one planted bug must lose exactly
the points of the tests that bug targets, and nothing else.
"""

import nbformat
import pytest

from autograder import sources
from autograder.course import Course
from autograder.grades import cell_scores
from autograder.grading import grade_pending
from autograder.isolated import Limits
from autograder.leaks import find_leaks
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


def test_feedback_and_grades_csv(graded, tmp_path):
    course, scores = graded
    for assignment in ASSIGNMENTS:
        feedback = course.feedback(assignment)
        html = (feedback / "perfect" / assignment / f"{assignment}.html").read_text()
        assert "nearest_neighbour" in html or assignment != "00_episodes"
    csv = course.export(tmp_path / "grades.csv").read_text().splitlines()
    students = {student for table in scores.values() for student in table}
    # nbgrader exports one row per student and assignment, a missing submission included.
    assert csv[0].startswith("assignment,") and len(csv) == 1 + len(students) * len(ASSIGNMENTS)
