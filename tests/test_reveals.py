"""The release guard: a notebook that shows other assignments' solutions (notebook 04 ships
working versions of 02's and 03's exercises) is released only when the instructor confirms
they are past due, and only where it declares them."""

import nbformat
import pytest

from autograder import sources
from autograder.authoring import SourceError, compact, expand, revealed
from autograder.course import Course, GradingError
from autograder.leaks import find_reveals
from autograder.nbgrader_api import markers

EARLIER = (
    '# %% [solution] id="centre"\ndef centre(x):\n    ### BEGIN SOLUTION\n'
    '    return x - x.mean(dim=0, keepdim=True)  # the answer\n    ### END SOLUTION\n\n'
    '# %% [tests] id="centre_tests" points=1\nimport torch\n\n'
    'from cs182meta.student import student\n\n'
    'assert student.centre(torch.ones(2, 1)).abs().sum() == 0\n'
)


def _later(header: str, body: str = "    return x - x.mean(dim=0, keepdim=True)  # the answer") -> str:
    return (f'# %% {header}\ndef centre(x):\n{body}\n\n\n'
            '# %% [markdown] id="text"\n# Uses the earlier answer.\n')


def test_a_declared_cell_round_trips_and_is_listed():
    nb = expand(_later('id="earlier" reveals=["90_earlier"]'), "91.py", "91_later")
    assert revealed(nb.cells[0]) == ["90_earlier"]
    assert 'reveals=["90_earlier"]' in compact(nb)
    shown, problems = find_reveals(nb, {"90_earlier": expand(EARLIER, "90.py", "90_earlier")})
    assert shown == {"90_earlier": ["earlier"]} and problems == []


def test_an_undeclared_solution_line_of_another_notebook_is_a_problem():
    nb = expand(_later('id="earlier"'), "91.py", "91_later")
    shown, problems = find_reveals(nb, {"90_earlier": expand(EARLIER, "90.py", "90_earlier")})
    assert shown == {}
    assert len(problems) == 1 and "solution line(s) of 90_earlier" in problems[0]
    assert 'reveals=["90_earlier"]' in problems[0]


def test_a_line_another_notebook_shows_anyway_is_no_secret():
    nb = expand(_later('id="earlier"'), "91.py", "91_later")
    earlier = expand(EARLIER, "90.py", "90_earlier")
    assert find_reveals(nb, {"90_earlier": earlier})[1]
    shows_it = expand('# %% id="loop"\nx = 1\nreturn x - x.mean(dim=0, keepdim=True)  # the answer\n',
                      "92.py", "92_other")
    assert find_reveals(nb, {"90_earlier": earlier, "92_other": shows_it}) == ({}, [])


@pytest.mark.parametrize("header, message", [
    ('[markdown] id="t" reveals=["90_earlier"]', "goes on a read-only code cell"),
    ('id="t" reveals="90_earlier"', "reveals must list the notebooks"),
    ('id="t" reveals=["earlier"]', "reveals must list the notebooks"),
])
def test_a_malformed_declaration_is_refused_with_file_and_line(header, message):
    with pytest.raises(SourceError, match=message):
        expand(f"# %% {header}\n# x\n", "91.py", "91_later")


def test_the_kit_declares_exactly_what_notebook_04_shows():
    others = {name: sources.notebook(name) for name in sources.assignments() if name != "04_families"}
    nb = sources.notebook("04_families")
    for cell in nb.cells:  # what a release shows: nothing inside the solution and hidden regions
        cell.source = "\n".join(markers().split(cell.source)[0])
    shown, problems = find_reveals(nb, others)
    assert problems == []
    assert shown == {"02_nonparametric": ["families"], "03_maml": ["families"]}


def test_release_refuses_notebook_04_until_02_and_03_are_past_due(tmp_path):
    course = Course(tmp_path / "course")
    with pytest.raises(GradingError, match="--past-due names no assignment: 99_nothing"):
        course.release(["04_families"], past_due=["99_nothing"])
    with pytest.raises(GradingError) as refused:
        course.release(["04_families"], past_due=["02_nonparametric"])
    message = str(refused.value)
    assert "shows reference solutions of 03_maml (cells families)" in message
    assert "--past-due 03_maml" in message and "nothing was released" in message
    assert not course.folder("release", "04_families").exists()
    assert course.not_past_due("04_families", ["02_nonparametric", "03_maml"]) == {}
    assert course.not_past_due("03_maml") == {}


def test_a_release_that_shows_an_undeclared_solution_is_removed(tmp_path):
    course = Course(tmp_path / "course")
    release = course.folder("release", "03_maml")
    release.mkdir(parents=True)
    nb = sources.notebook("03_maml")
    for cell in nb.cells:
        cell.source = "\n".join(markers().split(cell.source)[0])
    nb.cells[-1].source += "\nreturn torch.stack([support_embeddings[support_y == n].mean(dim=0) for n in range(n_way)])"
    nbformat.write(nb, release / "03_maml.ipynb")
    with pytest.raises(GradingError, match="solution line.*of 02_nonparametric"):
        course.check_reveals("03_maml", release / "03_maml.ipynb", set())
    assert not release.exists()


def test_release_without_names_holds_back_notebook_04_and_says_how_to_release_it(tmp_path, monkeypatch, capsys):
    from autograder import __main__ as cli

    asked = {}

    def release(course, names, jobs=1, past_due=()):
        asked["names"], asked["past_due"] = list(names), list(past_due)
        return []

    monkeypatch.setattr(Course, "release", release)
    assert cli.main(["--course", str(tmp_path / "course"), "release"]) == 0
    assert "04_families" not in asked["names"] and "03_maml" in asked["names"]
    out = capsys.readouterr().out
    assert "not released: 04_families shows reference solutions of 02_nonparametric, 03_maml" in out
    assert "--past-due 02_nonparametric,03_maml" in out
    cli.main(["--course", str(tmp_path / "course"), "release", "--past-due", "02_nonparametric,03_maml"])
    assert "04_families" in asked["names"] and asked["past_due"] == ["02_nonparametric", "03_maml"]


def test_an_empty_past_due_confirms_nothing():
    from autograder.__main__ import _past_due

    assert _past_due(None) == [] and _past_due([","]) == [] and _past_due([""]) == []
    assert _past_due(["02_nonparametric,", "03_maml"]) == ["02_nonparametric", "03_maml"]
