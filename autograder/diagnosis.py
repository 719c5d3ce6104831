"""Likely misconceptions: which planted bug a failing submission's failures look like.

Every exercise comes with planted bugs (``notebooks/src/NN_name.bugs.py``), and grading
them as submissions shows which test cells each one fails, with which messages. That
**signature** — ``{test cell: "ExceptionType: normalised message"}`` — is recorded once
(``python -m autograder misconceptions``, into ``notebooks/src/NN_name.signatures.json``;
the grading pipeline test fails when it is stale) and copied into the course folder at
release time (``<course>/misconceptions/NN_name.json``, next to, never inside, what
students receive), so diagnosing a class never re-runs anything.

A submission has a planted bug's misconception when every failure of the bug's signature
is among its own failures; of the bugs that match, one whose signature is part of another
matched bug's is dropped (the larger one explains it). Bugs with the same signature cannot
be told apart: they form one :class:`Misconception` with one hint.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from autograder import sources
from autograder.authoring import PlantedBug
from autograder.nbgrader_api import grade_id, is_test_cell
from cs182meta.failures import normalise
from cs182meta.hints import FORMAT as HINTS_FORMAT
from cs182meta.hints import cell_key

FORMAT = 1
NOT_ATTEMPTED = "NotImplementedError"  # the release's stub raises it
STDERR_FAILURE = "wrote to stderr"


def cell_failure(cell) -> str | None:
    """The normalised failure of one executed test cell, or ``None`` if it passed."""
    errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
    if errors:
        return normalise(errors[0].get("ename", "Error"), errors[0].get("evalue", ""))
    if any(o.get("output_type") == "stream" and o.get("name") == "stderr"
           for o in cell.get("outputs", [])):
        return STDERR_FAILURE
    return None


def failures(nb) -> dict[str, str]:
    """``{test cell grade id: normalised failure}`` of an autograded notebook (a plain
    dict, as ``json.load`` gives it, is enough)."""
    found = {}
    for cell in nb["cells"]:
        if is_test_cell(cell):
            failure = cell_failure(cell)
            if failure is not None:
                found[grade_id(cell)] = failure
    return found


def not_attempted(failure: str) -> bool:
    return failure.startswith(NOT_ATTEMPTED)


# ---------------------------------------------------------------------- the catalogue
def bug_key(bug: PlantedBug) -> str:
    """A short fingerprint of a planted bug's edit: a changed bug needs a new signature."""
    return hashlib.sha1(f"{bug.cell}\0{bug.find}\0{bug.replace}".encode()).hexdigest()[:12]


@dataclass(frozen=True)
class Misconception:
    """One or more planted bugs whose failures look the same."""

    bugs: tuple[int, ...]  # planted bug numbers, from 1, as in ``bug-<n>`` samples
    whys: tuple[str, ...]
    hint: str
    signature: tuple[tuple[str, str], ...]  # sorted (test cell, normalised failure)

    @property
    def label(self) -> str:
        """The instructor's name for it: the ``why`` (several, when bugs share it)."""
        return " / ".join(dict.fromkeys(self.whys))

    def cells(self) -> set[str]:
        return {cell for cell, _ in self.signature}


@dataclass
class Catalogue:
    """The misconceptions of one assignment (the planted bugs, grouped by signature)."""

    assignment: str
    misconceptions: list[Misconception]

    @classmethod
    def from_bugs(cls, assignment: str, bugs: list[PlantedBug],
                  signatures: dict[int, dict[str, str]]) -> Catalogue:
        """Group ``bugs`` (numbered from 1) by their ``signatures``; a bug with an empty
        signature (it failed nothing) is left out."""
        groups: dict[tuple, list[int]] = {}
        for number in sorted(signatures):
            signature = tuple(sorted(signatures[number].items()))
            if signature:
                groups.setdefault(signature, []).append(number)
        return cls(assignment, [
            Misconception(tuple(numbers), tuple(bugs[n - 1].why for n in numbers),
                          bugs[numbers[0] - 1].hint, signature)
            for signature, numbers in groups.items()
        ])

    def diagnose(self, found: dict[str, str]) -> list[Misconception]:
        """The misconceptions whose signature is part of the failures ``found``
        (:func:`failures`), without those that another match contains."""
        failed = set(found.items())
        matched = [m for m in self.misconceptions if set(m.signature) <= failed]
        return [m for m in matched
                if not any(set(m.signature) < set(other.signature) for other in matched)]

    def hints(self, found: dict[str, str]) -> dict[str, list[str]]:
        """``{test cell: hints}``: each diagnosed misconception's hint, under each of
        its failing cells (each hint once per cell)."""
        hints: dict[str, list[str]] = {}
        for misconception in self.diagnose(found):
            for cell in sorted(misconception.cells()):
                if misconception.hint and misconception.hint not in hints.get(cell, []):
                    hints.setdefault(cell, []).append(misconception.hint)
        return hints

    def unrecognised(self, found: dict[str, str]) -> dict[str, str]:
        """The failures of ``found`` that no diagnosed misconception explains, other
        than exercises left blank."""
        explained = {item for m in self.diagnose(found) for item in m.signature}
        return {cell: failure for cell, failure in found.items()
                if (cell, failure) not in explained and not not_attempted(failure)}

    # ------------------------------------------------------------------ files
    def to_json(self) -> dict:
        return {"format": FORMAT, "assignment": self.assignment, "misconceptions": [
            {"bugs": list(m.bugs), "whys": list(m.whys), "hint": m.hint,
             "signature": dict(m.signature)} for m in self.misconceptions]}

    @classmethod
    def from_json(cls, data: dict) -> Catalogue:
        if data.get("format") != FORMAT:
            raise ValueError(f"misconception file format {data.get('format')!r}, "
                             f"expected {FORMAT}")
        return cls(data["assignment"], [
            Misconception(tuple(m["bugs"]), tuple(m["whys"]), m["hint"],
                          tuple(sorted(m["signature"].items())))
            for m in data["misconceptions"]])

    def save(self, path: Path) -> Path:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_json(), indent=1, sort_keys=True) + "\n")
        return path

    @classmethod
    def load(cls, path: Path) -> Catalogue:
        return cls.from_json(json.loads(Path(path).read_text()))


# ---------------------------------------------------------------------- recorded signatures
def signatures_path(assignment: str) -> Path:
    """The committed signatures of ``assignment``'s planted bugs."""
    return sources.SOURCES / f"{assignment}.signatures.json"


def signatures_file(bugs: list[PlantedBug], signatures: dict[int, dict[str, str]],
                    visible: dict[int, dict[str, str]], visible_sources: dict[str, str]) -> dict:
    """What ``signatures_path`` holds: per bug, its cell, why, fingerprint, signature (the
    graded failures) and visible signature (the failures of the visible tests alone, as the
    student's notebook shows them); and the key of each visible test cell's source."""
    return {"format": FORMAT, "visible_sources": visible_sources, "bugs": [
        {"number": n, "cell": bugs[n - 1].cell, "why": bugs[n - 1].why,
         "key": bug_key(bugs[n - 1]), "signature": signatures[n], "visible": visible.get(n, {})}
        for n in sorted(signatures)]}


def write_signatures(assignment: str, signatures: dict[int, dict[str, str]],
                     visible: dict[int, dict[str, str]], visible_sources: dict[str, str]) -> Path:
    path = signatures_path(assignment)
    data = signatures_file(sources.planted_bugs(assignment), signatures, visible, visible_sources)
    path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")
    return path


class StaleSignatures(ValueError):
    """The committed signatures do not describe the current planted bugs."""


def _recorded(assignment: str) -> dict:
    """The committed signatures of ``assignment``; raise :class:`StaleSignatures` if a
    planted bug changed since they were recorded."""
    path = signatures_path(assignment)
    redo = f"run `python -m autograder misconceptions {assignment}` and commit {path.name}"
    if not path.exists():
        raise StaleSignatures(f"{path.name} is missing: {redo}")
    recorded = json.loads(path.read_text())
    entries = recorded.get("bugs", []) if recorded.get("format") == FORMAT else None
    if entries is None or [e["key"] for e in entries] != [bug_key(b) for b in sources.planted_bugs(assignment)]:
        raise StaleSignatures(f"{path.name} does not match the planted bugs of "
                              f"{assignment} (added, removed or edited since): {redo}")
    return recorded


def catalogue(assignment: str) -> Catalogue:
    """The assignment's catalogue from the committed signatures and today's planted bugs
    (their whys and hints); raise :class:`StaleSignatures` if a bug changed since."""
    entries = _recorded(assignment)["bugs"]
    return Catalogue.from_bugs(assignment, sources.planted_bugs(assignment),
                               {e["number"]: e["signature"] for e in entries})


def student_hints(assignment: str, release_nb) -> dict:
    """What the release's ``NN_name.hints.json`` holds (:mod:`cs182meta.hints`): per
    visible test cell of ``release_nb``, the key of its source and each planted bug's
    failure there with the bug's hint and its failures in the other visible cells. Raise
    :class:`StaleSignatures` if a bug or a visible test changed since the recording."""
    recorded = _recorded(assignment)
    keys = recorded.get("visible_sources", {})
    released = {grade_id(c): cell_key(c.source) for c in release_nb.cells if is_test_cell(c)}
    changed = sorted(cell for cell, key in keys.items() if released.get(cell) != key)
    if not keys or changed:
        raise StaleSignatures(f"the visible tests {changed or 'of every cell'} of {assignment} changed since "
                              f"the hints were recorded: run `python -m autograder misconceptions "
                              f"{assignment}` and commit {signatures_path(assignment).name}")
    bugs = sources.planted_bugs(assignment)
    cells: dict[str, dict] = {}
    for entry in recorded["bugs"]:
        visible, hint = entry.get("visible", {}), bugs[entry["number"] - 1].hint
        for cell, failure in sorted(visible.items()):
            item = cells.setdefault(cell, {"key": keys[cell], "entries": []})
            new = {"failure": failure, "hint": hint,
                   "elsewhere": {c: f for c, f in visible.items() if c != cell}}
            if new not in item["entries"]:
                item["entries"].append(new)
    return {"format": HINTS_FORMAT, "assignment": assignment, "cells": cells}
