"""Every planted bug carries a student-facing hint: one short line that points at the
misconception ("Check whether ...") without quoting the solution or the bug itself."""

import re

import nbformat
import pytest

from autograder import sources
from autograder.authoring import SOLUTION_MARKERS

MAX_HINT = 160
MIN_LINE = 12  # shorter solution lines (`return phi`) are too generic to count as a leak


def _solution_lines(nb, grade_id: str) -> list[str]:
    """The stripped lines of the student's part of solution cell ``grade_id``."""
    cells = [c for c in nb.cells
             if c.metadata.get("nbgrader", {}).get("grade_id") == grade_id]
    assert len(cells) == 1, f"expected one cell with grade_id {grade_id!r}, got {len(cells)}"
    source = cells[0].source
    begin, end = SOLUTION_MARKERS
    assert begin in source and end in source, f"cell {grade_id!r} has no solution markers"
    part = source.split(begin, 1)[1].split(end, 1)[0]
    lines = set()
    for line in part.splitlines():
        lines.add(line.strip())
        lines.add(line.split("  #", 1)[0].strip())  # the code without its trailing comment
    return sorted(line for line in lines if len(line) >= MIN_LINE)


def _bugs():
    for name in sources.assignments():
        nb = nbformat.read(sources.NOTEBOOKS / f"{name}.ipynb", 4)
        for number, bug in enumerate(sources.planted_bugs(name)):
            yield pytest.param(nb, bug, id=f"{name}-{number}-{bug.cell}")


def hint_problems(bug, solution_lines: list[str]) -> list[str]:
    """What is wrong with ``bug.hint``; empty if it is a good hint."""
    hint = bug.hint
    if not hint.strip():
        return ["the hint is empty"]
    problems = []
    if not hint.startswith("Check"):
        problems.append("it must start with 'Check' ('Check whether', 'Check that', 'Check how')")
    if "\n" in hint or hint != hint.strip():
        problems.append("it must be a single line without surrounding whitespace")
    if len(hint) > MAX_HINT:
        problems.append(f"it has {len(hint)} characters; at most {MAX_HINT}")
    if not hint.endswith((".", "?")):
        problems.append("it must end with '.' or '?'")
    if re.search(r"[.?!]\s+[A-Z]", hint):
        problems.append("it must be one sentence")
    problems += [f"backticked code {code!r} is more than one identifier"
                 for code in re.findall(r"`([^`]*)`", hint) if not code.isidentifier()]
    for what, code in (("find", bug.find.strip()), ("replace", bug.replace.strip())):
        if code and code in hint:
            problems.append(f"it quotes the bug's {what} text {code!r}")
    problems += [f"it quotes the solution line {line!r}" for line in solution_lines if line in hint]
    return problems


@pytest.mark.parametrize(("nb", "bug"), _bugs())
def test_every_planted_bug_has_a_hint_that_does_not_give_the_answer(nb, bug):
    problems = hint_problems(bug, _solution_lines(nb, bug.cell))
    assert not problems, f"hint of the bug {bug.why!r} in {bug.cell!r}: {'; '.join(problems)}"
