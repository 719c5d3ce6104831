"""The grading pipeline end to end: release every notebook, grade sample submissions.

Proves each autograded test can fail: a submission with one planted bug must lose exactly
the points of the tests that bug targets, and nothing else.
"""

import csv
import html
import json
import os
import shutil
import subprocess
import sys

import nbformat
import pytest

from autograder import class_results, diagnosis, gradescope, sources
from autograder.course import Course
from autograder.feedback import student_view
from autograder.grades import cell_scores
from autograder.grading import grade_submissions, pending
from autograder.leaks import (
    _secret_and_public_lines,
    find_feedback_leaks,
    find_leaks,
    hidden_only_lines,
    readable_text,
)
from autograder.limits import Limits
from autograder.nbgrader_api import SOLUTION, grade_id
from autograder.samples import TWO_BUGS, bug_sample_name, two_bugs, write_samples
from autograder.submissions import collect

ASSIGNMENTS = sources.assignments()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("grading")
    course = Course(root / "course")
    course.release(ASSIGNMENTS, jobs=2, past_due=ASSIGNMENTS)  # with the leak check and validate --invert
    write_samples(course, ASSIGNMENTS, root / "submissions", pair=True)
    collect(course, root / "submissions", ASSIGNMENTS)
    # One queue of every notebook's submissions, as `make demo` grades: no core waits for
    # the last submission of one notebook before the next notebook starts. The later
    # notebooks (the slower ones) go first, so the queue ends on short submissions.
    work = [(a, student) for a in reversed(ASSIGNMENTS) for student in pending(course, a)]
    grade_submissions(course, work, jobs=2, limits=Limits())
    return course, {assignment: cell_scores(course, assignment) for assignment in ASSIGNMENTS}


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_is_free_of_solutions_hidden_tests_and_outputs(graded, assignment):
    course, _ = graded
    source = nbformat.read(course.notebook("source", assignment), 4)
    release = nbformat.read(course.notebook("release", assignment), 4)
    assert find_leaks(source, release) == []


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_perfect_and_noisy_submissions_get_full_marks(graded, assignment):
    _, scores = graded
    for student in ("perfect", "noisy"):
        row = scores[assignment][student]
        lost = {cell: s for cell, s in row.items() if s[0] != s[1]}
        assert not lost, f"{student} lost points on {lost}"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_samples_are_graded_in_bubblewrap_and_none_is_flagged(graded, assignment):
    """Every sample (perfect, blank, noisy, each planted bug, two bugs) was graded in the
    sandbox, and none looks made from the source notebook."""
    course, scores = graded
    for student in scores[assignment]:
        record = course.grading_record(assignment, student)
        assert record["sandbox"] == "bubblewrap" and record["flags"] == [], (student, record)


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
    return course.step_folder("feedback")


def test_feedback_and_grades_csv(graded, feedback, tmp_path):
    course, scores = graded
    for assignment in ASSIGNMENTS:
        html = (feedback / "perfect" / assignment / f"{assignment}.html").read_text()
        assert "nearest_neighbour" in html or assignment != "00_episodes"
    csv = course.export(tmp_path / "grades.csv").read_text().splitlines()
    students = {student for table in scores.values() for student in table}
    # nbgrader exports one row per student and assignment, a missing submission included.
    assert csv[0].startswith('"assignment",') and len(csv) == 1 + len(students) * len(ASSIGNMENTS)


def test_grades_csv_class_report_and_gradescope_agree_on_every_score(graded, tmp_path):
    """One score rule: on every sample (perfect, blank, noisy, each planted bug, two bugs),
    with partial scores made by hand in a copy of the course (a written answer graded, a
    test's score overridden, extra credit), the grades CSV, the class report and
    Gradescope's results.json give each student the same scores."""
    course = Course(tmp_path / "course")
    shutil.copytree(graded[0].root, course.root)
    with course.gradebook() as gb:
        for assignment in ASSIGNMENTS:
            staged = course.assignment(assignment)
            test = staged.tests[0].name
            for student, cell, values in (
                    ("perfect", (staged.written or staged.tests)[0].name, {"manual_score": 1.0}),
                    ("noisy", test, {"manual_score": 0.5}),
                    ("blank", test, {"extra_credit": 0.25})):
                grade = gb.find_grade(cell, assignment, assignment, student)
                for key, value in values.items():
                    setattr(grade, key, value)
        gb.db.commit()
    with open(course.export(tmp_path / "grades.csv"), newline="") as file:
        rows = {(r["assignment"], r["student_id"]): r for r in csv.DictReader(file)}
    for assignment in ASSIGNMENTS:
        report = class_results.load(course, assignment)
        tests = {c.name for c in report.tests()}
        assert len(report.submissions) > 3
        for sub in report.submissions:
            assert float(rows[assignment, sub.student]["raw_score"]) == pytest.approx(sub.total)
            results = gradescope.results_for(course, assignment, "", student=sub.student)
            assert {t["name"]: t["score"] for t in results["tests"]} == {
                cell: score or 0.0 for cell, score in sub.scores.items() if cell in tests}
            assert results["score"] == pytest.approx(sum(sub.scores[c] or 0.0 for c in tests))
        assert report.submissions[0].total != 0 or report.submissions[-1].total != 0


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_gives_no_hidden_test_away_but_every_message(graded, feedback, assignment):
    """Every sample's feedback (perfect, blank, noisy, each planted bug): no hidden-test
    line, marker or reference function; each failing test's ``ExceptionType: message``."""
    course, scores = graded
    source = nbformat.read(course.notebook("source", assignment), 4)
    # Lines of the hidden tests that are not also lines of the model solution (which the
    # samples hand in as their own), checked without the leak check's exemption.
    reference = hidden_only_lines(source) - _secret_and_public_lines(source, (SOLUTION,))[0]
    shown_messages = 0
    for student in scores[assignment]:
        text = readable_text(feedback / student / assignment / f"{assignment}.html")
        graded_nb = nbformat.read(
            course.notebook("autograded", assignment, student), 4)
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
    graded_nb = nbformat.read(course.notebook("autograded", assignment, student), 4)
    for cell in student_view(graded_nb).cells:
        if grade_id(cell) in bug.loses:
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert errors, f"{student}: {grade_id(cell)} lost its points without an error"
            for error in errors:
                assert error.evalue.strip(), f"{student}: {grade_id(cell)} fails without a message"
                assert f"{error.ename}: {error.evalue}" in text, (student, grade_id(cell))


# ---------------------------------------------------------------------- misconceptions
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_recorded_signatures_are_current(graded, assignment):
    """What the planted bugs fail today is what notebooks/src/NN.signatures.json says."""
    from autograder.misconceptions import recorded_signatures

    course, _ = graded
    recorded = json.loads(diagnosis.signatures_path(assignment).read_text())
    committed = {entry["number"]: entry["signature"] for entry in recorded["bugs"]}
    assert recorded_signatures(course, assignment) == committed, (
        f"run `python -m autograder misconceptions {assignment}` and commit the file")


def _diagnosed(course, assignment, student):
    catalogue = diagnosis.Catalogue.load(course.misconceptions_path(assignment))
    graded_nb = json.loads(course.notebook("autograded", assignment, student).read_text())
    return catalogue.diagnose(diagnosis.failures(graded_nb))


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_each_planted_bug_is_diagnosed_as_itself_and_correct_work_never(graded, assignment):
    course, _ = graded
    bugs = sources.planted_bugs(assignment)
    for number in range(1, len(bugs) + 1):
        found = _diagnosed(course, assignment, bug_sample_name(number))
        assert [number in m.bugs for m in found] == [True], (number, bugs[number - 1].why, found)
    for student in ("perfect", "noisy", "blank"):
        assert _diagnosed(course, assignment, student) == [], student


def test_planted_bugs_are_told_apart(graded):
    """At least 95% of the planted bugs have failures of their own; bugs that share
    their failures share one misconception (and its hint)."""
    course, _ = graded
    total = shared = 0
    for assignment in ASSIGNMENTS:
        catalogue = diagnosis.Catalogue.load(course.misconceptions_path(assignment))
        for m in catalogue.misconceptions:
            total += len(m.bugs)
            shared += len(m.bugs) if len(m.bugs) > 1 else 0
        for m in catalogue.misconceptions:
            hints = {sources.planted_bugs(assignment)[n - 1].hint for n in m.bugs}
            assert len(hints) == 1, (
                f"{assignment}: bugs {m.bugs} fail the same way, so their students get one "
                f"hint: give them the same `hint` (one that fits {m.label!r}), or make a "
                "test tell them apart")
    assert total == sum(len(sources.planted_bugs(a)) for a in ASSIGNMENTS)
    assert (total - shared) / total >= 0.95, f"{shared} of {total} bugs cannot be told apart"


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_a_submission_with_two_bugs_gets_both(graded, assignment):
    course, _ = graded
    first, last = two_bugs(sources.planted_bugs(assignment))
    found = _diagnosed(course, assignment, TWO_BUGS)
    assert sorted(m.bugs[0] if len(m.bugs) == 1 else next(n for n in m.bugs if n in (first, last))
                  for m in found) == [first, last], found


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_feedback_hints_at_the_planted_bug_and_only_there(graded, feedback, assignment):
    course, _ = graded
    catalogue = diagnosis.Catalogue.load(course.misconceptions_path(assignment))
    for number in range(1, len(sources.planted_bugs(assignment)) + 1):
        student = bug_sample_name(number)
        text = readable_text(feedback / student / assignment / f"{assignment}.html")
        (mine,) = [m for m in catalogue.misconceptions if number in m.bugs]
        assert f"Hint: {mine.hint}" in text, student
        assert text.count("Hint:") == len(mine.cells()), student
    for student in ("perfect", "noisy", "blank"):
        text = readable_text(feedback / student / assignment / f"{assignment}.html")
        assert "Hint:" not in text, student


def test_no_hints_leaves_them_out(graded, feedback):
    course, _ = graded
    assignment = ASSIGNMENTS[0]
    page = feedback / bug_sample_name(1) / assignment / f"{assignment}.html"
    try:
        course.feedback(assignment, hints=False)
        assert "Hint:" not in readable_text(page)
    finally:
        course.feedback(assignment)  # the other tests read the feedback with hints
    assert "Hint:" in readable_text(page)


def test_class_report_names_each_planted_bug(graded, tmp_path):
    from autograder.__main__ import main

    course, scores = graded
    assert main(["--course", str(course.root), "report", "--out", str(tmp_path)]) == 0
    for assignment in ASSIGNMENTS:
        page = (tmp_path / f"{assignment}.html").read_text()
        assert "data:image/png;base64," in page
        for bug in sources.planted_bugs(assignment):
            assert html.escape(bug.why) in page, bug.why
        rows = list(csv.DictReader((tmp_path / f"{assignment}.csv").open()))
        assert sorted(r["student"] for r in rows) == sorted(scores[assignment])
        by_student = {r["student"]: r for r in rows}
        assert by_student["perfect"]["misconceptions"] == ""
        assert sources.planted_bugs(assignment)[0].why in by_student["bug-1"]["misconceptions"]


def test_report_speed_benchmark_builds_a_synthetic_class(graded):
    """benchmarks/report_speed.py (the 400-submission figure in RESULTS), on 20 copies."""
    course, _ = graded
    script = sources.REPO / "benchmarks" / "report_speed.py"
    run = subprocess.run([sys.executable, str(script), "--template", str(course.root),
                          "--assignment", ASSIGNMENTS[0], "--copies", "20", "--repeats", "1"],
                         capture_output=True, text=True, timeout=300, cwd=sources.REPO,
                         env={**os.environ, "PYTHONPATH": str(sources.REPO)})
    assert run.returncode == 0, run.stderr[-3000:]
    assert "report of 20 submissions" in run.stdout, run.stdout


# ---------------------------------------------------------------------- hints while students work
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_recorded_visible_signatures_are_current(graded, assignment):
    """What each planted bug makes the *visible* tests fail with today (the student's own
    notebook runs only those) is what notebooks/src/NN.signatures.json says."""
    from autograder.misconceptions import visible_failures

    course, _ = graded
    recorded = json.loads(diagnosis.signatures_path(assignment).read_text())
    committed = {entry["number"]: entry["visible"] for entry in recorded["bugs"] if entry["visible"]}
    found, keys = visible_failures(assignment, course.assignment(assignment).release)
    assert (found, keys) == (committed, recorded["visible_sources"]), (
        f"run `python -m autograder misconceptions {assignment}` and commit the file")


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_every_planted_bug_whose_visible_tests_fail_gets_its_hint_and_blank_work_none(graded, assignment):
    from cs182meta.failures import normalise
    from cs182meta.hints import Hints

    course, _ = graded
    hints = Hints()
    hints.add(json.loads(course.hints_path(assignment).read_text()))
    release = {grade_id(c): c.source for c in course.assignment(assignment).release.cells}
    recorded = json.loads(diagnosis.signatures_path(assignment).read_text())["bugs"]
    bugs = sources.planted_bugs(assignment)
    shown = 0
    for entry in recorded:
        for cell, failure in entry["visible"].items():
            assert bugs[entry["number"] - 1].hint in hints.for_failure(release[cell], failure), (
                entry["why"], cell)
            shown += 1
    assert shown >= 1
    blank = normalise("StudentCodeError", "NotImplementedError: ")  # the release's stub raises it
    for cell, source in release.items():
        assert hints.for_failure(source, blank) == [], cell


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_release_hints_hold_no_hidden_test_solution_or_bug(graded, assignment):
    from autograder.course import _strings
    from autograder.leaks import find_hints_leaks

    course, _ = graded
    staged = course.assignment(assignment)
    data = json.loads(course.hints_path(assignment).read_text())
    text = "\n".join(_strings(data))
    assert find_hints_leaks(staged.source, text, staged.planted_bugs) == []
    hidden = sorted(hidden_only_lines(staged.source), key=len)[-1]
    solution = sorted(_secret_and_public_lines(staged.source, kinds=(SOLUTION,))[0], key=len)[-1]
    for planted in (hidden, solution, staged.planted_bugs[0].why):
        assert find_hints_leaks(staged.source, text + "\n" + planted, staged.planted_bugs), planted


def test_a_failing_visible_test_ends_with_its_hint_in_a_real_kernel(graded, tmp_path, monkeypatch):
    """Restart & Run All of 00 with its first planted bug, as JupyterLab or Validate runs
    it: the failing test's stored error ends with the bug's hint; no other cell has one."""
    from nbclient import NotebookClient

    course, _ = graded
    bug = sources.planted_bugs("00_episodes")[0]
    sample = course.notebook("submitted", "00_episodes", bug_sample_name(1))
    shutil.copy(sample, tmp_path / "00_episodes.ipynb")
    shutil.copy(course.hints_path("00_episodes"), tmp_path)
    nb = nbformat.read(tmp_path / "00_episodes.ipynb", 4)
    monkeypatch.setenv("CS182META_PROFILE", "grading")  # the kernel inherits the environment
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    NotebookClient(nb, timeout=300, allow_errors=True, resources={"metadata": {"path": str(tmp_path)}},
                   kernel_name="python3").execute()
    errors = {grade_id(c): o for c in nb.cells for o in c.get("outputs", []) if o.output_type == "error"}
    assert set(errors) == set(bug.loses), errors.keys()
    for cell in bug.loses:
        assert errors[cell].evalue.endswith(f"Hint: {bug.hint}"), errors[cell].evalue
