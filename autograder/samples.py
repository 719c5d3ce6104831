"""Sample submissions made from the source notebooks at test time.

For an assignment: ``perfect`` (every solution filled in), ``blank`` (the release as is),
``noisy`` (perfect, but the student's functions also write progress bars, warnings and
text to stderr while the tests call them) and one ``bug-<n>`` per planted bug
(:func:`bug_sample_name`); on request ``two-bugs``, with planted bugs in two exercises.
"""

from __future__ import annotations

import copy
from pathlib import Path

import nbformat
from nbgrader.utils import is_solution

from autograder.authoring import PlantedBug
from autograder.course import Course
from autograder.nbgrader_api import SOLUTION, Markers, grade_id, markers

STDERR_NOISE = """\
import sys as _sys
import warnings as _warnings
from tqdm import tqdm as _tqdm
for _ in _tqdm(range(3), desc="student progress bar"):
    pass
_warnings.warn("a warning from the student's code")
print("student debug output on stderr", file=_sys.stderr)
"""


TWO_BUGS = "two-bugs"


def bug_sample_name(number: int) -> str:
    """The student id of the sample with the ``number``-th planted bug (from 1)."""
    return f"bug-{number}"


def _first_of_each_exercise(bugs: list[PlantedBug]) -> list[int]:
    """The number (from 1) of each exercise's first planted bug, in notebook order."""
    first: dict[str, int] = {}
    for number, bug in enumerate(bugs, start=1):
        first.setdefault(bug.cell, number)
    return list(first.values())


def first_bug_per_exercise(bugs: list[PlantedBug]) -> set[str]:
    """Sample names of the first planted bug of each exercise."""
    return {bug_sample_name(n) for n in _first_of_each_exercise(bugs)}


def answer(source_cell_text: str, noise: str = "", delimiters: Markers | None = None) -> str:
    """The source cell as a student would submit it: markers gone, answer kept; ``noise``
    goes first in each solution region, at the indentation of its begin line."""
    regions = (delimiters or markers()).regions(source_cell_text, SOLUTION)
    begins = {region.begin: region.indent for region in regions}
    ends = {region.end for region in regions}
    lines = []
    for index, line in enumerate(source_cell_text.split("\n")):
        if index in begins:
            lines += [begins[index] + extra for extra in noise.splitlines()]
        elif index not in ends:
            lines.append(line)
    return "\n".join(lines).rstrip("\n")


def plant(text: str, bug: PlantedBug) -> str:
    """``text`` (a solution cell) with ``bug`` planted; ValueError if its ``find`` does not
    occur exactly once."""
    count = text.count(bug.find)
    if count != 1:
        raise ValueError(
            f"planted bug for {bug.cell!r}: {bug.find!r} occurs {count} times in the solution "
            "cell (must be exactly once) — update the bug after editing the solution"
        )
    return text.replace(bug.find, bug.replace)


def filled(release_nb, source_nb, bug: PlantedBug | None = None, noise: str = "",
           also: PlantedBug | None = None):
    """The release notebook with each solution cell answered from the source, with the
    planted ``bug`` (and ``also`` a second one, in another cell)."""
    by_id = {grade_id(c): c for c in source_nb.cells if is_solution(c)}
    nb = copy.deepcopy(release_nb)
    for cell in nb.cells:
        if not is_solution(cell):
            continue
        text = by_id[grade_id(cell)].source
        for planted in (bug, also):
            if planted is not None and planted.cell == grade_id(cell):
                text = plant(text, planted)
        cell.source = answer(text, noise if cell.cell_type == "code" else "")
    return nb


def two_bugs(bugs: list[PlantedBug]) -> tuple[int, int] | None:
    """The numbers of the first bug of the first and of the last exercise, or ``None``
    if every bug is in one exercise: the ``two-bugs`` sample plants both."""
    numbers = _first_of_each_exercise(bugs)
    return (numbers[0], numbers[-1]) if len(numbers) > 1 else None


def sample_submissions(release_nb, source_nb, bugs: list[PlantedBug],
                       pair: bool = False) -> dict:
    """``{student id: notebook}`` for the samples described in the module docstring;
    with ``pair``, also ``two-bugs`` (:func:`two_bugs`)."""
    samples = {
        "perfect": filled(release_nb, source_nb),
        "blank": copy.deepcopy(release_nb),
        "noisy": filled(release_nb, source_nb, noise=STDERR_NOISE),
    }
    for number, bug in enumerate(bugs, start=1):
        samples[bug_sample_name(number)] = filled(release_nb, source_nb, bug=bug)
    if pair and two_bugs(bugs):
        first, last = two_bugs(bugs)
        samples[TWO_BUGS] = filled(release_nb, source_nb, bug=bugs[first - 1],
                                   also=bugs[last - 1])
    for nb in samples.values():
        nbformat.validate(nb)
    return samples


BUG_SELECTIONS = ("all", "per-exercise", "one", "none")
CORRECT_SAMPLES = ("perfect", "blank", "noisy")


def chosen_bugs(bugs: list[PlantedBug], selection: str) -> set[str]:
    """Sample names of the planted bugs ``selection`` keeps: ``all``, the first of each
    exercise (``per-exercise``), the first of the notebook (``one``) or ``none``."""
    if selection not in BUG_SELECTIONS:
        raise ValueError(f"bug selection {selection!r}: use one of {BUG_SELECTIONS}")
    every = [bug_sample_name(n) for n in range(1, len(bugs) + 1)]
    return {"all": set(every), "per-exercise": first_bug_per_exercise(bugs),
            "one": set(every[:1]), "none": set()}[selection]


def write_samples(course: Course, assignments: list[str], out: Path, bugs: str = "all",
                  others: tuple[str, ...] = CORRECT_SAMPLES, pair: bool = False) -> list[str]:
    """Write sample submissions (folder of student folders) for released assignments:
    ``others`` (of perfect, blank, noisy), the planted bugs ``bugs`` selects
    (:func:`chosen_bugs`), and with ``pair`` the ``two-bugs`` sample."""
    students = []
    for assignment in assignments:
        staged = course.assignment(assignment)
        source_nb, release_nb, planted = staged.source, staged.release, staged.planted_bugs
        kept = chosen_bugs(planted, bugs) | set(others) | ({TWO_BUGS} if pair else set())
        for student, nb in sample_submissions(release_nb, source_nb, planted, pair).items():
            if student not in kept:
                continue
            folder = out / student
            folder.mkdir(parents=True, exist_ok=True)
            nbformat.write(nb, folder / f"{assignment}.ipynb")
            students.append(student)
    return sorted(set(students))
