"""Failure signatures and their matching (autograder.diagnosis), on hand-made notebooks.

The grading pipeline test checks the same on every planted bug of every notebook.
"""

from __future__ import annotations

import json
import time

import pytest

from autograder import diagnosis
from autograder.authoring import PlantedBug
from autograder.diagnosis import Catalogue, failures
from cs182meta.failures import normalise


def test_numbers_shapes_and_value_lists_do_not_split_failures():
    assert normalise("AssertionError", "expected (3, 2), got (3,)") == \
        normalise("AssertionError", "expected (5, 4, 1), got (12,)")
    assert normalise("AssertionError", "expected [[1.0, 3.0], [0.5, 0.5]], got [[-2.5e-3, 1]]") \
        == normalise("AssertionError", "expected [[2.0]], got [[7, 8], [9, 1e4]]")
    assert normalise("AssertionError", "loss  0.25\n  too high") == "AssertionError: loss # too high"


def test_a_hostile_message_is_normalised_at_once():
    """A student's code chooses the message of what it raises: no pattern may backtrack
    on it (``"(" + "..." * 30`` once took exponential time), and it is cut short."""
    start = time.perf_counter()
    for message in ["(" + "..." * 5000 + "x", "[" + "1, " * 50000, "(" + ". " * 10**5 + "#"]:
        assert len(normalise("AssertionError", message)) <= len("AssertionError: ") + 240
    assert time.perf_counter() - start < 1.0


def test_the_students_traceback_is_cut_off_so_machines_agree():
    """A StudentCodeError carries the student's traceback, whose paths differ between the
    grader's sandbox and the student's own kernel."""
    sandbox = ("RuntimeError: The size of tensor a (3) must match\nTraceback (most recent call "
               'last):\n  File "/sandbox/kit/cs182meta/student.py", line 412, in _guarded')
    laptop = ("RuntimeError: The size of tensor a (4) must match\nTraceback (most recent call "
              'last):\n  File "/home/me/.venv/lib/cs182meta/student.py", line 9, in _guarded')
    assert normalise("StudentCodeError", sandbox) == normalise("StudentCodeError", laptop) == (
        "StudentCodeError: RuntimeError: The size of tensor a [#] must match")


def test_words_and_identifiers_still_split_failures():
    assert normalise("AssertionError", "conv4 output shape") != \
        normalise("AssertionError", "conv3 output shape")
    assert normalise("AssertionError", "the query labels leak") != \
        normalise("AssertionError", "the support labels leak")
    assert normalise("ValueError", "x") != normalise("TypeError", "x")
    assert normalise("KeyError", "") == "KeyError"


def _cell(grade_id, outputs=(), kind="code", grade=True, solution=False):
    return {"cell_type": kind, "source": "", "outputs": list(outputs), "metadata": {
        "nbgrader": {"grade_id": grade_id, "grade": grade, "solution": solution}}}


def _error(ename, evalue):
    return {"output_type": "error", "ename": ename, "evalue": evalue, "traceback": []}


def test_failures_reads_failing_test_cells_only():
    nb = {"cells": [
        _cell("answer", [_error("ValueError", "in the student's cell")], grade=False,
              solution=True),
        _cell("a_tests", [_error("AssertionError", "shape (3, 2)"),
                          _error("AssertionError", "second error ignored")]),
        _cell("b_tests", [{"output_type": "stream", "name": "stdout", "text": "fine"}]),
        _cell("c_tests", [{"output_type": "stream", "name": "stderr", "text": "warn"}]),
        _cell("written", [], kind="markdown", solution=True),
    ]}
    assert failures(nb) == {"a_tests": "AssertionError: shape [#]",
                            "c_tests": diagnosis.STDERR_FAILURE}


BUGS = [PlantedBug("ex1", "a", "b", ("t1",), why="why one", hint="Check one."),
        PlantedBug("ex1", "c", "d", ("t1",), why="why two", hint="Check two."),
        PlantedBug("ex2", "e", "f", ("t2",), why="why three", hint="Check three."),
        PlantedBug("ex2", "g", "h", ("t2",), why="why four", hint="Check four."),
        PlantedBug("ex2", "i", "j", ("t2", "t3"), why="why five", hint="Check five.")]
SIGNATURES = {1: {"t1": "AssertionError: m1"}, 2: {"t1": "AssertionError: m1"},
              3: {"t2": "AssertionError: m3"}, 4: {"t2": "ValueError: m4"},
              5: {"t2": "AssertionError: m3", "t3": "AssertionError: m5"}}


@pytest.fixture
def catalogue():
    return Catalogue.from_bugs("nb", BUGS, SIGNATURES)


def _diagnosed(catalogue, found):
    return sorted(m.bugs for m in catalogue.diagnose(found))


def test_bugs_with_the_same_failures_share_one_misconception_and_its_hint(catalogue):
    shared = next(m for m in catalogue.misconceptions if m.bugs == (1, 2))
    assert shared.hint == "Check one." and shared.label == "why one / why two"
    assert len(catalogue.misconceptions) == 4


def test_each_bug_is_diagnosed_as_itself(catalogue):
    for number, signature in SIGNATURES.items():
        found = _diagnosed(catalogue, signature)
        assert len(found) == 1 and number in found[0], (number, found)


def test_a_larger_match_explains_a_smaller_one(catalogue):
    both = {"t2": "AssertionError: m3", "t3": "AssertionError: m5"}
    assert _diagnosed(catalogue, both) == [(5,)]


def test_two_bugs_in_two_exercises_are_both_found(catalogue):
    found = {"t1": "AssertionError: m1", "t2": "ValueError: m4"}
    assert _diagnosed(catalogue, found) == [(1, 2), (4,)]
    assert catalogue.hints(found) == {"t1": ["Check one."], "t2": ["Check four."]}


def test_other_failures_are_unrecognised_and_blank_ones_are_neither(catalogue):
    found = {"t1": "AssertionError: something else", "t2": "NotImplementedError",
             "t3": "AssertionError: m5"}
    assert _diagnosed(catalogue, found) == []
    assert catalogue.unrecognised(found) == {"t1": "AssertionError: something else",
                                             "t3": "AssertionError: m5"}
    assert catalogue.hints(found) == {}
    assert _diagnosed(catalogue, {}) == []


def test_catalogue_survives_a_round_trip_through_json(catalogue, tmp_path):
    loaded = Catalogue.load(catalogue.save(tmp_path / "c.json"))
    assert loaded == catalogue
    data = json.loads((tmp_path / "c.json").read_text())
    data["format"] = 99
    with pytest.raises(ValueError, match="format"):
        Catalogue.from_json(data)


def test_stale_or_missing_signatures_are_refused_with_the_command_to_run(monkeypatch, tmp_path):
    path = tmp_path / "nb.signatures.json"
    monkeypatch.setattr(diagnosis, "signatures_path", lambda name: path)
    monkeypatch.setattr(diagnosis.sources, "planted_bugs", lambda name: list(BUGS))
    with pytest.raises(diagnosis.StaleSignatures, match="missing.*misconceptions nb"):
        diagnosis.catalogue("nb")
    path.write_text(json.dumps(diagnosis.signatures_file(BUGS, SIGNATURES, {}, {})))
    assert diagnosis.catalogue("nb") == Catalogue.from_bugs("nb", BUGS, SIGNATURES)
    edited = [*BUGS[:-1], PlantedBug("ex2", "i", "k", ("t2", "t3"), why="why five")]
    monkeypatch.setattr(diagnosis.sources, "planted_bugs", lambda name: edited)
    with pytest.raises(diagnosis.StaleSignatures, match="edited"):
        diagnosis.catalogue("nb")
