"""Execute one sanitized notebook: the only place student code runs.

``python -m autograder.sandbox NOTEBOOK OUT --cell-timeout S`` is started by
:mod:`autograder.isolated` in a throwaway folder holding nothing but the notebook (and a
private copy of the dataset cache). It runs every cell with nbgrader's ``Execute``
settings (a failing or timed-out cell records its error and the next cell runs), then
writes the executed notebook to ``OUT``. It never sees the course folder or the gradebook.

A test cell that never ran (the kernel died or was killed) gets an error output, so
nbgrader cannot mistake its silence for success.
"""

from __future__ import annotations

import argparse
import os
import sys

import nbformat
from nbclient.exceptions import DeadKernelError
from nbformat.v4 import new_output
from nbgrader.preprocessors import Execute

from autograder.nbgrader_api import is_test_cell


def error_output(name: str, message: str):
    return new_output("error", ename=name, evalue=message, traceback=[f"{name}: {message}"])


def has_error(cell) -> bool:
    return any(o.output_type == "error" for o in cell.get("outputs", []))


def execute(nb, cell_timeout: int):
    # nbgrader's Execute already records an error for a cell whose reply says "error"
    # even when the student switched the traceback display off.
    executor = Execute(timeout=cell_timeout, allow_errors=True)
    resources = {"metadata": {"path": os.getcwd()}}
    died = None
    try:
        executor.preprocess(nb, resources)
    except DeadKernelError as err:  # a crash, os._exit(), or the memory limit
        died = f"the kernel died ({err.__class__.__name__}); later cells did not run"
    except Exception as err:  # noqa: BLE001 — whatever happens, write what we have
        died = f"execution stopped: {err.__class__.__name__}: {err}"
    mark_unexecuted(nb, died or "this cell did not run")
    return nb


def mark_unexecuted(nb, reason: str) -> None:
    for cell in nb.cells:
        if is_test_cell(cell) and cell.get("execution_count") is None and not has_error(cell):
            cell.outputs = [error_output("NotExecuted", reason)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebook")
    parser.add_argument("out")
    parser.add_argument("--cell-timeout", type=int, required=True, help="seconds per cell")
    args = parser.parse_args(argv)
    nb = nbformat.read(args.notebook, as_version=4)
    os.environ["NBGRADER_EXECUTION"] = "autograde"
    nb = execute(nb, args.cell_timeout)
    nbformat.write(nb, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
