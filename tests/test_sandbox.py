"""The sandbox and the grader around it, on a tiny two-exercise assignment (no torch, so
each notebook grades in seconds): forged results, one submission's failure, pass/fail
test cells, limits that keep passed cells, processes that outlive grading, collection,
and size caps.

Graded twice where bubblewrap works: inside it, and in the unconfined fallback; what
only bubblewrap (or a memory cgroup) guarantees is skipped in the fallback, saying so.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
import zipfile
from pathlib import Path

import nbformat
import psutil
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output

from autograder import confinement, submissions, supervision
from autograder.authoring import expand
from autograder.course import Course, GradingError
from autograder.grades import cell_scores, format_table, marks
from autograder.gradescope import build_zip, capped
from autograder.isolated import (
    IsolatedGrader,
    Results,
    clean_submission,
    pass_or_fail,
)
from autograder.limits import Limits
from autograder.nbgrader_api import course_config_text, grade_id
from autograder.samples import filled
from autograder.sandbox import MAX_CELL, MAX_DATA, MAX_TEXT, cap_outputs
from autograder.submissions import collect

A = "99_square"
SQ, CUBE = "sq_tests", "cube_tests"
SOURCE = '''\
# %% [markdown] id="intro"
# Two small exercises.

# %% [solution] id="sq"
def square(x):
    ### BEGIN SOLUTION
    return x * x
    ### END SOLUTION

# %% [tests] id="sq_tests" points=2
from cs182meta.student import student

assert student.square(3) == 9
### BEGIN HIDDEN TESTS
assert student.square(-4) == 16
### END HIDDEN TESTS

# %% [solution] id="cube"
def cube(x):
    ### BEGIN SOLUTION
    return x ** 3
    ### END SOLUTION

# %% [tests] id="cube_tests" points=3
from cs182meta.student import student

assert student.cube(2) == 8
'''
TOKEN = f"cs182meta-test-{uuid.uuid4().hex[:10]}"  # in the command line of every helper
LIMITS = Limits(wall_s=240, cell_s=30, memory_mb=700)
WALL = Limits(wall_s=45, cell_s=120, memory_mb=700)


def _bwrap_problem() -> str | None:
    found = shutil.which("bwrap")
    if not found:
        return "bubblewrap is not installed (apt-get install bubblewrap)"
    return confinement.self_test(confinement.Bubblewrap(found))


REPO = Path(__file__).resolve().parents[1]
# Grading refuses to run without bubblewrap (unless asked to, --unconfined), and make
# installs it where it can: a sandbox test fails here rather than skip.
BWRAP_PROBLEM = _bwrap_problem()


def tiny_course(root: Path) -> Course:
    course = Course(root)
    course.root.mkdir(parents=True)
    course.config_file.write_text(course_config_text())
    source = course.notebook("source", A)
    source.parent.mkdir(parents=True)
    nbformat.write(expand(SOURCE, "tiny.py", A), source)
    course.nbgrader("generate_assignment", A, "--force", "--create")
    return course


def _index(nb, wanted):
    return next(i for i, c in enumerate(nb.cells) if grade_id(c) == wanted)


def _after(nb, cell_id, source):
    nb.cells.insert(_index(nb, cell_id) + 1, new_code_cell(source))
    return nb


def _before(nb, cell_id, source):
    nb.cells.insert(_index(nb, cell_id), new_code_cell(source))
    return nb


def _solve(nb, cell_id, source):
    nb.cells[_index(nb, cell_id)].source = source
    return nb


def _detached(code: str) -> str:
    """Kernel code that starts ``code`` in a double-forked, session-leading process
    (re-parented away from the kernel), tagged with TOKEN."""
    inner = f"{code}\n# {TOKEN}"
    launcher = ("import subprocess, sys\n"
                f"subprocess.Popen([sys.executable, '-c', {inner!r}], start_new_session=True, "
                "stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)")
    return ("import subprocess, sys\n"
            f"subprocess.run([sys.executable, '-c', {launcher!r}], check=True)\n")


PROBE = """\
import os
seen = []
for pid in os.listdir("/proc"):
    if pid.isdigit():
        for name in ("cmdline", "environ"):
            try:
                seen.append(open(f"/proc/{pid}/{name}", "rb").read().decode(errors="replace"))
            except OSError:
                pass
for path in ("/proc/self/mountinfo", "/proc/1/cmdline"):
    seen.append(open(path).read())
seen.append(repr(sorted(os.listdir("/"))))
print("PROBE", len(seen), "\\n".join(seen))
"""


def _forge_records(nb) -> str:
    """Kernel code writing, into every descriptor of its parent it can open, results that
    would give every test cell full marks."""
    lines = [json.dumps({"cell": i, "id": c.get("id"), "execution_count": 1, "outputs": []})
             for i, c in enumerate(nb.cells) if c.cell_type == "code"]
    lines.append(json.dumps({"done": True, "message": None}))
    return ("import glob, os\nhits = []\n"
            "for fd in glob.glob(f'/proc/{os.getppid()}/fd/*'):\n"
            "    try:\n"
            f"        with open(fd, 'w') as f: f.write({chr(10).join(lines) + chr(10)!r})\n"
            "        hits.append(fd)\n"
            "    except OSError:\n"
            "        pass\n"
            "print('FORGE hits', hits)\n")


def hostile(release, source) -> dict[str, object]:
    """``{student: notebook}``; each name says what it does."""
    perfect = filled(release, source)
    blank = copy.deepcopy(release)
    executed = copy.deepcopy(perfect)
    for n, cell in enumerate(executed.cells):
        if cell.cell_type == "code":
            cell.execution_count = n
    forged = nbformat.writes(executed)
    subs = {"perfect": perfect}
    subs["forge-file"] = _before(copy.deepcopy(blank), "sq", (
        "import os, signal\nfrom pathlib import Path\n"
        f"for p in ('../executed.ipynb', 'executed.ipynb'):\n    Path(p).write_text({forged!r})\n"
        "os.kill(os.getppid(), signal.SIGKILL)"))
    subs["forge-fifo"] = _before(copy.deepcopy(blank), "sq", (
        "import os, signal\nfor p in ('../executed.ipynb', 'executed.ipynb'):\n"
        "    try:\n        os.remove(p)\n    except OSError:\n        pass\n"
        "    os.mkfifo(p)\nos.kill(os.getppid(), signal.SIGKILL)"))
    subs["forge-proc"] = _before(copy.deepcopy(blank), "sq", _forge_records(blank))
    subs["displayhook"] = _solve(copy.deepcopy(perfect), "sq", (
        "import sys\ndef square(x):\n    sys.displayhook('full marks please')\n"
        "    raise NotImplementedError()"))
    subs["partial-over"] = _solve(copy.deepcopy(perfect), "sq", (
        "import sys\ndef square(x):\n    sys.displayhook(1000)\n    return x * x"))
    duplicated = copy.deepcopy(perfect)
    duplicated.cells.insert(_index(duplicated, "sq") + 1,
                            copy.deepcopy(duplicated.cells[_index(duplicated, "sq")]))
    subs["dup-solution"] = duplicated
    pasted = copy.deepcopy(perfect)
    test = copy.deepcopy(pasted.cells[_index(pasted, SQ)])
    test.metadata.nbgrader["grade_id"] = "test_from_another_notebook"
    test.id = "pasted"
    pasted.cells.append(test)
    subs["pasted-test"] = pasted
    deleted = copy.deepcopy(perfect)  # nbgrader adds the test back, without a cell id
    del deleted.cells[_index(deleted, SQ)]
    subs["deleted-test"] = deleted
    subs["dies"] = _after(copy.deepcopy(perfect), SQ, "import os\nos._exit(1)")
    big = _after(copy.deepcopy(perfect), SQ, (
        "from IPython.display import display\nprint('y' * 5_000_000)\n"
        "display({'image/png': 'A' * 3_000_000}, raw=True)"))
    _solve(big, "cube", "def cube(x):\n    raise ValueError('x' * 3_000_000)")
    attached = new_markdown_cell("![big](attachment:big.png)")
    attached["attachments"] = {"big.png": {"image/png": "A" * 3_000_000}}
    big.cells.insert(1, attached)
    subs["big-outputs"] = big
    subs["daemon"] = _after(copy.deepcopy(perfect), SQ, (  # one sleeps, one spins
        _detached("import time\nwhile True:\n    time.sleep(1)") + _detached(
            "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\nwhile True:\n    pass") + PROBE))
    subs["memory-helper"] = _after(copy.deepcopy(perfect), SQ, _detached(
        "import time\nb = bytearray(1200 * 2**20)\nb[::4096] = b'x' * len(b[::4096])\n"
        "time.sleep(120)") + "import time\ntime.sleep(40)")
    subs["loop"] = _after(copy.deepcopy(perfect), SQ,  # a kernel that ignores interrupts
                          "import signal\nsignal.signal(signal.SIGINT, signal.SIG_IGN)\n"
                          "while True:\n    pass")
    return subs


EXPECTED = {  # student: (square points, cube points, in the message at the top)
    "perfect": (2, 3, None),
    "forge-file": (0, 0, "stopped before it finished"),
    "forge-fifo": (0, 0, "stopped before it finished"),
    "forge-proc": (0, 0, None),
    "displayhook": (0, 3, None),
    "partial-over": (2, 3, None),
    "dup-solution": (2, 3, "repeated"),
    "pasted-test": (2, 3, "not this assignment's"),
    "deleted-test": (2, 3, None),
    "dies": (2, 0, "kernel died"),
    "big-outputs": (2, 0, "attachment 'big.png' removed"),
    "daemon": (2, 3, None),
    "memory-helper": (2, 0, "MB"),
    "loop": (2, 0, "ran over 45 s"),
}
# Guaranteed only where the kernel cannot reach its parent's descriptors, and where every
# process of the submission is accounted for and killed: bubblewrap (or a cgroup).
CONFINED_ONLY = {"forge-proc", "daemon", "memory-helper"}
MODES = {"bwrap": dict(sandbox="bwrap"), "fallback": dict(sandbox="none", cgroups=False)}


def _tree_digest(root: Path, skip: set[str]) -> dict[str, str]:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()
            and not any(str(p.relative_to(root)).startswith(s) for s in skip)}


def _leftovers() -> list[str]:
    found = []
    for p in psutil.process_iter(["cmdline"]):
        cmdline = " ".join(p.info["cmdline"] or [])
        if TOKEN in cmdline and "pytest" not in cmdline:
            found.append(f"{p.pid}: {cmdline[:120]}")
    return found


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    return tiny_course(tmp_path_factory.mktemp("tiny") / "course")


@pytest.fixture(scope="module", params=sorted(MODES))
def graded(request, course, tmp_path_factory):
    mode = request.param
    root = tmp_path_factory.mktemp(mode)
    shutil.copytree(course.root, root / "course")
    local = Course(root / "course")
    release = nbformat.read(local.notebook("release", A), 4)
    source = nbformat.read(local.notebook("source", A), 4)
    subs = hostile(release, source)
    if mode == "fallback":  # these would escape an unconfined grader (that is the point)
        subs = {s: nb for s, nb in subs.items() if s not in CONFINED_ONLY}
    inbox = root / "inbox"
    for student, nb in subs.items():
        (inbox / student).mkdir(parents=True)
        nbformat.write(nb, inbox / student / f"{A}.ipynb")
    collect(local, inbox, [A])
    grader = IsolatedGrader(local, LIMITS, **MODES[mode])
    first = grader.grade(A, "perfect")  # a bystander: nothing of it may change
    before = _tree_digest(local.root, skip={"gradebook.db"})
    rows_before = cell_scores(local, A)
    others = sorted(s for s in subs if s not in ("perfect", "loop"))
    outcomes = {o.student: o for o in grader.grade_all(A, others, jobs=2)}
    if "loop" in subs:
        outcomes["loop"] = IsolatedGrader(local, WALL, **MODES[mode]).grade(A, "loop")
    outcomes["perfect"] = first
    return dict(mode=mode, course=local, outcomes=outcomes, scores=cell_scores(local, A),
                before=before, rows_before=rows_before, students=set(subs))


def _autograded(course, student):
    return nbformat.read(course.notebook("autograded", A, student), 4)


@pytest.mark.parametrize("student", sorted(EXPECTED))
def test_each_submission_gets_the_points_it_deserves(graded, student):
    if student not in graded["students"]:
        pytest.skip(f"{graded['mode']}: not guaranteed without bubblewrap or a cgroup")
    square, cube, message = EXPECTED[student]
    row = graded["scores"][student]
    assert (row[SQ][0], row[CUBE][0]) == (square, cube), (row, graded["outcomes"][student])
    nb = _autograded(graded["course"], student)
    top = nb.cells[0].source if nb.cells[0].cell_type == "markdown" else ""
    if message:
        assert message in top, top
    if student == "forge-proc" and graded["mode"] == "bwrap":
        assert "FORGE hits []" in json.dumps(nb)  # the parent's descriptors are closed


def test_no_process_of_a_submission_outlives_its_grading(graded):
    assert _leftovers() == []


def test_nothing_in_the_course_changes_but_each_submissions_rows(graded):
    course = graded["course"]
    after = _tree_digest(course.root, skip={"gradebook.db"})
    changed = {p for p in set(after) | set(graded["before"])
               if after.get(p) != graded["before"].get(p)}
    allowed = {f"autograded/{s}/" for s in graded["students"] if s != "perfect"}
    assert all(any(p.startswith(a) for a in allowed) for p in changed), sorted(changed)
    assert graded["scores"]["perfect"] == graded["rows_before"]["perfect"]
    assert set(graded["scores"]) == graded["students"]  # every one has its row


def test_the_kernel_sees_no_path_of_the_course(graded):
    if graded["mode"] != "bwrap":
        pytest.skip("unconfined: the kernel can read the grader's command line")
    text = json.dumps(_autograded(graded["course"], "daemon"))
    assert "PROBE" in text and TOKEN in text  # it saw its own daemons, and
    assert str(graded["course"].root) not in text  # nothing naming the course
    assert str(graded["course"].root.parent) not in text


def test_outputs_and_attachments_are_capped_with_a_note(graded):
    course = graded["course"]
    path = course.notebook("autograded", A, "big-outputs")
    assert path.stat().st_size < 1_000_000
    text = json.dumps(_autograded(course, "big-outputs"))
    assert "output cut by the grader: 5,000,001 characters" in text
    assert "image/png output removed by the grader" in text
    assert "error message cut by the grader" in text
    assert "attachment 'big.png' removed by the grader" in text


def test_limits_and_dead_kernels_are_explained(graded):
    outcomes = graded["outcomes"]
    assert "kernel died" in outcomes["dies"].message
    assert "ran over" in outcomes["loop"].message
    if "memory-helper" in outcomes:
        assert "MB" in outcomes["memory-helper"].message
        assert outcomes["memory-helper"].peak_mb > 0


def test_memory_of_detached_processes_counts_without_a_cgroup(course, tmp_path):
    """The PID namespace's processes, counted with psutil, where no cgroup can be made."""
    shutil.copytree(course.root, tmp_path / "course")
    local = Course(tmp_path / "course")
    release = nbformat.read(local.notebook("release", A), 4)
    source = nbformat.read(local.notebook("source", A), 4)
    subs = hostile(release, source)
    for student in ("memory-helper", "daemon"):
        (tmp_path / "inbox" / student).mkdir(parents=True)
        nbformat.write(subs[student], tmp_path / "inbox" / student / f"{A}.ipynb")
    collect(local, tmp_path / "inbox", [A])
    grader = IsolatedGrader(local, LIMITS, sandbox="bwrap", cgroups=False)
    outcomes = {o.student: o for o in grader.grade_all(A, ["memory-helper", "daemon"], jobs=2)}
    assert "over the 700 MB limit" in outcomes["memory-helper"].message
    assert outcomes["daemon"].score == 5
    assert _leftovers() == []


def _grade_hostile_code(course: Course, tmp_path: Path, code: dict[str, str], limits: Limits,
                        **mode):
    """Grade ``{student: code run before exercise 1}`` plus a perfect bystander, two at
    a time, on a copy of ``course``; return the outcomes by student."""
    shutil.copytree(course.root, tmp_path / "course")
    local = Course(tmp_path / "course")
    release = nbformat.read(local.notebook("release", A), 4)
    subs = {"perfect": filled(release, nbformat.read(local.notebook("source", A), 4))}
    subs.update({student: _before(copy.deepcopy(subs["perfect"]), "sq", text)
                 for student, text in code.items()})
    for student, nb in subs.items():
        (tmp_path / "inbox" / student).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "inbox" / student / f"{A}.ipynb")
    collect(local, tmp_path / "inbox", [A])
    grader = IsolatedGrader(local, limits, **mode)
    return {o.student: o for o in grader.grade_all(A, sorted(subs), jobs=2)}


FORK_BOMB = ("import os, time\n"
             f"for _ in range(20000):  # {TOKEN}\n"
             "    try:\n        if os.fork() == 0:\n            time.sleep(60)\n"
             "            os._exit(0)\n    except OSError:\n        time.sleep(0.001)\n")


def test_a_fork_bomb_is_that_submissions_failure(course, tmp_path):
    probe = confinement.PidsCgroup.create(10)
    assert probe is not None, "no pids cgroup can be made here: nothing limits a fork bomb"
    probe.remove()
    outcomes = _grade_hostile_code(course, tmp_path, {"fork-bomb": FORK_BOMB},
                                   Limits(wall_s=120, cell_s=60, memory_mb=2000, processes=200),
                                   sandbox="bwrap")
    assert "over 200 processes and threads" in outcomes["fork-bomb"].message
    assert outcomes["fork-bomb"].score == 0 and outcomes["perfect"].score == 5
    assert _leftovers_after_a_while() == []
    assert not [group for controller in ("memory", "pids")  # every cgroup removed
                for _, parent in confinement._own_cgroups(controller)
                for group in parent.glob("cs182meta-*")]


def test_a_fork_bomb_is_stopped_without_cgroups_too(course, tmp_path):
    """Without a pids cgroup the sandbox limits its own uid's processes (RLIMIT_NPROC,
    in its user namespace) and the grader counts the PID namespace's threads."""
    outcomes = _grade_hostile_code(course, tmp_path, {"fork-bomb": FORK_BOMB},
                                   Limits(wall_s=120, cell_s=60, memory_mb=8000, processes=50),
                                   sandbox="bwrap", cgroups=False)
    assert "over 50 processes and threads" in outcomes["fork-bomb"].message, outcomes
    assert outcomes["fork-bomb"].score == 0 and outcomes["perfect"].score == 5
    assert _leftovers_after_a_while() == []


def test_what_the_sandbox_writes_to_its_tmpfs_counts_as_memory(course, tmp_path):
    """Without a memory cgroup the RSS misses files in the tmpfs (they live in memory)."""
    fill = ("import time\nwith open('/tmp/filler', 'wb') as f:\n"
            "    for _ in range(600):\n        f.write(b'x' * 2**20)\ntime.sleep(60)\n")
    outcomes = _grade_hostile_code(course, tmp_path, {"tmpfs-filler": fill},
                                   Limits(wall_s=120, cell_s=90, memory_mb=500, work_mb=1024),
                                   sandbox="bwrap", cgroups=False)
    assert "over the 500 MB limit" in outcomes["tmpfs-filler"].message
    assert outcomes["perfect"].score == 5 and outcomes["perfect"].peak_mb < 500


# ---------------------------------------------------------------- without kernels
def _nb(*cells):
    return nbformat.v4.new_notebook(cells=list(cells))


def _test_cell(gid, outputs, points=2):
    cell = new_code_cell("assert True", outputs=outputs)
    cell.metadata["nbgrader"] = {"grade": True, "solution": False, "locked": True,
                                 "grade_id": gid, "points": points, "schema_version": 3}
    return cell


def test_test_cells_score_pass_or_fail():
    result = new_output("execute_result", data={"text/plain": "'anything'"}, execution_count=1)
    error = new_output("error", ename="ValueError", evalue="", traceback=[])
    nb = _nb(_test_cell("a", [copy.deepcopy(result), error]), _test_cell("b", [copy.deepcopy(result)]),
             _test_cell("c", [new_output("execute_result", data={"text/plain": "7"},
                                         execution_count=1)]))
    pass_or_fail(nb, partial={"c": 2.0})
    from nbgrader.utils import determine_grade
    assert [determine_grade(c)[0] for c in nb.cells] == [0, 2, 2]


def test_clean_submission_keeps_one_copy_of_each_known_id():
    known = _test_cell("t", [])
    nb = _nb(copy.deepcopy(known), copy.deepcopy(known), _test_cell("alien", []),
             _test_cell("t", []))
    nb.cells[3].metadata["nbgrader"] = "not a dict"
    notes = clean_submission(nb, known={"t"})
    assert ["nbgrader" in c.metadata for c in nb.cells] == [False, True, False, False]
    assert len(notes) == 3


def test_results_accept_only_what_the_sandbox_sends():
    nb = _nb(new_code_cell("1"), new_markdown_cell("x"), new_code_cell("2"))
    line = json.dumps({"cell": 2, "id": nb.cells[2].id, "execution_count": 3,
                       "outputs": [new_output("stream", name="stdout", text="hi")]})
    good = Results(copy.deepcopy(nb))
    good.feed((line + "\n" + json.dumps({"done": True, "message": None}) + "\n").encode())
    assert good.done and not good.problem and good.nb.cells[2].execution_count == 3
    for bad in (line + "\n" + line,  # twice
                line.replace('"cell": 2', '"cell": 1'),  # a markdown cell
                line.replace('"stream"', '"bogus"'),  # not an nbformat output
                json.dumps({"cell": 0, "id": "other", "execution_count": 1, "outputs": []}),
                '{"done": true, "message": null, "score": 5}', "not json"):
        results = Results(copy.deepcopy(nb))
        results.feed((bad + "\n").encode())
        assert results.malformed, bad


def test_output_caps():
    outputs = [new_output("stream", name="stdout", text="x" * (MAX_TEXT + 1000)),
               new_output("display_data", data={"image/png": "A" * (MAX_DATA + 1)}),
               new_output("error", ename="E", evalue="v" * (MAX_TEXT * 3),
                          traceback=["t" * 1000] * 1000)]
    each = cap_outputs(copy.deepcopy(outputs))
    assert len(json.dumps(each)) < 5 * MAX_TEXT and "cut by the grader" in each[0].text
    assert "removed by the grader" in each[1].data["text/plain"]
    many = cap_outputs([new_output("display_data", data={"text/plain": "x"})] * 600)
    assert len(many) == 501 and "100 more outputs removed" in many[-1].text
    large = cap_outputs([copy.deepcopy(o) for o in outputs for _ in range(100)])
    assert len(json.dumps(large)) < MAX_CELL + 3 * MAX_TEXT
    assert "more outputs removed" in large[-1].text


def test_results_json_is_capped():
    results = {"score": 0, "output": "e" * 50_000_000,
               "tests": [{"name": f"t{i}", "output": "e" * 100_000} for i in range(300)]}
    out = capped(results)
    assert len(json.dumps(out)) <= 1_000_000 and "cut by the grader" in out["output"]
    assert len(out["tests"]) == 300


# ---------------------------------------------------------------- collection
def _nb_bytes(text="x = 1"):
    return nbformat.writes(_nb(new_code_cell(text))).encode()


def test_lms_entries_are_students_by_id_not_name(tmp_path):
    archive = tmp_path / "canvas.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("smithjo_1111_51_99_square.ipynb", _nb_bytes("a = 1"))
        z.writestr("smithjo_LATE_2222_52_99_square.ipynb", _nb_bytes("a = 2"))
        z.writestr("x" * 300 + "_3333_53_99_square.ipynb", _nb_bytes("a = 3"))
    got, skipped = collect(Course(tmp_path / "course"), archive, [A])
    assert {(c.student, c.name) for c in got} == {
        ("1111", "smithjo"), ("2222", "smithjo"), ("3333", "x" * 300)}
    assert skipped == []


def test_a_wrapper_folder_is_not_a_student(tmp_path):
    archive = tmp_path / "export.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("submissions/alice/99_square.ipynb", _nb_bytes("a = 1"))
        z.writestr("submissions/bob/99_square/99_square.ipynb", _nb_bytes("b = 1"))
        z.writestr("submissions/carol_4444_1_99_square.ipynb", _nb_bytes("c = 1"))
    got, skipped = collect(Course(tmp_path / "course"), archive, [A])
    assert sorted(c.student for c in got) == ["4444", "alice", "bob"] and skipped == []


def test_junk_is_ignored_and_bad_names_are_reported(tmp_path):
    inbox = tmp_path / "inbox"
    for path in ("alice/99_square.ipynb", "__MACOSX/alice/._99_square.ipynb",
                 "alice/.ipynb_checkpoints/99_square-checkpoint.ipynb", ".hidden/99_square.ipynb",
                 "bob/._99_square.ipynb", "bob/99_square.ipynb", "y" * 200 + "/99_square.ipynb"):
        (inbox / path).parent.mkdir(parents=True, exist_ok=True)
        (inbox / path).write_bytes(_nb_bytes(path[:10]))
    got, skipped = collect(Course(tmp_path / "course"), inbox, [A])
    assert sorted(c.student for c in got) == ["alice", "bob"]
    assert len(skipped) == 1 and "not a usable student id" in skipped[0]


def test_oversized_zip_members_are_not_read(tmp_path, monkeypatch):
    monkeypatch.setattr(submissions, "MAX_NOTEBOOK_BYTES", 100_000)
    archive = tmp_path / "bomb.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("alice/99_square.ipynb", b" " * 3_000_000)  # 3 MB from a few KB
        z.writestr("bob/99_square.ipynb", _nb_bytes())
    assert archive.stat().st_size < 20_000
    got, skipped = collect(Course(tmp_path / "course"), archive, [A])
    assert [c.student for c in got] == ["bob"]
    assert "limit for a notebook (2.86 MB)" in skipped[0] and "alice" in skipped[0]
    with pytest.raises(submissions.TooLarge):  # a size that lies is caught while reading
        submissions._bounded(io.BytesIO(b" " * 300_000))


# ---------------------------------------------------------------- Gradescope
def test_gradescope_ignores_macos_and_checkpoint_copies(course, tmp_path):
    release = nbformat.read(course.notebook("release", A), 4)
    source = nbformat.read(course.notebook("source", A), 4)
    perfect = nbformat.writes(filled(release, source)).encode()
    package = build_zip(course, A, tmp_path / "zips")
    root = tmp_path / "autograder"
    with zipfile.ZipFile(package) as archive:
        archive.extractall(root / "source")
    for path, data in {f"hw/{A}.ipynb": perfect, f"__MACOSX/hw/._{A}.ipynb": b"\x00\x05",
                       f"hw/.ipynb_checkpoints/{A}-checkpoint.ipynb": b"{}"}.items():
        (root / "submission" / path).parent.mkdir(parents=True, exist_ok=True)
        (root / "submission" / path).write_bytes(data)
    subprocess.run(["bash", str(root / "source" / "run_autograder")], check=True, timeout=600,
                   env={**os.environ, "AUTOGRADER_ROOT": str(root), "PYTHON": sys.executable})
    results = json.loads((root / "results" / "results.json").read_text())
    assert results["score"] == 5.0, results
    assert "note" not in results["output"]


# ---------------------------------------------------------------- the fallback
def test_without_bubblewrap_grading_refuses_and_says_how_to_fix_it(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setattr(confinement.shutil, "which", lambda name: None)
    monkeypatch.setattr(confinement, "_WARNED", set())
    for refused in (lambda: confinement.confinement(tmp_path),
                    lambda: IsolatedGrader(Course(tmp_path))):
        with pytest.raises(confinement.SandboxUnavailable,
                           match="not installed.*apt-get install bubblewrap.*--unconfined"):
            refused()
    assert IsolatedGrader(Course(tmp_path), sandbox="none").confined is False  # asked for
    assert capsys.readouterr().err == ""
    # Gradescope's container alone falls back, with one warning line.
    assert confinement.confinement(tmp_path, "auto") is None
    assert confinement.confinement(tmp_path, "auto") is None
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "WARNING" in err and "UNCONFINED" in err


def _inbox(course: Course, root: Path) -> Path:
    """A folder of student folders: alice's perfect answer of the tiny notebook."""
    release = nbformat.read(course.notebook("release", A), 4)
    source = nbformat.read(course.notebook("source", A), 4)
    (root / "inbox" / "alice").mkdir(parents=True)
    nbformat.write(filled(release, source), root / "inbox" / "alice" / f"{A}.ipynb")
    return root / "inbox"


def test_autograde_without_a_sandbox_refuses_and_collects_nothing(course, tmp_path,
                                                                  monkeypatch):
    from autograder import grading

    local = Course(tmp_path / "course")
    shutil.copytree(course.root, local.root)
    monkeypatch.setattr(confinement.shutil, "which", lambda name: None)
    with pytest.raises(GradingError, match="(?s)cannot sandbox student code.*apt-get install "
                       "bubblewrap.*Nothing was graded.*--unconfined"):  # the CLI exits 1
        grading.autograde(local, _inbox(local, tmp_path), [A], 1, LIMITS)
    assert local.students("submitted", A) == [] and local.students("autograded", A) == []


def test_unconfined_grading_says_so_in_every_output(course, tmp_path, monkeypatch, capsys):
    from autograder import class_results, grading, report

    local = Course(tmp_path / "course")
    shutil.copytree(course.root, local.root)
    monkeypatch.setattr(confinement.shutil, "which", lambda name: None)  # no bubblewrap
    collect(local, _inbox(local, tmp_path), [A])
    grading.grade_pending(local, A, 1, LIMITS, unconfined=True)  # autograde's own steps
    out = capsys.readouterr().out
    assert grading.UNCONFINED_WARNING in out and "alice/99_square: 5/5" in out
    table = format_table(cell_scores(local, A), marks(local, A))
    assert table.splitlines()[2].endswith("5/5  UNCONFINED")
    assert "graded without a sandbox" in table
    assert local.grading_record(A, "alice")["sandbox"] == "unconfined"
    results = class_results.load(local, A)
    assert "UNCONFINED: 1 submission(s) were graded without a sandbox" in \
        report.render_html(results)
    rows = report.csv_rows(results)
    assert rows[1][rows[0].index("sandbox")] == "unconfined"


def test_a_submission_made_from_the_source_notebook_is_graded_and_flagged(course, tmp_path,
                                                                          capsys):
    from autograder import class_results, grading, report

    local = Course(tmp_path / "course")
    shutil.copytree(course.root, local.root)
    inbox = _inbox(local, tmp_path)
    (inbox / "mallory").mkdir()
    shutil.copyfile(local.notebook("source", A), inbox / "mallory" / f"{A}.ipynb")
    collect(local, inbox, [A])
    grading.grade_pending(local, A, 2, LIMITS)
    out = capsys.readouterr().out
    assert "mallory/99_square: 5/5" in out and "FLAGGED: it holds the marker" in out
    assert local.grading_record(A, "mallory")["flags"] and not \
        local.grading_record(A, "alice")["flags"]
    table = format_table(cell_scores(local, A), marks(local, A)).splitlines()
    assert table[-2].endswith("5/5  FLAGGED") and not table[-3].endswith("FLAGGED")
    assert table[-1].startswith("FLAGGED: 1 submission(s) made from the instructor's source")
    html = report.render_html(class_results.load(local, A))
    assert "FLAGGED: 1 submission(s) were made from the instructor's source" in html


def test_a_bwrap_that_fails_its_self_test_is_not_used(tmp_path, monkeypatch):
    monkeypatch.setattr(confinement.shutil, "which", lambda name: "/bin/false")
    monkeypatch.setattr(confinement, "_WARNED", set())
    assert confinement.self_test(confinement.Bubblewrap("/bin/false"))
    with pytest.raises(confinement.SandboxUnavailable, match="user namespaces"):
        confinement.confinement(tmp_path)
    assert confinement.confinement(tmp_path, "auto") is None


def test_the_sandbox_starts_here():
    """Where make can install bubblewrap, sandbox tests run: they fail, not skip."""
    assert BWRAP_PROBLEM is None, f"{BWRAP_PROBLEM}: {confinement.unavailable(BWRAP_PROBLEM)}"


def test_a_venv_under_the_temporary_directory_runs_in_the_sandbox(tmp_path):
    venv = Path(tempfile.mkdtemp(prefix="cs182meta-venv-", dir="/tmp"))
    try:
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", "--without-pip",
                        str(venv)], check=True)
        probe = ("import shutil; from autograder import confinement as c; "
                 "print(c.self_test(c.Bubblewrap(shutil.which('bwrap'))))")
        done = subprocess.run([str(venv / "bin" / "python"), "-c", probe], cwd=REPO,
                              capture_output=True, text=True, timeout=180,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
        assert done.stdout.strip() == "None", done.stdout + done.stderr
    finally:
        shutil.rmtree(venv, ignore_errors=True)


def test_the_sandbox_cannot_write_to_dev_but_to_its_capped_shm(tmp_path):
    bwrap = confinement.Bubblewrap(shutil.which("bwrap"))
    probe = ("import os\n"
             "for path in ('/dev/filler', '/dev/shm/x'):\n"
             "    try:\n        open(path, 'w').write('x'); print(path, 'written')\n"
             "    except OSError as err:\n        print(path, err.strerror)\n")
    env = confinement.sandbox_environment(home=confinement.HOME, cache=confinement.CACHE,
                                          kit=confinement.KIT, threads=1)
    done = bwrap.spawn([sys.executable, "-c", probe], env, None, 16, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, text=True)
    out, err = done.communicate(timeout=120)
    assert out.splitlines() == ["/dev/filler Read-only file system", "/dev/shm/x written"], err


def test_a_course_inside_a_shared_folder_is_not_sandboxed_blindly(tmp_path):
    bwrap = confinement.Bubblewrap(shutil.which("bwrap"))
    assert bwrap.exposes(Path("/usr/share/course")) and not bwrap.exposes(tmp_path)
    command = " ".join(bwrap.command(["python"], {}, tmp_path / "cache", 64))
    assert "--unshare-all" in command and "--die-with-parent" in command
    assert f"--uid {confinement.SANDBOX_UID}" in command


# ---------------------------------------------------------------- the running sandbox
SPAWNS = ("import subprocess, sys, time\n"  # a child in a session of its own, then ready
          f"subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)  # {TOKEN}'],"
          " start_new_session=True)\nprint('ready', flush=True)\n")
SHORT = Limits(wall_s=20, memory_mb=700)  # a broken handle fails in seconds, not minutes


def _unconfined(code: str, limits: Limits) -> supervision.RunningSandbox:
    """A sandbox handle over ``code`` (tagged with TOKEN) instead of autograder.sandbox."""
    return supervision.start([sys.executable, "-c", f"{code}\n# {TOKEN}"], limits,
                             bwrap=None, cache=None, threads=1, cgroups=False)


def _leftovers_after_a_while() -> list[str]:
    for _ in range(50):  # a killed process takes a moment to go
        if not _leftovers():
            break
        time.sleep(0.1)
    return _leftovers()


def test_a_sandbox_gets_the_notebook_and_hands_back_its_output():
    out = bytearray()
    with _unconfined("import sys\nprint(len(sys.stdin.buffer.read()))\nsys.exit(3)",
                     SHORT) as sandbox:
        peak, message = sandbox.watch(b"x" * 300_000, out.extend)  # more than a pipe holds
    assert (bytes(out), message, sandbox.returncode) == (b"300000\n", "", 3)
    assert 0 < peak < SHORT.memory_mb


def test_a_sandbox_over_its_wall_time_is_killed_with_every_process():
    out = bytearray()
    with _unconfined(SPAWNS + "time.sleep(60)", Limits(wall_s=1)) as sandbox:
        folder = Path(sandbox.folder.name)
        assert (folder / "work").is_dir()
        peak, message = sandbox.watch(b"{}", out.extend)
        assert message == ("stopped: the whole notebook ran over 1 s; "
                           "cells that had run keep their results")
        assert bytes(out) == b"ready\n" and sandbox.returncode == -signal.SIGKILL
        assert _leftovers_after_a_while() == []
    assert not folder.exists()


def test_a_sandbox_over_its_memory_or_stopped_by_its_reader_is_killed():
    hog = "import time\nb = b'x' * (300 * 2**20)\nprint('ready', flush=True)\ntime.sleep(60)"
    with _unconfined(hog, Limits(wall_s=20, memory_mb=100)) as sandbox:
        peak, message = sandbox.watch(b"", lambda data: None)
    assert message.startswith("stopped: the notebook used ") and peak > 100
    assert message.endswith(" MB, over the 100 MB limit") and sandbox.returncode == -signal.SIGKILL
    out = bytearray()
    with _unconfined("while True:\n    print('x' * 1000)", SHORT) as sandbox:
        _, message = sandbox.watch(b"", out.extend, lambda: "enough" if out else None)
    assert message == "enough" and sandbox.returncode == -signal.SIGKILL


def test_kill_leaves_no_process_of_the_sandbox():
    with _unconfined(SPAWNS + "time.sleep(60)", SHORT) as sandbox:
        assert sandbox.process.stdout.readline() == b"ready\n"
        assert sandbox.memory_mb() > 10  # two Pythons
        sandbox.kill()
        assert sandbox.process.wait(timeout=10) == -signal.SIGKILL
        assert _leftovers_after_a_while() == [] and sandbox.memory_mb() == 0


# ---------------------------------------------------------------- one submission's failure
def test_a_grader_failure_is_that_submissions_row(course, tmp_path, monkeypatch):
    shutil.copytree(course.root, tmp_path / "course")
    local = Course(tmp_path / "course")
    for student in ("alice", "bob"):
        (tmp_path / "inbox" / student).mkdir(parents=True)
        (tmp_path / "inbox" / student / f"{A}.ipynb").write_bytes(_nb_bytes())
    collect(local, tmp_path / "inbox", [A])
    grader = IsolatedGrader(local, LIMITS, sandbox="none", cgroups=False)

    def broken(assignment, student):
        raise KeyError("grade_id")

    monkeypatch.setattr(grader, "sanitize", broken)
    outcomes = grader.grade_all(A, ["alice", "bob"], jobs=2)
    assert [(o.score, o.max_score) for o in outcomes] == [(0, 5), (0, 5)]
    assert all("the grader failed on this submission (KeyError" in o.message for o in outcomes)
    assert set(cell_scores(local, A)) == {"alice", "bob"}
    assert "KeyError" in json.dumps(_autograded(local, "alice"))


def gradescope_with_a_perfect_submission(course: Course, folder: Path) -> None:
    """``folder`` laid out as Gradescope's ``/autograder``: the zip's files in
    ``source/``, a perfect notebook in ``submission/``."""
    package = build_zip(course, A, folder / "zips")
    with zipfile.ZipFile(package) as archive:
        archive.extractall(folder / "source")
    release = nbformat.read(course.notebook("release", A), 4)
    (folder / "submission").mkdir()
    nbformat.write(filled(release, nbformat.read(course.notebook("source", A), 4)),
                   folder / "submission" / f"{A}.ipynb")


def test_gradescope_grades_where_bubblewrap_cannot_run(course, tmp_path, monkeypatch, capsys):
    """Docker's seccomp profile usually blocks the namespaces: Gradescope still grades
    (its container holds this submission alone), and its hidden output says how."""
    from autograder import gradescope

    gradescope_with_a_perfect_submission(course, tmp_path)
    monkeypatch.setattr(confinement.shutil, "which", lambda name: None)
    monkeypatch.setattr(confinement, "_WARNED", set())
    results = gradescope.run(tmp_path, A)
    assert results["score"] == 5.0, results
    assert "WARNING: student code runs UNCONFINED" in capsys.readouterr().err


def test_gradescope_shows_no_traceback_to_the_student(course, tmp_path, monkeypatch):
    from autograder import gradescope

    package = build_zip(course, A, tmp_path / "zips")
    with zipfile.ZipFile(package) as archive:
        archive.extractall(tmp_path / "source")
    (tmp_path / "submission").mkdir()
    (tmp_path / "submission" / f"{A}.ipynb").write_bytes(_nb_bytes())

    def broken(*args, **kwargs):
        raise RuntimeError("internal detail")

    monkeypatch.setattr(gradescope, "collect", broken)
    results = gradescope.run(tmp_path, A)
    assert results["score"] == 0 and "please tell the course staff" in results["output"]
    assert "Traceback" not in json.dumps(results) and "internal detail" not in json.dumps(results)
