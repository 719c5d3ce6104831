"""What the kit knows about nbgrader, in one place: the gradebook, the course config,
cell kinds, the autograde preprocessors, and validation.

``python -m autograder.nbgrader_api validate NOTEBOOK RESULTS [--invert]`` runs nbgrader's
``Validator`` with the course config of the working directory and writes its result
(see :func:`validate`) as JSON to ``RESULTS``; :class:`autograder.course.Course` runs it
like the nbgrader command line, in the course folder.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import textwrap
from pathlib import Path

from nbconvert.filters import strip_ansi
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.converters import Autograde
from nbgrader.coursedir import CourseDirectory
from nbgrader.validator import Validator
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from autograder.limits import Limits

CONFIG_FILE = "nbgrader_config.py"
# The kit's config: every course folder gets it (course_config_text).
KIT_CONFIG = Path(__file__).with_name(CONFIG_FILE)
# In KIT_CONFIG, what course_config_text writes in its place: the course's copy then loads
# without the autograder package (nbgrader may run where it is not importable).
_RENDERED = (("from autograder.limits import Limits\n", lambda: ""),
             ("Limits().cell_s", lambda: repr(Limits().cell_s)))


def gradebook_url(root: Path | str) -> str:
    """The gradebook of the course folder ``root``, as nbgrader finds it by default."""
    return CourseDirectory(root=str(Path(root).resolve())).db_url


def course_config(root: Path | str) -> Config:
    """The course folder's ``nbgrader_config.py`` (empty without one, as for nbgrader)."""
    if not (Path(root) / CONFIG_FILE).exists():
        return Config()
    return PyFileConfigLoader(CONFIG_FILE, path=str(root)).load_config()


def course_config_text() -> str:
    """The text of a course folder's ``nbgrader_config.py``: :data:`KIT_CONFIG` with the
    values of :mod:`autograder.limits` written in (``Execute.timeout`` is
    ``Limits().cell_s``), so that it loads without the ``autograder`` package."""
    text = KIT_CONFIG.read_text()
    for template, value in _RENDERED:
        if text.count(template) != 1:
            raise RuntimeError(f"{KIT_CONFIG} must hold {template!r} exactly once")
        text = text.replace(template, value())
    if re.search(r"^\s*(from|import)\s+autograder\b", text, re.M):
        raise RuntimeError(f"{KIT_CONFIG} imports from autograder: a course could not load it")
    return text


def grade_id(cell) -> str | None:
    """The cell's nbgrader id, or ``None`` (a plain dict cell is enough)."""
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


def is_test_cell(cell) -> bool:
    """An autograded test cell: graded code that the student does not write (a plain dict
    cell is enough)."""
    node = NotebookNode(cell_type=cell.get("cell_type"), metadata=cell.get("metadata", {}))
    return node.cell_type == "code" and bool(utils.is_grade(node)) and not utils.is_solution(node)


# ---------------------------------------------------------------------- autograde
def autograde_preprocessors(config: Config) -> tuple[list[type], list[type]]:
    """The preprocessor classes of nbgrader's ``autograde`` as configured:
    ``(sanitize, autograde)`` — the second list executes the notebook and scores it."""
    converter = Autograde(config=config)
    return list(converter.sanitize_preprocessors), list(converter.autograde_preprocessors)


def run_preprocessors(preprocessors, nb, resources):
    """Apply each one in turn as nbgrader's exporter does (a disabled one does nothing);
    return the notebook."""
    for preprocessor in preprocessors:
        nb, resources = preprocessor(nb, resources)
    return nb


# ---------------------------------------------------------------------- validate
def validate(notebook: Path | str, config: Config, invert: bool = False) -> dict:
    """nbgrader's ``Validator`` on ``notebook`` (it runs the notebook). ``{}`` if it passes
    — with ``invert``: if no test passes; otherwise the cells at fault, under
    ``failed`` / ``passed`` / ``changed`` / ``type_changed``."""
    return Validator(config=config, invert=invert).validate(str(Path(notebook).resolve()))


def describe_validation(results: dict) -> str:
    """The cells at fault in :func:`validate`'s result, one block each."""

    def block(title: str, source: str, error: str = "") -> str:
        text = f"{title}\n\n{textwrap.indent(source, '    ')}\n"
        error = textwrap.indent(strip_ansi(error), "    ")
        return text + (f"\nThe error was:\n\n{error}\n" if error else "")

    blocks = [block(f"The following {c['old_type']} cell has changed to a {c['new_type']} cell:",
                    c["source"]) for c in results.get("type_changed", [])]
    blocks += [block("The following cell has changed:", c["source"])
               for c in results.get("changed", [])]
    blocks += [block("The following cell failed:", c["source"], c["raw_error"])
               for c in results.get("failed", [])]
    blocks += [block("The following cell passed:", c["source"]) for c in results.get("passed", [])]
    blocks += [f"{key}: {json.dumps(value)}" for key, value in results.items()
               if key not in ("type_changed", "changed", "failed", "passed")]
    return "\n".join(blocks)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="nbgrader's Validator, with JSON results.")
    parser.add_argument("command", choices=["validate"])
    parser.add_argument("notebook")
    parser.add_argument("results")
    parser.add_argument("--invert", action="store_true")
    args = parser.parse_args(argv)
    results = validate(args.notebook, course_config(Path.cwd()), invert=args.invert)
    Path(args.results).write_text(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
