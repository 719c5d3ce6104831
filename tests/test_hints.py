"""Hints while students work (cs182meta/hints.py): which failure gets which hint, and
the kernel hook that appends it to the error a test cell stores."""

import json

import pytest
from IPython.core.interactiveshell import InteractiveShell

from cs182meta import hints
from cs182meta.failures import normalise

SHAPES = "assert x == 2, f'expected shape ({x},) (one per query), got ({x + 1},)'\n"
VALUES = "w = 2\nassert y == 3, f'expected {y} to be 3'\n"


def _file(folder, entries_by_source: dict[str, tuple[str, list[dict]]]):
    cells = {cell: {"key": hints.cell_key(source), "entries": entries}
             for source, (cell, entries) in entries_by_source.items()}
    (folder / "99_x.hints.json").write_text(json.dumps({"format": hints.FORMAT, "cells": cells}))


def _entry(failure, hint, **elsewhere):
    return {"failure": failure, "hint": hint, "elsewhere": elsewhere}


SHAPE_FAILURE = "AssertionError: expected shape [#] (one per query), got [#]"
VALUE_FAILURE = "AssertionError: expected # to be #"


@pytest.fixture
def folder(tmp_path):
    _file(tmp_path, {
        SHAPES: ("shapes_tests", [_entry(SHAPE_FAILURE, "Check the axis."),
                                  _entry(SHAPE_FAILURE, "Check the axis."),  # two bugs, one hint
                                  _entry(SHAPE_FAILURE, "Check the labels.", values_tests=VALUE_FAILURE)]),
        VALUES: ("values_tests", [_entry(VALUE_FAILURE, "Check the labels.", shapes_tests=SHAPE_FAILURE)]),
    })
    return tmp_path


def test_cell_key_ignores_trailing_spaces_and_blank_edges():
    assert hints.cell_key("\n\nx = 1  \ny = 2\n\n") == hints.cell_key("x = 1\ny = 2")
    assert hints.cell_key("x = 1\ny = 3") != hints.cell_key("x = 1\ny = 2")


def test_a_failure_gets_each_matching_hint_once_unless_contradicted(folder):
    found = hints.Hints.from_folder(folder)
    assert found.for_failure(SHAPES, SHAPE_FAILURE) == ["Check the axis.", "Check the labels."]
    assert found.for_failure(SHAPES, "AssertionError: something else") == []
    assert found.for_failure("other code", SHAPE_FAILURE) == []
    found.record(VALUES, None)  # the values test passed: the labels bug is not this one
    assert found.for_failure(SHAPES, SHAPE_FAILURE) == ["Check the axis."]
    found.record(VALUES, VALUE_FAILURE)
    assert found.for_failure(SHAPES, SHAPE_FAILURE) == ["Check the axis.", "Check the labels."]


def test_a_broken_or_foreign_hints_file_gives_no_hints(tmp_path):
    (tmp_path / "a.hints.json").write_text("{not json")
    (tmp_path / "b.hints.json").write_text(json.dumps({"format": 99, "cells": {}}))
    assert hints.Hints.from_folder(tmp_path).cells == {}


@pytest.fixture
def shell(folder):
    shell = InteractiveShell.instance()
    installed = hints.install(shell, folder)
    assert installed is not None
    yield shell
    hints.uninstall(shell)
    InteractiveShell.clear_instance()


def test_the_kernel_appends_the_hint_to_a_failing_test_and_nothing_else(shell, capsys):
    failed = shell.run_cell("x = 4\n" + SHAPES.strip() + "\n")  # not the test cell: other code
    assert "Hint:" not in str(failed.error_in_exec)
    shell.run_cell("x = 4")
    failed = shell.run_cell(SHAPES)
    message = str(failed.error_in_exec)
    assert message.endswith("\n\nHint: Check the axis.\nHint: Check the labels."), message
    assert normalise("AssertionError", message) == SHAPE_FAILURE, "the hint is not part of the failure"
    assert "Hint: Check the axis." in capsys.readouterr().out  # what the notebook shows
    shell.run_cell("y = 3")
    passed = shell.run_cell(VALUES)
    assert passed.success
    assert str(shell.run_cell(SHAPES).error_in_exec).endswith("\n\nHint: Check the axis.")


def test_blank_work_and_correct_work_show_no_hint(shell):
    shell.run_cell("x = 2")
    assert shell.run_cell(SHAPES).success  # correct: nothing to show
    shell.run_cell("class Stub:\n    def __eq__(self, other):\n        raise NotImplementedError()\n\n\nx = Stub()")
    blank = shell.run_cell(SHAPES)  # the release's stub raises NotImplementedError inside the test
    assert isinstance(blank.error_in_exec, NotImplementedError) and "Hint" not in str(blank.error_in_exec)
