"""The written answers of a notebook, in order: what the Gradescope PDF shows.

A written answer is a markdown cell that nbgrader grades by hand (``solution`` and
``grade`` in its metadata); its question is the markdown cell just above it. The release
puts "YOUR ANSWER HERE" where the student writes; an answer left so is blank.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

STUB = "YOUR ANSWER HERE"


@dataclass(frozen=True)
class WrittenAnswer:
    grade_id: str
    question: str  # the question's markdown
    points: float
    text: str  # the student's markdown; "" when blank

    @property
    def blank(self) -> bool:
        return not self.text.strip()


class NotebookError(ValueError):
    """A notebook that cannot be read as one."""


def read_notebook(path: Path) -> dict:
    """The notebook at ``path`` as JSON; :class:`NotebookError` naming the file and the
    cause if it is missing or not a notebook."""
    try:
        nb = json.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise NotebookError(f"{path}: no such file") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise NotebookError(f"{path} is not a notebook (invalid JSON: {err})") from None
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        raise NotebookError(f"{path} is not a notebook (no list of cells)")
    return nb


def _text(cell: dict) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else str(source)


def written_answers(nb: dict) -> list[WrittenAnswer]:
    """Every written answer of ``nb`` (a notebook as JSON), in the notebook's order."""
    answers, previous = [], None
    for cell in nb["cells"]:
        meta = (cell.get("metadata") or {}).get("nbgrader") or {}
        if cell.get("cell_type") == "markdown" and meta.get("solution") and meta.get("grade"):
            question = _text(previous) if previous is not None and previous.get("cell_type") == "markdown" else ""
            text = _text(cell).strip()
            answers.append(WrittenAnswer(str(meta.get("grade_id", f"answer {len(answers) + 1}")),
                                         question.strip(), float(meta.get("points", 0)),
                                         "" if text == STUB else text))
        previous = cell
    return answers
