"""The student's and the instructor's flow in a real browser (issue 14).

Chromium from the operating system (Debian's ``chromium``) driven by Playwright for Python
against a JupyterLab 4 server of our own, rooted in a temporary course folder built by the
kit, with nbgrader's extensions: a student opens a release notebook, types an answer,
runs it and uses nbgrader's Validate button; an instructor grades a written answer in the
formgrader, exports the grades and opens the feedback.

The notebook is ``00_episodes``, not ``02_nonparametric``: within its first two
exercises it has everything the student's test looks at (the parameters cell, a plot, a
progress bar, exercises with visible tests), and it has a written answer for the
formgrader, so one course serves both tests; in 02 the first plot comes after the
training of exercise 3, and a second notebook would cost another release and grading.
Notebook ``04_families`` is released into the same course (02 and 03 confirmed past due,
as its release guard asks) and opened too: its provided cell shows their solutions, and a
student's wrong answer to its first exercise gets that bug's hint.

``tools/screenshots.py`` runs this module with ``CS182META_SCREENSHOTS=docs/screenshots``:
the tests then save the pictures the README shows. A failing test leaves a screenshot,
the page's HTML and the server's log in ``build/browser/``.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
import uuid
from pathlib import Path

import pytest

try:
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # pragma: no cover - depends on the machine
    sync_playwright = None

CHROMIUM = next((p for p in ("/usr/bin/chromium", shutil.which("chromium"),
                             shutil.which("chromium-browser")) if p and os.path.exists(p)), None)
if sync_playwright is None or CHROMIUM is None:
    pytest.skip("browser tests skipped: they need Playwright for Python and the system's "
                "Chromium (`pip install playwright` and `apt-get install chromium`; "
                "`make test` installs both where it can)", allow_module_level=True)

import nbformat  # noqa: E402
import psutil  # noqa: E402

from autograder import sources  # noqa: E402
from autograder.course import Course  # noqa: E402
from autograder.grading import grade_pending  # noqa: E402
from autograder.isolated import warm_cache  # noqa: E402
from autograder.lab import LabServer, kill_recorded  # noqa: E402
from autograder.limits import Limits  # noqa: E402
from autograder.nbgrader_api import grade_id  # noqa: E402
from autograder.samples import answer, bug_sample_name, write_samples  # noqa: E402
from autograder.submissions import collect  # noqa: E402

pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[1]
ARTIFACTS = REPO / "build" / "browser"
ASSIGNMENT = "00_episodes"
FAMILIES = "04_families"  # shows 02's and 03's solutions: released once they are past due
SHOTS = os.environ.get("CS182META_SCREENSHOTS")
# Chromium as the machines of this project allow it: no sandbox (root, containers), no
# GPU, and none of its background connections (the network is closed).
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync"]
VIEWPORT = {"width": 1280, "height": 800}
# Every process these tests start carries this variable (``<run>-server`` for JupyterLab
# and its kernels, ``<run>-browser`` for Playwright's driver and Chromium), so that the
# checks can find any survivor, even one that left its parent.
MARKER = "CS182META_BROWSER_TEST"
MARK = uuid.uuid4().hex

# The pages may reach nothing but the test's own server: every other request is blocked
# (the kit runs offline, and a test must not depend on the network).
EXTERNAL = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")
# Errors in the page's console that are understood, each with why; anything else fails.
ALLOWED_CONSOLE_ERRORS = [
    # nbconvert's classic HTML template, which the formgrader's grading page and the
    # feedback HTML are made with, loads MathJax from cdnjs; blocked here (and offline),
    # so formulas stay as TeX source. Nothing else on those pages needs it.
    re.compile(r"^https://cdnjs\.cloudflare\.com/ajax/libs/mathjax/.* Failed to load resource"),
    # ... and then "MathJax is not defined": in the page's inline MathJax configuration,
    # and in the formgrader's FormGrader.init (formgrade.js, configureScrolling), which
    # stops there: offline, the formgrader's keyboard shortcuts (Tab to the next score,
    # Ctrl+. to the next submission) are not registered. Scores and comments, typed
    # and saved on change, work; the test saves them that way.
    re.compile(r"^page error: MathJax is not defined$"),
]

# JupyterLab settings for the test server: all cells in the DOM (no windowing), no
# automatic brackets (the tests type every character), no news or update checks (they
# would reach the internet and show a toast over the notebook).
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings":
        '{"windowingMode": "none", "codeCellConfig": {"lineNumbers": false, '
        '"lineWrap": false, "autoClosingBrackets": false}}',
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        '{"fetchNews": "false", "checkForUpdates": false}',
}


# ---------------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def survivors_check():
    """After the module: no server, kernel or browser started here is left running."""
    seen: dict[int, float] = {}
    yield seen
    leftovers = _marked_processes()
    killed = kill_recorded({p.pid: p.create_time() for p in leftovers} | seen)
    assert not killed, f"processes started by the browser tests survived: {killed}"


def _marked_processes(kind: str = "") -> list[psutil.Process]:
    """Processes (other than this one) whose environment carries this run's marker (of
    ``kind``, "server" or "browser"; either by default)."""
    found = []
    for proc in psutil.process_iter(["pid"]):
        if proc.pid == os.getpid():
            continue
        try:
            if proc.environ().get(MARKER, "").startswith(f"{MARK}-{kind}"):
                found.append(proc)
        except psutil.Error:
            pass
    return found


@pytest.fixture(scope="module")
def browser(survivors_check):
    old = os.environ.get(MARKER)
    os.environ[MARKER] = f"{MARK}-browser"  # Playwright's driver inherits it, and Chromium
    try:
        playwright = sync_playwright().start()
    finally:
        if old is None:
            os.environ.pop(MARKER)
        else:
            os.environ[MARKER] = old
    try:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            env={**os.environ, MARKER: f"{MARK}-browser"})
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    """A course folder with 00_episodes and 04_families released. The two sample
    submissions of :func:`graded` are graded meanwhile, in a thread, while the student's
    tests work in the browser."""
    root = tmp_path_factory.mktemp("browser-course") / "course"
    course = Course(root)
    # The kit's release (staging, generate_assignment, the leak check) without its two
    # runs of the whole notebook (the source passes its tests, the blank release fails
    # them): tests/test_grading_pipeline.py checks those for every notebook, and here they
    # would take a minute or more of the browser tests' budget of 4.
    course.check_source_passes = lambda *args: None
    course.check_blank_fails = lambda *args: None
    course.release([ASSIGNMENT, FAMILIES], past_due=course.not_past_due(FAMILIES))
    # The dataset, made once: the course's copy (grading gives each sandbox one) and this
    # session's cache, where the notebook's kernel and Validate look (the same file).
    for file in warm_cache(course).glob("*.npz"):
        shutil.copy2(file, Path(os.environ["CS182META_CACHE"]) / file.name)
    course.grading = Grading(course)
    yield course
    course.grading.wait()


class Grading(threading.Thread):
    """Two sample submissions of 00_episodes, collected and autograded in the background:
    ``perfect`` and ``bug-1`` (the first planted bug: exercise 1 takes the farthest image)."""

    def __init__(self, course: Course):
        super().__init__(daemon=True)
        self.folder = course.root.parent / "submissions"
        write_samples(course, [ASSIGNMENT], self.folder, bugs="one", others=("perfect",))
        self.course, self.error = course, None
        self.start()

    def run(self) -> None:
        try:
            collect(self.course, self.folder, [ASSIGNMENT])
            grade_pending(self.course, ASSIGNMENT, jobs=2, limits=Limits())
        except BaseException as error:  # noqa: BLE001  (raised again in wait())
            self.error = error

    def wait(self) -> None:
        self.join()
        if self.error is not None:
            raise self.error


@pytest.fixture
def lab(course, survivors_check, request, tmp_path):
    """A JupyterLab server of this test's own on the course folder, always stopped."""
    settings = tmp_path / "lab-settings"
    for name, text in LAB_SETTINGS.items():
        (settings / name).parent.mkdir(parents=True, exist_ok=True)
        (settings / name).write_text(text)
    for folder in ("config", "runtime", "workspaces", "ipython"):
        (tmp_path / folder).mkdir()
    server = LabServer(course.root, ARTIFACTS / f"{request.node.name}.server.log", env={
        MARKER: f"{MARK}-server",
        "JUPYTERLAB_SETTINGS_DIR": str(settings),
        "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
        "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
        "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
        "IPYTHONDIR": str(tmp_path / "ipython"),
        # The short profile the grader uses: the cells the tests run take seconds.
        "CS182META_PROFILE": "grading",
    })
    try:
        yield server.start()
    finally:
        server.stop()
        survivors_check.update(server.seen)


@pytest.fixture
def page(browser, request):
    """A fresh page; its console errors fail the test. A failed test leaves a screenshot
    and the page's HTML in build/browser/."""
    context = browser.new_context(viewport=VIEWPORT)
    context.route(EXTERNAL, lambda route: route.abort())
    page = context.new_page()
    page.set_default_timeout(30_000)
    errors: list[str] = []

    def record(text: str) -> None:
        if not any(p.search(text) for p in ALLOWED_CONSOLE_ERRORS):
            errors.append(text[:600])

    page.on("console", lambda message: message.type == "error" and record(
        f"{message.location.get('url', '?')} {message.text}"))
    page.on("pageerror", lambda error: record(
        f"page error: {getattr(error, 'message', error)}"))
    try:
        yield page
        assert not errors, "errors in the page's console:\n" + "\n".join(errors)
    finally:
        report = getattr(request.node, "rep_call", None)
        if report is None or report.failed:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            stem = ARTIFACTS / request.node.name
            for current in context.pages:
                try:
                    current.screenshot(path=f"{stem}.png", full_page=False)
                    Path(f"{stem}.html").write_text(current.content())
                except Exception as problem:  # noqa: BLE001  (a closed page; keep the failure)
                    Path(f"{stem}.txt").write_text(f"no screenshot: {problem}")
        context.close()


# ----------------------------------------------------------------------------- helpers
def shot(page, name: str) -> None:
    """Save a picture for the README when tools/screenshots.py asks for them (a 256-colour
    PNG: a third of the size, and screenshots of a user interface lose nothing)."""
    if SHOTS:
        import io

        from PIL import Image

        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        image = Image.open(io.BytesIO(page.screenshot())).convert("RGB")
        image.quantize(256).save(Path(SHOTS) / f"{name}.png", optimize=True)


def notebook_cells(page):
    return page.locator(".jp-NotebookPanel:visible .jp-Notebook .jp-Cell")


def cell_index(nb, cell_id: str) -> int:
    return next(i for i, cell in enumerate(nb.cells) if grade_id(cell) == cell_id
                or cell.get("id") == cell_id)


def wait_until_run(cell, timeout_ms: int = 90_000) -> None:
    """The cell's prompt shows an execution count (``[3]:``), not ``[ ]`` or ``[*]``."""
    expect(cell.locator(".jp-InputPrompt")).to_have_text(re.compile(r"\[\d+\]:"),
                                                         timeout=timeout_ms)


def select_cell(cell) -> None:
    """Command mode on ``cell``: a click on its prompt, as a person would."""
    cell.locator(".jp-InputPrompt").click()


def type_code(page, cell, code: str) -> None:
    """Replace the cell's text by typing ``code`` on the keyboard into its editor. The
    editor indents each new line itself; the indentation it adds is selected and typed
    over, so the text ends up exactly ``code``."""
    cell.locator(".cm-content").click()
    page.keyboard.press("Control+a")
    for number, line in enumerate(code.split("\n")):
        if number:
            page.keyboard.press("Enter")
            page.keyboard.press("Shift+Home")
            if not line:
                page.keyboard.press("Delete")
        if line:
            page.keyboard.type(line)
    text = cell.locator(".cm-content").inner_text().replace("\u00a0", " ")
    assert text.rstrip() == code.rstrip(), f"the editor holds:\n{text}\nnot:\n{code}"


def error_outputs(cell) -> list[str]:
    return cell.locator(".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
                        ", .jp-RenderedText[data-mime-type='application/vnd.jupyter.error']"
                        ).all_inner_texts()


def validate(page, timeout_ms: int = 150_000) -> str:
    """Click nbgrader's Validate button; return the text of its result dialog (closed)."""
    page.locator(".jp-NotebookPanel:visible .validate-button").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog.locator(".jp-Dialog-header")).to_have_text("Validation Results",
                                                             timeout=timeout_ms)
    text = dialog.locator(".jp-Dialog-body").inner_text()
    return text


def close_dialog(page) -> None:
    page.locator(".jp-Dialog .jp-mod-accept").click()
    expect(page.locator(".jp-Dialog")).to_have_count(0)


def open_release(page, lab, course, name: str):
    """The release notebook of ``name`` opened in JupyterLab: (notebook, its cells in the
    page), every cell rendered."""
    nb = nbformat.read(course.notebook("release", name), 4)
    page.goto(lab.url(f"lab/tree/release/{name}/{name}.ipynb"))
    cells = notebook_cells(page)
    expect(cells).to_have_count(len(nb.cells), timeout=60_000)
    return nb, cells


def run_up_to(page, nb, cells, stop_id: str) -> None:
    """Run every cell from ``setup`` to the one before ``stop_id`` with Shift+Enter, as a
    student would, once the kernel is up; each must run without an error.

    Under load, JupyterLab has been seen to drop the first Shift+Enter while its kernel
    connection settles (no cell ran, the kernel idle): the first cell is run alone and,
    if it has not started after 20 s, selected and run once more."""
    expect(page.locator(".jp-NotebookPanel:visible .jp-Notebook-ExecutionIndicator")
           ).to_have_attribute("data-status", "idle", timeout=60_000)
    first, stop = cell_index(nb, "setup"), cell_index(nb, stop_id)
    for attempt in range(2):
        select_cell(cells.nth(first))
        page.keyboard.press("Shift+Enter")
        try:
            expect(cells.nth(first).locator(".jp-InputPrompt")).not_to_have_text("[ ]:", timeout=20_000)
            break
        except AssertionError:
            if attempt:
                raise
    for _ in range(first + 1, stop):
        page.keyboard.press("Shift+Enter")
    for i in range(first, stop):
        if nb.cells[i].cell_type == "code":
            wait_until_run(cells.nth(i))
            assert error_outputs(cells.nth(i)) == [], f"cell {grade_id(nb.cells[i])} failed"


def solution_body(source_nb, cell_id: str) -> str:
    """The source notebook's answer for a solution cell, as a student would type it."""
    return answer(next(c.source for c in source_nb.cells if grade_id(c) == cell_id))


# ------------------------------------------------------------------------------ tests
@pytest.fixture
def pristine_releases(course):
    """The release notebooks, put back as released after the test (Validate saves them)."""
    paths = [course.notebook("release", name) for name in (ASSIGNMENT, FAMILIES)]
    pristine = [path.read_bytes() for path in paths]
    yield
    for path, content in zip(paths, pristine):
        path.write_bytes(content)
        shutil.rmtree(path.parent / ".ipynb_checkpoints", ignore_errors=True)


def test_student_solves_an_exercise_and_validates(lab, page, course, pristine_releases):
    nb, cells = open_release(page, lab, course, ASSIGNMENT)
    source = nbformat.read(course.notebook("source", ASSIGNMENT), 4)

    # What a student sees first: the title, the parameters cell, the first exercise.
    expect(cells.nth(0).locator("h1")).to_contain_text("Tasks, episodes")
    parameters = cells.nth(cell_index(nb, "parameters"))
    expect(parameters.locator(".cm-content")).to_contain_text("N_WAY = 5")
    expect(parameters.locator(".cm-content")).to_contain_text("EVAL_EPISODES = by_profile(")
    exercise = cells.nth(cell_index(nb, "nearest_neighbour"))
    expect(cells.nth(cell_index(nb, "ex1-text")).locator("h2")).to_contain_text("Exercise 1")
    expect(exercise.locator(".cm-content")).to_contain_text("# YOUR CODE HERE")
    expect(exercise.locator(".cm-content")).to_contain_text("raise NotImplementedError()")
    expect(page.locator(".jp-NotebookPanel:visible .validate-button")).to_be_visible()
    run_up_to(page, nb, cells, "nearest_neighbour")
    # The episode is a picture (inline PNG), not a figure's repr.
    plot = cells.nth(cell_index(nb, "show-episode")).locator(".jp-RenderedImage img")
    expect(plot).to_have_count(1)
    assert plot.get_attribute("src").startswith("data:image/png;base64,")

    # Type the answer into the exercise, run it and its test cell.
    type_code(page, exercise, solution_body(source, "nearest_neighbour"))
    page.keyboard.press("Shift+Enter")
    tests = cells.nth(cell_index(nb, "nearest_neighbour_tests"))
    page.keyboard.press("Shift+Enter")
    for cell in (exercise, tests):
        wait_until_run(cell)
        assert error_outputs(cell) == []
    exercise.evaluate("cell => cell.scrollIntoView({block: 'start'})")
    shot(page, "student-notebook")

    # On to exercise 2's stub (not answered), then the comparison of the learners: its
    # progress bars are widgets, and it stops at exercise 2's NotImplementedError.
    for _ in range(cell_index(nb, "nearest_neighbour_tests") + 1,
                   cell_index(nb, "generic_learner_tests")):
        page.keyboard.press("Shift+Enter")
    wait_until_run(cells.nth(cell_index(nb, "generic_learner")))
    compare = cells.nth(cell_index(nb, "compare"))
    select_cell(compare)
    page.keyboard.press("Control+Enter")
    wait_until_run(compare)
    expect(compare.locator(".widget-hprogress").first).to_be_visible()
    text = compare.locator(".jp-OutputArea").inner_text()
    assert "\x1b[" not in text and "[A" not in text, f"escape codes in the output:\n{text}"
    assert "NotImplementedError" in text

    # Validate: exercise 1 passes; exercise 2's test fails and is shown with its error.
    result = validate(page)
    assert "The following cell failed" in result, result
    assert "fit_generic_learner(task.support_x" in result and "NotImplementedError" in result
    assert "a query that is almost a copy" not in result
    shot(page, "validate")
    close_dialog(page)

    # A wrong answer to exercise 1 (the farthest image): Validate names its test.
    wrong = solution_body(source, "nearest_neighbour").replace("argmin", "argmax")
    type_code(page, exercise, wrong)
    page.keyboard.press("Escape")
    result = validate(page)
    assert "nearest_neighbour_predict(support_x, support_y, query_x)" in result, result
    assert ("a query that is almost a copy of a support image must get that image's label"
            in result), result
    # It is the first planted bug: Validate, and the test cell run in the notebook, end
    # the failure with that bug's hint.
    hint = f"Hint: {sources.planted_bugs(ASSIGNMENT)[0].hint}"
    assert hint in result, result
    close_dialog(page)
    select_cell(exercise)
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    wait_until_run(tests)
    expect(tests.locator(".jp-OutputArea")).to_contain_text(hint)
    tests.evaluate("cell => cell.scrollIntoView({block: 'start'})")
    shot(page, "hint")


def test_student_works_on_notebook_04(lab, page, course, pristine_releases):
    """04 as released after 02 and 03 are due: the provided learners show their solutions;
    a wrong first exercise gets its hint, a right one passes; Validate names the next stub."""
    nb, cells = open_release(page, lab, course, FAMILIES)
    source = nbformat.read(course.notebook("source", FAMILIES), 4)
    expect(cells.nth(0).locator("h1")).to_contain_text("Which family, when?")
    families = cells.nth(cell_index(nb, "families")).locator(".cm-content")
    for shown in ("def protonet_logits(", "def matching_probabilities(", "def inner_adapt("):
        expect(families).to_contain_text(shown)
    expect(families).not_to_contain_text("YOUR CODE HERE")
    exercise = cells.nth(cell_index(nb, "siamese_logits"))
    expect(exercise.locator(".cm-content")).to_contain_text("raise NotImplementedError()")
    run_up_to(page, nb, cells, "siamese_logits")
    # The evaluation glyphs and their sheared, scaled copies: a picture.
    plot = cells.nth(cell_index(nb, "data")).locator(".jp-RenderedImage img")
    expect(plot).to_have_count(1)

    # The signed difference (the first planted bug): the visible test fails with its hint.
    bug = sources.planted_bugs(FAMILIES)[0]
    right = solution_body(source, "siamese_logits")
    assert bug.cell == "siamese_logits" and bug.find in right
    tests = cells.nth(cell_index(nb, "siamese_logits_tests"))
    type_code(page, exercise, right.replace(bug.find, bug.replace))
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    wait_until_run(tests)
    expect(tests.locator(".jp-OutputArea")).to_contain_text(f"Hint: {bug.hint}")

    # The right answer passes; Validate then stops at exercise 1(b)'s stub.
    type_code(page, exercise, right)
    page.keyboard.press("Shift+Enter")
    page.keyboard.press("Shift+Enter")
    expect(tests.locator(".jp-OutputArea-output")).to_have_count(0)  # the hint is gone
    for cell in (exercise, tests):
        wait_until_run(cell)
        assert error_outputs(cell) == []
    page.keyboard.press("Escape")
    result = validate(page)
    assert "student.siamese_class_scores(" in result and "NotImplementedError" in result, result
    assert "the twins are interchangeable" not in result, result
    close_dialog(page)


@pytest.fixture(scope="module")
def graded(course):
    """The course with ``perfect`` and ``bug-1`` autograded (see :class:`Grading`)."""
    course.grading.wait()
    return course


def _total(csv_text: str, student: str) -> float:
    import csv
    import io

    rows = [r for r in csv.DictReader(io.StringIO(csv_text))
            if r["student_id"] == student and r["assignment"] == ASSIGNMENT]
    assert len(rows) == 1, csv_text
    return float(rows[0]["score"])


def test_instructor_grades_a_written_answer(lab, page, graded, tmp_path):
    course = graded
    before = _total(course.export(tmp_path / "before.csv").read_text(), "perfect")

    # The formgrader's own page (in JupyterLab: Nbgrader → Formgrader shows it in a tab).
    page.goto(lab.url("formgrader"))
    expect(page).to_have_url(re.compile(r"/formgrader/manage_assignments"))
    for name in (ASSIGNMENT, FAMILIES):
        expect(page.locator("tr", has_text=name).first).to_be_visible()
    page.goto(lab.url(f"formgrader/manage_submissions/{ASSIGNMENT}"))
    for student in ("perfect", bug_sample_name(1)):
        expect(page.locator("tr", has_text=student).first).to_be_visible()

    # The notebook's submissions (names hidden until asked for), then the perfect one.
    page.goto(lab.url(f"formgrader/gradebook/{ASSIGNMENT}/{ASSIGNMENT}"))
    expect(page.locator("a", has_text="Submission #")).to_have_count(2)
    page.locator("#toggle_names").click()
    page.locator("tr", has_text="perfect").locator("a[href*='/submissions/']:visible").click()
    score = page.locator("input.score#why_pixels_fail")
    expect(score).to_be_visible()
    # The page fills its fields from the gradebook once it has loaded them: wait for it,
    # or what is typed before is overwritten.
    page.wait_for_function("() => window.formgrader && formgrader.grades"
                           " && formgrader.grades.loaded && formgrader.comments.loaded")
    expect(score).to_have_class(re.compile(r"\bneeds_manual_grade\b"))
    comment = page.locator("textarea#why_pixels_fail-comment")
    with page.expect_response(lambda r: "/formgrader/api/grade/" in r.url
                              and r.request.method == "PUT") as saved:
        score.fill("")
        score.type("2")
        score.press("Tab")
    assert saved.value.ok
    with page.expect_response(lambda r: "/formgrader/api/comment/" in r.url
                              and r.request.method == "PUT") as saved:
        comment.click()
        page.keyboard.type("Clear and complete: shifts and stroke widths.")
        comment.press("Tab")
    assert saved.value.ok
    score.scroll_into_view_if_needed()
    shot(page, "formgrader")

    after = _total(course.export(tmp_path / "after.csv").read_text(), "perfect")
    assert after == before + 2, (before, after)

    course.feedback(ASSIGNMENT)
    html = course.folder("feedback", ASSIGNMENT, "perfect") / f"{ASSIGNMENT}.html"
    page.goto(html.as_uri())
    expect(page.locator("body")).to_contain_text("Clear and complete: shifts and stroke widths.")
    expect(page.locator("body")).to_contain_text("nearest_neighbour_predict")


def test_no_server_kernel_or_browser_process_is_left(survivors_check):
    """The servers of the tests above are gone, and so is everything they started (the
    browser is checked when the module ends, by ``survivors_check``)."""
    time.sleep(0.5)
    names = [" ".join(p.cmdline())[:120] for p in _marked_processes("server")]
    assert not names, f"still running: {names}"
    alive = kill_recorded(dict(survivors_check))
    assert not alive, f"still running: {alive}"
