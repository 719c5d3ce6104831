"""Written answers as PDFs for Gradescope (cs182meta/pdf.py, autograder/pdfs.py), read
back with pypdf: one question per page in the notebook's order, the student on every
page, maths rendered, long and blank answers, and errors that name the student."""

import json
import shutil
import subprocess
import sys

import nbformat
import pytest
from nbformat.v4 import new_markdown_cell, new_notebook

from autograder.__main__ import main as autograder_main
from autograder.course import Course, GradingError
from autograder.pdfs import write_pdfs
from cs182meta.pdf import RenderError, find_chromium, printer
from cs182meta.written import STUB, WrittenAnswer, read_notebook, written_answers

pypdf = pytest.importorskip("pypdf", reason="pypdf is a dev extra: pip install -e '.[dev]'")
try:
    find_chromium()
except RenderError as missing:
    pytest.skip(f"{missing}", allow_module_level=True)

LONG = " ".join(f"w{i}" for i in range(3000))
MATHS = r"So $\alpha_i = \frac{1}{2}$ and $$\sum_t \mathcal{L}(\phi_t)$$"
UNICODE = "Accents é ß, Greek Ωμ, arrows → ∑"


def _written(grade_id: str, points: int, text: str):
    return new_markdown_cell(text, metadata={"nbgrader": {
        "grade": True, "solution": True, "grade_id": grade_id, "points": points,
        "locked": False, "schema_version": 3, "task": False}})


def notebook(*answers: str):
    """A notebook with one question cell and one written answer per item of ``answers``."""
    cells = [new_markdown_cell("# A title")]
    for number, text in enumerate(answers, 1):
        cells += [new_markdown_cell(f"**Q{number}.** Question number {number}?"),
                  _written(f"answer_{number}", number, text)]
    return new_notebook(cells=cells)


def pages(path) -> list[str]:
    return [page.extract_text() for page in pypdf.PdfReader(path).pages]


@pytest.fixture
def pdf():
    with printer() as opened:  # one Chromium per test: Playwright's sync API allows one at a time
        yield opened


def test_one_question_per_page_in_order_with_the_student_on_every_page(pdf, tmp_path):
    answers = written_answers(json.loads(nbformat.writes(notebook(MATHS, LONG, STUB, UNICODE))))
    assert [a.grade_id for a in answers] == ["answer_1", "answer_2", "answer_3", "answer_4"]
    assert answers[2].blank and not answers[0].blank
    written = pdf.print(answers, "02_nonparametric", "ada-lovelace", tmp_path / "ada.pdf")
    text = pages(written)
    starts = [i for i, page in enumerate(text) if "Question " in page.split("\n", 1)[0]]
    assert len(starts) == 4 and starts[0] == 0, starts
    reader = pypdf.PdfReader(written)
    assert [(entry.title, reader.get_destination_page_number(entry)) for entry in reader.outline] == [
        (f"Question {number}: answer_{number}", start) for number, start in enumerate(starts, 1)]
    assert starts[2] - starts[1] >= 3, "a 3,000-word answer runs on over the next pages"
    assert starts[3] == starts[2] + 1 and len(text) == starts[3] + 1, "a blank answer takes one page"
    for number, start in enumerate(starts, 1):
        assert f"Question {number}: answer_{number}" in text[start]
        assert f"Q{number}. Question number {number}?" in text[start]
        assert f"{number} point" in text[start]
    for page_number, page in enumerate(text, 1):
        assert f"ada-lovelace · 02_nonparametric page {page_number} of {len(text)}" in page
    maths = text[starts[0]]
    assert "\\frac" not in maths and "$" not in maths and ("α" in maths or "𝛼" in maths), maths
    long_text = " ".join(text[starts[1]:starts[2]])
    assert "w0 " in long_text and "w2999" in long_text
    assert "No answer given." in text[starts[2]]
    assert UNICODE.replace(" ", "") in text[starts[3]].replace(" ", "").replace("\n", "")


def test_the_students_html_is_shown_not_run(pdf, tmp_path):
    answer = WrittenAnswer("a", "Q?", 1, '<script>document.body.innerHTML = "gone"</script> '
                                         '<img src="http://example.com/x.png"> plain')
    (page,) = pages(pdf.print([answer], "00_episodes", "eve", tmp_path / "eve.pdf"))
    assert "<script>" in page and "plain" in page and "gone" not in page.replace('"gone"', "")


def test_a_broken_notebook_is_an_error_that_names_it(tmp_path):
    broken = tmp_path / "00_episodes.ipynb"
    broken.write_text('{"cells": [')
    with pytest.raises(ValueError, match="00_episodes.ipynb is not a notebook"):
        read_notebook(broken)


@pytest.fixture
def course(tmp_path):
    """A course with a release and three collected submissions (one of them broken)."""
    course = Course(tmp_path / "course")
    release = course.notebook("release", "00_episodes")
    release.parent.mkdir(parents=True)
    nbformat.write(notebook(STUB, STUB), release)
    for student, answers in (("alice", ("Pixels are **shifted**.", STUB)), ("bob", (MATHS, LONG))):
        path = course.notebook("submitted", "00_episodes", student)
        path.parent.mkdir(parents=True)
        nbformat.write(notebook(*answers), path)
    broken = course.notebook("submitted", "00_episodes", "carol")
    broken.parent.mkdir(parents=True)
    broken.write_text("not json")
    return course


def test_the_instructor_gets_every_pdf_it_can_and_an_error_naming_the_rest(course, capsys):
    assert autograder_main(["--course", str(course.root), "pdfs", "00_episodes"]) == 1
    assert "carol" in capsys.readouterr().err
    folder = course.root / "pdfs" / "00_episodes"
    assert sorted(p.name for p in folder.iterdir()) == ["00_episodes-template.pdf", "alice.pdf", "bob.pdf"]
    alice = pages(folder / "alice.pdf")
    assert len(alice) == 2 and "shifted" in alice[0] and "No answer given." in alice[1]
    assert all("alice · 00_episodes" in page for page in alice)
    template = pages(folder / "00_episodes-template.pdf")
    assert len(template) == 2 and all("No answer given." in page for page in template)
    shutil.rmtree(course.folder("submitted", "00_episodes", "carol").parent)
    source = course.notebook("source", "00_episodes")
    source.parent.mkdir(parents=True)
    course.notebook("release", "00_episodes").rename(source)
    written = write_pdfs(course, "00_episodes", course.root / "elsewhere")
    assert sorted(path.relative_to(course.root).as_posix() for path in written) == [
        f"elsewhere/00_episodes/{name}.pdf" for name in ("00_episodes-template", "alice", "bob")]
    assert all("No answer given." in page for page in pages(written[0])), "the template's answers are blank"
    source.unlink()
    with pytest.raises(GradingError, match="template: no release or source notebook of 00_episodes"):
        write_pdfs(course, "00_episodes")


def test_the_student_exports_the_same_pdf_from_the_command_line(tmp_path):
    path = tmp_path / "03_maml.ipynb"
    nbformat.write(notebook(MATHS, STUB), path)
    done = subprocess.run([sys.executable, "-m", "cs182meta", "export", str(path), "--name", "sid 123"],
                          capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    assert "2 written answers, one per page (1 blank)" in done.stdout
    text = pages(tmp_path / "03_maml-written.pdf")
    assert len(text) == 2 and all("sid 123 · 03_maml" in page for page in text)
    path.write_text("{")
    failed = subprocess.run([sys.executable, "-m", "cs182meta", "export", str(path)],
                            capture_output=True, text=True, check=False)
    assert failed.returncode == 1 and "03_maml.ipynb is not a notebook" in failed.stderr
