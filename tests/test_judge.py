"""Test cells are judged outside the student's process (autograder.judge): what the
kernel does to itself cannot change a verdict, nothing a student's code returns runs in
the grader, and the channel between them takes only what it declares.

On the tiny assignment of test_sandbox.py (no torch in the kernel), graded in bubblewrap.
"""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import nbformat
import pytest
import torch

from autograder.course import Course
from autograder.grades import cell_scores
from autograder.isolated import IsolatedGrader
from autograder.judging import for_the_sandbox
from autograder.limits import Limits
from autograder.nbgrader_api import is_test_cell
from autograder.samples import filled
from autograder.submissions import collect
from cs182meta.student import (
    InProcessChannel,
    Student,
    StudentCodeError,
    WireError,
    decode,
    encode,
)
from tests.test_sandbox import BWRAP_PROBLEM, CUBE, SQ, A, _before, _index, tiny_course

# Code run in the kernel before exercise 1 of a blank notebook: each tries to make the
# tests pass without solving anything.
HOOKS = {
    "transformer": 'get_ipython().input_transformers_post.append(lambda lines: ["pass\\n"])',
    "run-cell": ("ip = get_ipython()\n"
                 "ip.run_cell = lambda *a, **k: None"),
    "events": ("def quiet(*args):\n    pass\n"
               "get_ipython().events.register('pre_run_cell', quiet)\n"
               "get_ipython().events.register('post_run_cell', quiet)\n"
               "import sys\nsys.displayhook = lambda value: None"),
    "builtins": ("import builtins\n"
                 "builtins.AssertionError = type('AssertionError', (Exception,), {})\n"
                 "builtins.isinstance = lambda *a: True\nbuiltins.len = lambda *a: 9"),
    "torch": ("import torch\ntorch.equal = lambda *a, **k: True\n"
              "torch.allclose = lambda *a, **k: True\n"
              "torch.testing.assert_close = lambda *a, **k: None\n"
              "torch.Tensor.__eq__ = lambda *a: True"),
    "kit": ("import cs182meta.student as s\n"
            "s.Student._ask = lambda self, op, **fields: 9"),
    "forged-replies": (  # every request answered "9", whatever it asks
        "import cs182meta.student as s\nfrom IPython.display import display\n"
        "s.serve = lambda text: display({s.REPLY_MIME: '{\"value\": 9}'}, raw=True)"),
}
# The same, on a notebook whose solutions are right: the channel's checks.
CHANNEL = {
    "malformed-reply": (
        "import cs182meta.student as s\nfrom IPython.display import display\n"
        "s.serve = lambda text: display({s.REPLY_MIME: "
        "'{\"value\": {\"$copy\": \"gASVAAAAAAAAAAB9lC4=\"}}'}, raw=True)"),
    "oversized-reply": (
        "import cs182meta.student as s\nfrom IPython.display import display\n"
        "s.serve = lambda text: display({s.REPLY_MIME: '{\"value\": \"' + 'x' * 20_000_000 + '\"}'},"
        " raw=True)"),
    "deep-reply": (  # JSON nested deeper than any parser's recursion
        "import cs182meta.student as s\nfrom IPython.display import display\n"
        "s.serve = lambda text: display({s.REPLY_MIME: '{\"value\": ' + '[' * 200_000 + "
        "']' * 200_000 + '}'}, raw=True)"),
    "slow-reply": ("import time\nimport cs182meta.student as s\n"
                   "s.serve = lambda text: time.sleep(3600)"),
}
SNEAKY = '''\
import os
KERNEL = os.getpid()

def _mark(what):
    if os.getpid() != KERNEL:  # anywhere but in the student's own kernel
        with open({mark!r}, "a") as f:
            f.write(what + "\\n")
    return 9

class Sneaky:
    def __eq__(self, other): return _mark("eq") == 9
    def __hash__(self): return _mark("hash")
    def __bool__(self): return bool(_mark("bool"))
    def __repr__(self): return str(_mark("repr"))
    def __reduce__(self): return (_mark, ("unpickled",))
    def __del__(self): _mark("del")

def square(x):
    return Sneaky()
'''


def _grade(course: Course, tmp_path: Path, subs: dict, limits: Limits) -> dict:
    shutil.copytree(course.root, tmp_path / "course")
    local = Course(tmp_path / "course")
    for student, nb in subs.items():
        (tmp_path / "inbox" / student).mkdir(parents=True)
        nbformat.write(nb, tmp_path / "inbox" / student / f"{A}.ipynb")
    collect(local, tmp_path / "inbox", [A])
    grader = IsolatedGrader(local, limits, sandbox="bwrap")
    outcomes = {o.student: o for o in grader.grade_all(A, sorted(subs), jobs=2)}
    return dict(course=local, outcomes=outcomes, scores=cell_scores(local, A))


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    assert BWRAP_PROBLEM is None, BWRAP_PROBLEM
    root = tmp_path_factory.mktemp("judge")
    course = tiny_course(root / "tiny")
    release = nbformat.read(course.notebook("release", A), 4)
    perfect = filled(release, nbformat.read(course.notebook("source", A), 4))
    mark = root / "mark"
    subs = {"perfect": perfect}
    subs.update({f"hook-{name}": _before(copy.deepcopy(release), "sq", code)
                 for name, code in HOOKS.items()})
    subs.update({name: _before(copy.deepcopy(perfect), "sq", code)
                 for name, code in CHANNEL.items()})
    sneaky = copy.deepcopy(perfect)
    sneaky.cells[_index(sneaky, "sq")].source = SNEAKY.format(mark=str(mark))
    subs["sneaky"] = sneaky
    graded = _grade(course, root, subs, Limits(wall_s=120, cell_s=8, memory_mb=700))
    graded["mark"] = mark
    return graded


def _points(graded, student):
    row = graded["scores"][student]
    return row[SQ][0], row[CUBE][0]


def _test_errors(graded, student) -> str:
    nb = nbformat.read(graded["course"].notebook("autograded", A, student), 4)
    return json.dumps([c.get("outputs") for c in nb.cells if is_test_cell(c)])


@pytest.mark.parametrize("hook", sorted(HOOKS))
def test_what_the_kernel_does_to_itself_leaves_a_blank_notebook_at_zero(graded, hook):
    assert _points(graded, f"hook-{hook}") == (0, 0), graded["outcomes"][f"hook-{hook}"]
    assert _points(graded, "perfect") == (2, 3)


def test_a_reply_that_is_not_plain_data_fails_its_test_with_a_message(graded):
    assert _points(graded, "malformed-reply") == (0, 0)
    assert "WireError" in _test_errors(graded, "malformed-reply")


def test_an_oversized_reply_fails_its_test_with_a_message(graded):
    assert _points(graded, "oversized-reply") == (0, 0)
    assert "over the 16 MB limit" in _test_errors(graded, "oversized-reply")


def test_a_reply_nested_too_deep_fails_its_test(graded):
    assert _points(graded, "deep-reply") == (0, 0)
    assert "could not answer the test's call" in _test_errors(graded, "deep-reply")  # not a crash
    assert "please tell the course staff" not in graded["outcomes"]["deep-reply"].message


def test_a_reply_that_never_comes_fails_its_test_within_the_cell_limit(graded):
    assert _points(graded, "slow-reply") == (0, 0)
    assert "did not answer within 8 s" in _test_errors(graded, "slow-reply")
    assert graded["outcomes"]["slow-reply"].seconds < 100


def test_nothing_a_student_returns_runs_in_the_grader(graded):
    assert _points(graded, "sneaky") == (0, 3)  # an object is a handle: equal to nothing
    assert not graded["mark"].exists(), graded["mark"].read_text()


def test_the_sandbox_never_receives_a_test_cell(tmp_path):
    course = tiny_course(tmp_path / "course")
    source = nbformat.read(course.notebook("source", A), 4)
    sent = json.loads(for_the_sandbox(source))
    tests = [c for c in source.cells if is_test_cell(c)]
    assert tests and all(c["source"] == "" for c in sent["cells"] if is_test_cell(c))
    text = json.dumps(sent)
    assert "student.square(-4)" not in text and "HIDDEN" not in text


# ------------------------------------------------------------------ the wire, in process
def _student(**names) -> Student:
    return Student(InProcessChannel(lambda: names))


def test_values_cross_as_plain_data_and_objects_as_handles():
    net = torch.nn.Linear(3, 2)
    student = _student(f=lambda x: (x * 2, {"n": 1.5, "s": "a"}, [None, True]),
                       net=lambda: net, nan=lambda: float("nan"))
    doubled, record, items = student.f(torch.arange(3.0))
    assert torch.equal(doubled, torch.tensor([0.0, 2.0, 4.0])) and record == {"n": 1.5, "s": "a"}
    assert items == [None, True]
    handle = student.net()
    assert student.is_instance(handle, "torch.nn.Module") and handle.out_features == 2
    assert torch.equal(handle.weight, net.weight) and handle.weight.grad_fn is None
    assert student.nan() != student.nan()


def test_gradients_are_asked_for_by_value():
    def loss(w, x):
        return (w * x).sum() ** 2

    def detached(w, x):
        return (w.detach() * x).sum() ** 2

    student = _student(loss=loss, detached=detached)
    w, x = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0])
    output, (grad_w,) = student.grad(student.loss, (w, x), wrt=(0,))
    assert output.item() == 121.0 and torch.allclose(grad_w, 2 * 11 * x)
    _, (none,) = student.grad(student.detached, (w, x), wrt=(0,))
    assert none is None


def test_a_gradient_of_one_entry_of_a_matrix_is_asked_for_by_a_tuple_index():
    student = _student(outer=lambda a, b: a[:, None] * b[None, :])
    a, b = torch.tensor([1.0, 2.0]), torch.tensor([3.0, 4.0, 5.0])
    output, (grad_a, grad_b) = student.grad(student.outer, (a, b), wrt=(0, 1), index=(1, 2))
    assert output.shape == (2, 3)
    assert torch.equal(grad_a, torch.tensor([0.0, 5.0])) and torch.equal(grad_b, torch.tensor([0.0, 0.0, 2.0]))
    with pytest.raises(StudentCodeError, match="index must be an int or a tuple of ints"):
        student.grad(student.outer, (a, b), wrt=(0,), index=(1, "x"))


def test_the_wire_refuses_what_it_does_not_declare():
    with pytest.raises(WireError):
        decode({"$copy": "gASVAAAAAAAAAAB9lC4="})  # pickle never comes back
    with pytest.raises(WireError):
        decode({"$tensor": {"dtype": "float32", "shape": [4], "requires_grad": False,
                            "data": "AAAA"}})  # 3 bytes for 4 floats
    with pytest.raises(WireError):
        decode({"$object": 1})
    deep: list = []
    for _ in range(40):
        deep = [deep]
    with pytest.raises(WireError):
        encode(deep)
    with pytest.raises(WireError):
        encode(object())

    class Local(torch.nn.Module):  # defined in a test cell: would not exist on the other side
        pass

    with pytest.raises(WireError, match="cannot be sent"):
        _student(f=lambda m: m).f(Local())


def test_the_students_errors_arrive_with_their_kind_and_message():
    def broken(x):
        raise ValueError("x must be positive")

    with pytest.raises(StudentCodeError) as raised:
        _student(broken=broken).broken(1)
    assert raised.value.kind == "ValueError" and raised.value.message == "x must be positive"
    with pytest.raises(StudentCodeError, match="does not define 'missing'"):
        _student().missing(1)
