"""``python -m autograder pdfs NN_name``: every collected submission's written answers
as a PDF (``<course>/pdfs/NN_name/<student>.pdf``), plus a blank template
(``NN_name-template.pdf``) to lay out the Gradescope assignment that grades them.

Every student whose PDF can be made gets one; then each failure (a broken notebook, a
render that failed) is reported with the student's name, and the command fails.
"""

from __future__ import annotations

from pathlib import Path

from autograder.course import Course, GradingError
from cs182meta.pdf import RenderError, printer
from cs182meta.written import NotebookError, WrittenAnswer, read_notebook, written_answers


def template(answers: list[WrittenAnswer]) -> list[WrittenAnswer]:
    """The same questions with blank answers."""
    return [WrittenAnswer(a.grade_id, a.question, a.points, "") for a in answers]


def write_pdfs(course: Course, assignment: str, out: Path | None = None) -> list[Path]:
    """The PDFs of ``assignment``'s collected submissions and its template (questions from
    the release, else the source notebook), in ``<out>/<assignment>/`` (``out`` defaults to
    ``<course>/pdfs``); raise GradingError naming every PDF that could not be made (after
    the others)."""
    folder = (Path(out) if out else course.step_folder("pdfs")) / assignment
    students = course.students("submitted", assignment)
    if not students:
        raise GradingError(f"no collected submission of {assignment} in {course.root}: "
                           "run `python -m autograder autograde SUBMISSIONS` first")
    blank = next((path for step in ("release", "source")
                  if (path := course.notebook(step, assignment)).exists()), None)
    written, failed = [], []
    with printer() as pdf:
        if blank is None:
            failed.append(f"template: no release or source notebook of {assignment} to take the "
                          "questions from: run `python -m autograder release` first")
        else:
            try:
                questions = template(written_answers(read_notebook(blank)))
                written.append(pdf.print(questions, assignment, "template", folder / f"{assignment}-template.pdf"))
            except (NotebookError, RenderError) as err:
                failed.append(f"template: {err}")
        for student in students:
            try:
                answers = written_answers(read_notebook(course.notebook("submitted", assignment, student)))
                written.append(pdf.print(answers, assignment, student, folder / f"{student}.pdf"))
            except (NotebookError, RenderError) as err:
                failed.append(f"{student}: {err}")
    if failed:
        raise GradingError(f"{len(failed)} of {len(students) + 1} PDFs of {assignment} could not be made:\n  "
                           + "\n  ".join(failed))
    return written
