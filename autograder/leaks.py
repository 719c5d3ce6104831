"""The leak check: nothing secret from a source notebook may reach the student release.

Secret = solution code and model answers (between ``### BEGIN/END SOLUTION``), hidden
tests (between ``### BEGIN/END HIDDEN TESTS``), and stored outputs of any cell.
"""

from __future__ import annotations

import re

from autograder.nbgrader_api import grade_id

MARKERS = ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS")
_REGION = re.compile(
    r"### BEGIN (SOLUTION|HIDDEN TESTS)\n(.*?)### END \1", re.DOTALL
)


def _secret_and_public_lines(source_nb) -> tuple[set[str], set[str]]:
    secret, public = set(), set()
    for cell in source_nb.cells:
        text = cell.source if cell.source.endswith("\n") else cell.source + "\n"
        for match in _REGION.finditer(text):
            secret.update(line.strip() for line in match.group(2).splitlines())
        public.update(line.strip() for line in _REGION.sub("", text).splitlines())
    # A line that also stands outside every secret region (an import, a blank line,
    # `return model.eval()`) gives nothing away.
    return {line for line in secret - public if len(line) >= 6}, public


def find_leaks(source_nb, release_nb) -> list[str]:
    """Every way ``release_nb`` gives away a secret of ``source_nb``; empty if none."""
    secret, _ = _secret_and_public_lines(source_nb)
    problems = []
    for index, cell in enumerate(release_nb.cells):
        where = f"cell {index} ({grade_id(cell) or cell.cell_type})"
        for marker in MARKERS:
            if marker in cell.source:
                problems.append(f"{where}: contains the marker '### {marker}'")
        for line in cell.source.splitlines():
            if line.strip() in secret:
                problems.append(f"{where}: contains secret line {line.strip()!r}")
        if cell.cell_type == "code" and (cell.get("outputs") or cell.get("execution_count")):
            problems.append(f"{where}: has stored outputs or an execution count")
        if cell.get("attachments"):
            problems.append(f"{where}: has attachments")
    return problems
