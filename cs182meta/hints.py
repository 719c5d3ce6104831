"""Hints while students work: a failing visible test names the likely mistake.

Each released notebook comes with ``NN_name.hints.json`` beside it, written at release
from the planted bugs (``autograder/diagnosis.py``): for each visible test cell, the key
of its source (:func:`cell_key`) and the failures that planted bugs cause there, each
with the bug's one-line hint and the failures the same bug causes in the other visible
test cells. It holds nothing from hidden tests or solutions (the release's leak check
proves it).

:func:`install` (called by ``cs182meta.student`` when a test cell first uses ``student``
in a notebook) makes the kernel end the error of a failing test cell with
``Hint: ...`` when its normalised failure is one of those — running the cell, Restart &
Run All, or nbgrader's Validate alike. A mistake whose failure elsewhere disagrees with
what this kernel has already seen (that cell passed, or failed otherwise) is not
suggested. Hints are advice: a missing or unreadable file means no hint, never an error.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import linecache
from dataclasses import dataclass, field
from pathlib import Path

from cs182meta.failures import normalise

FORMAT = 1
SUFFIX = ".hints.json"
PREFIX = "Hint: "


def cell_key(source: str) -> str:
    """A short fingerprint of a cell's code, blind to trailing spaces and blank edges."""
    lines = [line.rstrip() for line in source.strip("\n").splitlines()]
    return hashlib.sha256("\n".join(lines).strip().encode()).hexdigest()[:16]


@dataclass(frozen=True)
class Entry:
    """One planted bug's failure in one visible test cell, and its hint."""

    failure: str
    hint: str
    elsewhere: tuple[tuple[str, str], ...]  # (other visible test cell, its failure)


@dataclass
class Hints:
    """The hints of the notebooks in one folder, and what this kernel has seen."""

    cells: dict[str, tuple[str, list[Entry]]] = field(default_factory=dict)  # key -> (cell, entries)
    seen: dict[str, str | None] = field(default_factory=dict)  # test cell -> failure, None: passed

    @classmethod
    def from_folder(cls, folder: Path) -> Hints:
        hints = cls()
        for path in sorted(Path(folder).glob(f"*{SUFFIX}")):
            try:
                hints.add(json.loads(path.read_text()))
            except (OSError, ValueError, KeyError, TypeError):
                continue  # advice only: a broken file gives no hints
        return hints

    def add(self, data: dict) -> None:
        if data.get("format") != FORMAT:
            return
        for cell, item in data["cells"].items():
            entries = [Entry(e["failure"], e["hint"], tuple(sorted(e["elsewhere"].items())))
                       for e in item["entries"]]
            self.cells[item["key"]] = (cell, entries)

    def cell_of(self, source: str) -> str | None:
        found = self.cells.get(cell_key(source))
        return found[0] if found else None

    def record(self, source: str, failure: str | None) -> None:
        """Remember how a visible test cell ended (``None``: it passed)."""
        cell = self.cell_of(source)
        if cell is not None:
            self.seen[cell] = failure

    def for_failure(self, source: str, failure: str) -> list[str]:
        """The hints for ``failure`` in the test cell of ``source``, each once, without
        those contradicted by what was seen in the other visible test cells."""
        found = self.cells.get(cell_key(source))
        if found is None:
            return []
        hints = []
        for entry in found[1]:
            if entry.failure != failure or entry.hint in hints:
                continue
            if any(cell in self.seen and self.seen[cell] != other for cell, other in entry.elsewhere):
                continue
            hints.append(entry.hint)
        return hints


def _cell_source(shell, tb) -> str | None:
    """The code of the notebook cell in a traceback (IPython keeps it in linecache)."""
    cells = getattr(shell.compile, "_filename_map", {})
    while tb is not None:
        filename = tb.tb_frame.f_code.co_filename
        if filename in cells:
            return "".join(linecache.getlines(filename)) or None
        tb = tb.tb_next
    return None


def _with_hints(value: BaseException, hints: list[str]) -> None:
    """Append the hints to ``value``'s message, where the error output shows it."""
    text = "\n\n" + "\n".join(PREFIX + hint for hint in hints)
    if len(value.args) == 1 and isinstance(value.args[0], str):
        value.args = (value.args[0] + text,)
    elif not value.args:
        value.args = (text.strip(),)


_installed: Hints | None = None


def install(shell=None, folder: Path | None = None) -> Hints | None:
    """Show hints in this IPython kernel (once; nothing outside IPython or without a
    hints file in ``folder``, the kernel's working directory by default)."""
    global _installed
    shell = shell or getattr(builtins, "get_ipython", lambda: None)()
    if shell is None or _installed is not None:
        return _installed
    hints = Hints.from_folder(folder or Path.cwd())
    if not hints.cells:
        return None
    _installed = hints

    def on_error(self, etype, value, tb, tb_offset=None):
        try:
            source = _cell_source(self, tb)
            if source is not None and hints.cell_of(source) is not None:
                failure = normalise(etype.__name__, str(value))
                hints.record(source, failure)
                found = hints.for_failure(source, failure)
                if found:
                    _with_hints(value, found)
        except Exception:  # noqa: BLE001, S110 — a hint must never hide the student's error
            pass
        return self.showtraceback((etype, value, tb), tb_offset=tb_offset)

    def after_cell(result) -> None:
        if result.success:
            hints.record(result.info.raw_cell, None)

    shell.set_custom_exc((Exception,), on_error)
    shell.events.register("post_run_cell", after_cell)
    return hints


def uninstall(shell) -> None:
    """Undo :func:`install` (tests)."""
    global _installed
    if _installed is not None:
        shell.set_custom_exc((), None)
        for callback in list(shell.events.callbacks["post_run_cell"]):
            if getattr(callback, "__name__", "") == "after_cell":
                shell.events.unregister("post_run_cell", callback)
    _installed = None
