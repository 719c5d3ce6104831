"""Every limit has one definition (autograder/limits.py), and the course's nbgrader config
follows it."""

import inspect
import subprocess
import sys

import pytest

import autograder.__main__ as autograder_cli
from autograder import confinement, gradescope, isolated, limits, sandbox, submissions
from autograder.course import Course
from autograder.nbgrader_api import KIT_CONFIG, course_config, course_config_text


def test_the_course_config_timeout_is_the_graders_cell_limit(tmp_path):
    course = Course(tmp_path / "course")
    course.prepare([])
    assert course_config(course.root).Execute.timeout == limits.Limits().cell_s
    assert (course.root / "nbgrader_config.py").read_text() == course_config_text()
    assert str(limits.Limits().cell_s) not in KIT_CONFIG.read_text()  # written in, not copied


def test_the_course_config_loads_without_the_autograder_package(tmp_path):
    (tmp_path / "nbgrader_config.py").write_text(course_config_text())
    probe = ("import importlib.util, sys\n"
             "from traitlets.config.loader import PyFileConfigLoader\n"
             "config = PyFileConfigLoader('nbgrader_config.py', path='.').load_config()\n"
             "print(importlib.util.find_spec('autograder') is None, config.Execute.timeout)\n")
    # -I: neither PYTHONPATH nor the working folder on sys.path, as where nbgrader runs alone
    done = subprocess.run([sys.executable, "-I", "-c", probe], cwd=tmp_path,
                          capture_output=True, text=True, check=True)
    _, timeout = done.stdout.split()
    assert int(timeout) == limits.Limits().cell_s
    assert "autograder" not in "".join(
        line for line in course_config_text().splitlines() if not line.startswith("#"))


def test_each_module_takes_its_limits_from_autograder_limits(monkeypatch):
    assert isolated.Limits is limits.Limits and gradescope.GRADESCOPE_LIMITS is limits.GRADESCOPE_LIMITS
    for module in (sandbox, submissions, isolated, gradescope):
        assert module.MAX_NOTEBOOK_BYTES == limits.MAX_NOTEBOOK_BYTES
    assert (sandbox.MAX_TEXT, sandbox.MAX_DATA, sandbox.MAX_OUTPUTS, sandbox.MAX_CELL) == (
        limits.MAX_TEXT, limits.MAX_DATA, limits.MAX_OUTPUTS, limits.MAX_CELL)
    assert (gradescope.MAX_OUTPUT, gradescope.MAX_RESULTS) == (
        limits.GRADESCOPE_MAX_MESSAGE, limits.GRADESCOPE_MAX_RESULTS)
    assert confinement.SHM_MB == limits.SHM_MB
    mutation = pytest.importorskip("autograder.mutation")  # needs the dev extras (mutmut)
    for function in (mutation.analyse, mutation.mutate):
        assert inspect.signature(function).parameters["limit_s"].default == limits.MUTANT_S
    seen = []
    monkeypatch.setattr(autograder_cli, "cmd_mutate", seen.append)
    assert autograder_cli.main(["mutate"]) == 0 and seen[0].limit == limits.MUTANT_S


def test_student_ids_are_capped_at_the_limit():
    ok = "a" * limits.MAX_STUDENT_ID
    assert submissions._STUDENT_ID.match(ok) and not submissions._STUDENT_ID.match(ok + "a")
