"""The container mode (confinement.Unprivileged): where bubblewrap cannot make
namespaces (Gradescope's Docker), student code runs as an unprivileged uid of its own
with resource limits, in a folder that holds nothing else. Forced here with
``sandbox="user"``, on the tiny assignment of test_sandbox.py.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import stat
import sys
import tempfile
from pathlib import Path

import nbformat
import psutil
import pytest

from autograder import confinement
from autograder.grades import cell_scores
from autograder.isolated import IsolatedGrader
from autograder.limits import Limits
from autograder.samples import filled
from autograder.submissions import collect
from tests.test_judge import HOOKS
from tests.test_sandbox import (
    CUBE,
    FORK_BOMB,
    SQ,
    TOKEN,
    A,
    _before,
    _detached,
    _forge_records,
    gradescope_with_a_perfect_submission,
    tiny_course,
)

USERS = range(confinement.Unprivileged.FIRST_UID - 1, confinement.Unprivileged.FIRST_UID + 64)


@pytest.fixture(scope="module", autouse=True)
def python_for_every_user():
    """The container mode runs Python as another user. A Gradescope image installs it
    where every user can read it; here it lives under /root (mode 0700), so /root is
    opened for traversal (not listing) while these tests run, and closed again after."""
    assert os.geteuid() == 0, "the container mode needs root"
    home = Path("/root")
    mode = stat.S_IMODE(home.stat().st_mode)
    opened = Path(sys.executable).is_relative_to(home) and not mode & 0o001
    if opened:
        os.chmod(home, mode | 0o001)
    try:
        yield
    finally:
        if opened:
            os.chmod(home, mode)


def _left_running() -> list[str]:
    return [f"{p.pid} uid {p.info['uids'].real}" for p in psutil.process_iter(["uids"])
            if p.info["uids"] is not None and p.info["uids"].real in USERS]


PROBES = {  # student: code run before exercise 1 of a perfect notebook
    "who": "import os\nprint('UID', os.getuid(), os.getgid(), os.getgroups())",
    "reader": ("import os\nfound = []\n"
               "for path in {paths!r}:\n"
               "    try:\n        found.append((path, len(open(path, 'rb').read())))\n"
               "    except OSError as err:\n        found.append((path, type(err).__name__))\n"
               "print('READ', found)"),
    "forge-proc": None,  # filled in below: writes into every descriptor of its parent
    "daemon": _detached("import time\nwhile True:\n    time.sleep(1)"),
    "limits": ("import resource\n"
               "print('LIMITS', [resource.getrlimit(getattr(resource, 'RLIMIT_' + name))[0]\n"
               "                 for name in ('NPROC', 'FSIZE', 'NOFILE', 'CPU', 'CORE')])"),
    "kill-all": ("import os, signal\n"  # at -j 2, tries to stop the other submission too
                 "for pid in os.listdir('/proc'):\n"
                 "    if pid.isdigit() and int(pid) != os.getpid():\n"
                 "        try:\n            os.kill(int(pid), signal.SIGKILL)\n"
                 "        except OSError:\n            pass\n"),
}


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    root = tmp_path_factory.mktemp("container")
    course = tiny_course(root / "course")
    release = nbformat.read(course.notebook("release", A), 4)
    perfect = filled(release, nbformat.read(course.notebook("source", A), 4))
    secrets = [str(course.gradebook_file), str(course.notebook("source", A)),
               str(Path(confinement.__file__).parent / "judge.py")]
    code = dict(PROBES, reader=PROBES["reader"].format(paths=secrets),
                **{"forge-proc": _forge_records(release)})
    subs = {"perfect": perfect, "blank": copy.deepcopy(release),
            "fork-bomb": _before(copy.deepcopy(perfect), "sq", FORK_BOMB)}
    subs.update({f"hook-{name}": _before(copy.deepcopy(release), "sq", hook)
                 for name, hook in HOOKS.items()})
    subs.update({name: _before(copy.deepcopy(perfect), "sq", text) for name, text in code.items()})
    for student, nb in subs.items():
        (root / "inbox" / student).mkdir(parents=True)
        nbformat.write(nb, root / "inbox" / student / f"{A}.ipynb")
    collect(course, root / "inbox", [A])
    grader = IsolatedGrader(course, Limits(wall_s=120, cell_s=60, memory_mb=1500, processes=200),
                            sandbox="user")
    outcomes = {o.student: o for o in grader.grade_all(A, sorted(subs), jobs=2)}
    return dict(course=course, outcomes=outcomes, scores=cell_scores(course, A),
                left=_left_running(), secrets=secrets)


def _points(graded, student):
    row = graded["scores"][student]
    return row[SQ][0], row[CUBE][0]


def _printed(graded, student) -> str:
    nb = nbformat.read(graded["course"].notebook("autograded", A, student), 4)
    return json.dumps([c.get("outputs", []) for c in nb.cells])


def test_the_container_mode_grades_right(graded):
    assert _points(graded, "perfect") == (2, 3) and _points(graded, "blank") == (0, 0)
    assert all(o.confined for o in graded["outcomes"].values())


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_what_the_kernel_does_to_itself_leaves_a_blank_notebook_at_zero(graded, hook):
    assert _points(graded, f"hook-{hook}") == (0, 0), graded["outcomes"][f"hook-{hook}"]


def test_the_student_side_never_runs_as_root(graded):
    text = _printed(graded, "who")
    uid = int(text.split("UID ", 1)[1].split()[0])
    assert uid in USERS and uid != 0, text
    assert "[]" in text.split("UID ", 1)[1][:40]  # no supplementary groups


def test_the_course_the_gradebook_and_the_judge_are_unreadable(graded):
    text = _printed(graded, "reader")
    assert "READ" in text
    for path in graded["secrets"][:2]:
        assert f"{path}', 'PermissionError'" in text.replace('\\"', "'"), text[:2000]
    assert _points(graded, "reader") == (2, 3)


def test_forged_results_count_for_nothing(graded):
    assert _points(graded, "forge-proc") == (2, 3)  # its own tests, judged as usual
    assert "FORGE hits []" in _printed(graded, "forge-proc")  # the parent's pipes are closed


def test_a_fork_bomb_is_that_submissions_failure(graded):
    outcome = graded["outcomes"]["fork-bomb"]
    # Stopped at its process count or at the memory its copies hold, whichever comes first.
    assert outcome.message.startswith("stopped:") and outcome.score == 0, outcome
    assert _points(graded, "perfect") == (2, 3)


def test_every_process_of_the_student_side_has_the_limits(graded):
    text = _printed(graded, "limits")
    limits = json.loads(text.split("LIMITS ", 1)[1].split("]", 1)[0] + "]")
    assert limits[0] == 200 and limits[1] == Limits().work_mb * 2**20, limits
    assert limits[2] == 4096 and limits[3] == 120 + 60 and limits[4] == 0, limits


def test_two_students_at_once_cannot_reach_each_other(graded):
    assert _points(graded, "kill-all") == (0, 0)  # it stopped itself, and no one else
    others = [s for s in graded["outcomes"] if s not in ("kill-all", "fork-bomb", "blank")
              and not s.startswith("hook-")]
    assert all(_points(graded, s) == (2, 3) for s in others)


def test_nothing_of_the_student_side_is_left_running(graded):
    assert graded["left"] == []
    assert _points(graded, "daemon") == (2, 3)
    assert not [p for p in psutil.process_iter(["cmdline"])
                if TOKEN in " ".join(p.info["cmdline"] or []) and "pytest" not in
                " ".join(p.info["cmdline"] or [])]


def test_a_readable_course_folder_is_refused():
    folder = Path(tempfile.mkdtemp(prefix="cs182meta-open-"))  # in /tmp, which anyone may enter
    try:
        os.chmod(folder, 0o755)
        (folder / "course").mkdir()
        os.chmod(folder / "course", 0o755)
        with pytest.raises(confinement.SandboxUnavailable, match="readable by other users"):
            confinement.confinement(folder / "course", "user")
    finally:
        shutil.rmtree(folder)


def test_gradescope_uses_the_container_mode_where_bubblewrap_cannot_run(tmp_path, monkeypatch,
                                                                        capsys):
    from autograder import gradescope

    gradescope_with_a_perfect_submission(tiny_course(tmp_path / "course"), tmp_path)
    monkeypatch.setattr(confinement.shutil, "which", lambda name: None)
    monkeypatch.setattr(confinement, "_WARNED", set())
    results = gradescope.run(tmp_path, A)
    assert results["score"] == 5.0, results
    assert "UNCONFINED" not in capsys.readouterr().err
    assert _left_running() == []
