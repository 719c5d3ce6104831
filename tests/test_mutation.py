"""The mutation driver on a tiny notebook (fast): mutants of the solution part only, each
run in a fresh fork, classified killed / survived / timeout / equivalent."""

import os

import pytest

pytest.importorskip("mutmut", reason="mutmut is a dev extra: pip install -e '.[dev]'")

from autograder import mutation, sources  # noqa: E402

SOURCE = '''\
# %% id="setup"
import torch


# %% [solution] id="clipped_mean"
def clipped_mean(x, low):
    """Mean of x [n] after raising the values below `low` to `low`."""
    x = x.clone()  # provided code: not mutated
    ### BEGIN SOLUTION
    raised = torch.clamp(x, min=low)  # (n,)
    return raised.mean(dim=0)
    ### END SOLUTION


# %% [tests] id="clipped_mean_tests" points=1
import torch

from cs182meta.student import student

assert abs(student.clipped_mean(torch.tensor([0.0, 2.0, 4.0]), 1.0).item() - 7 / 3) < 1e-6
'''

BUGS = '''\
from autograder.authoring import PlantedBug

BUGS = [PlantedBug(cell="clipped_mean", find="raised.mean(dim=0)", replace="raised.sum(dim=0)",
                   loses=("clipped_mean_tests",), why="sums instead of averaging")]
EQUIVALENT_MUTANTS = {
    "return raised.mean(dim=0) -> return raised.mean(dim=-1)": "x is 1-D: the same axis",
}
'''


@pytest.fixture
def tiny(tmp_path, monkeypatch):
    (tmp_path / "99_tiny.py").write_text(SOURCE)
    (tmp_path / "99_tiny.bugs.py").write_text(BUGS)
    monkeypatch.setattr(sources, "SOURCES", tmp_path)
    return "99_tiny"


def test_mutants_change_only_the_solution_part():
    source = SOURCE.split('# %% [solution] id="clipped_mean"\n')[1].split("\n\n\n")[0]
    found = mutation.mutants("clipped_mean", source)
    keys = [m.key for m in found]
    assert "return raised.mean(dim=0) -> return raised.sum(dim=0)" in keys  # ours: sum for mean
    assert "raised = torch.clamp(x, min=low) -> raised = torch.clamp(x, )" in keys  # keyword dropped
    assert not any("clone" in k for k in keys), "the provided lines are not mutated"
    assert len(keys) == len(set(keys))


def test_analysis_classifies_every_mutant(tiny):
    assert "NBGRADER_EXECUTION" not in os.environ
    (result,) = mutation.analyse(tiny, limit_s=30)
    assert "NBGRADER_EXECUTION" not in os.environ, "the analysis must leave the environment as it was"
    status = result.status
    assert status["return raised.mean(dim=0) -> return raised.sum(dim=0)"] == mutation.KILLED
    assert status["raised = torch.clamp(x, min=low) -> raised = torch.clamp(x)"] == mutation.KILLED
    assert status["return raised.mean(dim=0) -> return raised.mean(dim=-1)"] == mutation.EQUIVALENT
    # Behaves like the solution too, but nobody has reviewed and listed it: a survivor,
    # which is how a hole in the tests (or a new equivalent) shows up.
    survived = set(mutation.survivors(result))
    assert survived == {"return raised.mean(dim=0) -> return raised.mean()",
                        "return raised.mean(dim=0) -> return raised.mean(dim=None)"}
    assert "| 99_tiny | `clipped_mean` |" in mutation.format_table([result])


def test_a_survivor_fails_the_command(tiny, capsys):
    with pytest.raises(mutation.MutantsSurvived, match="EQUIVALENT_MUTANTS"):
        mutation.mutate([tiny], limit_s=30)
    assert "survived  99_tiny:clipped_mean" in capsys.readouterr().out


def test_a_mutant_that_hangs_is_a_timeout_and_children_are_isolated(tiny):
    shell = mutation.shell_instance()
    try:
        shell.run_cell("counter = []")
        assert mutation.run_in_child(shell, ["while True:\n    pass"], limit_s=1) == (mutation.TIMEOUT, "")
        for _ in range(2):  # the second child does not see the first one's append
            assert mutation.run_in_child(
                shell, ["counter.append(1)", "assert counter == [1]"], limit_s=30) == (mutation.SURVIVED, "")
        assert mutation.run_in_child(shell, ["assert False, 'no'"], limit_s=30) == (
            mutation.KILLED, "AssertionError: no")
        assert shell.user_ns["counter"] == []
    finally:
        from IPython.core.interactiveshell import InteractiveShell

        InteractiveShell.clear_instance()


def test_a_source_that_fails_its_own_tests_is_an_error(tiny):
    broken = SOURCE.replace("7 / 3", "2")
    (sources.SOURCES / "99_tiny.py").write_text(broken)
    with pytest.raises(RuntimeError, match="fails its own test cell clipped_mean_tests"):
        mutation.analyse(tiny, limit_s=30)


ENVIRONMENT_PROBE = '''\
# %% id="setup"
import json
import os

from cs182meta import settings
from cs182meta.profiles import current_profile

with open({out!r}, "w") as seen:
    json.dump({{"max_steps": settings.max_steps(), "dataset": settings.dataset(),
               "profile": current_profile(), "mpl": os.environ.get("MPLBACKEND"),
               "variables": sorted(k for k in os.environ if k.startswith("CS182META_"))}}, seen)


# %% [solution] id="identity"
def identity(x):
    ### BEGIN SOLUTION
    return x
    ### END SOLUTION


# %% [tests] id="identity_tests" points=1
from cs182meta.student import student

assert student.identity(1) == 1
'''


def test_the_callers_settings_do_not_reach_the_notebook(tmp_path, monkeypatch):
    """The notebook runs under the environment release validation and grading use
    (cs182meta.settings.grading_environment): a step cap, a dataset or a profile the
    caller has set must not change what the mutants are tested against."""
    import json

    monkeypatch.setattr(sources, "SOURCES", tmp_path)
    out = tmp_path / "seen.json"
    (tmp_path / "98_probe.py").write_text(ENVIRONMENT_PROBE.format(out=str(out)))
    (tmp_path / "98_probe.bugs.py").write_text(
        "from autograder.authoring import PlantedBug\n\n"
        "BUGS = [PlantedBug(cell='identity', find='return x', replace='return -x', "
        "loses=('identity_tests',), why='negates')]\n")
    solution = ENVIRONMENT_PROBE.split('id="identity"\n')[1].split("\n\n\n")[0]
    assert "return x" in solution and mutation.mutants("identity", solution) == []  # fast
    caller = {"CS182META_MAX_STEPS": "2", "CS182META_DATASET": "omniglot",
              "CS182META_PROFILE": "full", "CS182META_RUN_LOG": str(tmp_path / "log")}
    for key, value in caller.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MPLBACKEND", raising=False)
    cache = os.environ["CS182META_CACHE"]  # set for the tests by conftest.py

    mutation.analyse("98_probe", limit_s=30)

    seen = json.loads(out.read_text())
    assert seen == {"max_steps": None, "dataset": "glyphs", "profile": "grading", "mpl": "Agg",
                    "variables": ["CS182META_CACHE"]}
    assert {k: os.environ.get(k) for k in caller} == caller, "the caller's environment is put back"
    assert "MPLBACKEND" not in os.environ and "NBGRADER_EXECUTION" not in os.environ
    assert os.environ["CS182META_CACHE"] == cache


def test_the_grading_process_environment_is_graders():
    caller = {"PATH": "/bin", "CS182META_MAX_STEPS": "2", "CS182META_DATASET": "omniglot",
              "CS182META_CACHE": "/c", "MPLBACKEND": "pdf"}
    assert mutation.grading_process_environment(caller) == {
        "PATH": "/bin", "CS182META_CACHE": "/c", "MPLBACKEND": "pdf",
        "NBGRADER_EXECUTION": "autograde"}
    assert mutation.grading_process_environment({})["MPLBACKEND"] == "Agg"
    assert "CS182META_MAX_STEPS" in caller  # the argument is left as it was


def test_one_real_exercise_kills_every_non_equivalent_mutant():
    (result,) = mutation.mutate(["00_episodes"], ["nearest_neighbour"], limit_s=60)
    assert result.score == 1.0 and result.count(mutation.KILLED) >= 15
    assert result.count(mutation.EQUIVALENT) == len(sources.equivalent_mutants("00_episodes"))
