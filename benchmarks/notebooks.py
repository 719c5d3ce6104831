"""Run each source notebook in a profile; print wall time and the kernel's memory growth.

Targets (grading profile, 2 CPU cores): <= 120 s per notebook end to end, and the
kernel's peak RSS <= 512 MB above its RSS right after ``import torch, torchvision``.

Run: ``python benchmarks/notebooks.py [--profile grading] [NN_name ...]``.
:func:`run` is also how ``benchmarks/gpu_check.py`` and the full-profile smoke tests run a
notebook.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbformat.v4 import new_code_cell

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder import sources  # noqa: E402
from cs182meta.settings import PROFILE_ENV  # noqa: E402

BASELINE = new_code_cell(
    "import resource as _r, torch as _t, torchvision as _tv\n"
    "print('RSS_MB', int(open('/proc/self/statm').read().split()[1]) * "
    "__import__('os').sysconf('SC_PAGE_SIZE') / 2**20)"
)
PEAK = new_code_cell(
    "import resource as _r\nprint('PEAK_MB', _r.getrusage(_r.RUSAGE_SELF).ru_maxrss / 1024)"
)


def _value(cell, key: str) -> float:
    text = "".join(o.get("text", "") for o in cell.outputs if o.output_type == "stream")
    return float(text.split(key, 1)[1].split()[0])


@contextlib.contextmanager
def _environment(overrides: Mapping[str, str]) -> Iterator[None]:
    """``os.environ`` with ``overrides`` (which the kernel inherits), restored afterwards."""
    saved = {key: os.environ.get(key) for key in overrides}
    os.environ.update(overrides)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _with_parameters(cells: list, parameters: Mapping[str, str]) -> list:
    """``cells`` with a cell after the ``parameters`` cell that sets ``NAME = value`` (each
    value a Python expression), as papermill injects parameters."""
    index = next(i for i, cell in enumerate(cells) if cell.get("id") == "parameters")
    injected = new_code_cell("\n".join(f"{key} = {value}" for key, value in parameters.items()))
    return [*cells[: index + 1], injected, *cells[index + 1 :]]


def run(name: str, profile: str, env: Mapping[str, str] | None = None,
        cell_timeout: int = 1800, parameters: Mapping[str, str] | None = None) -> dict:
    """Execute notebook ``name`` in ``profile`` (a kernel with this checkout's package on
    its path and ``env`` added to its environment); its wall time and memory.

    ``parameters`` (``{"META_BATCH": "2"}``) override values of the parameters cell.
    Raises ``nbclient.exceptions.CellExecutionError`` (with the cell's traceback) when a
    cell fails.
    """
    nb = nbformat.read(sources.NOTEBOOKS / f"{name}.ipynb", 4)
    cells = _with_parameters(nb.cells, parameters) if parameters else nb.cells
    nb.cells = [BASELINE, *cells, PEAK]
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    client = NotebookClient(nb, timeout=cell_timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(sources.NOTEBOOKS)}})
    with _environment({PROFILE_ENV: profile, "PYTHONPATH": path, **(env or {})}):
        start = time.perf_counter()
        client.execute()
        wall = time.perf_counter() - start
    baseline, peak = _value(nb.cells[0], "RSS_MB"), _value(nb.cells[-1], "PEAK_MB")
    return {"name": name, "wall_s": wall, "baseline_mb": baseline, "peak_mb": peak,
            "growth_mb": peak - baseline, "notebook": nb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("notebooks", nargs="*")
    parser.add_argument("--profile", default="grading")
    args = parser.parse_args()
    names = args.notebooks or sources.assignments()
    print(f"profile {args.profile}, {os.cpu_count()} CPU cores\n")
    print("| notebook | wall time (s) | RSS after import torch (MB) | peak RSS (MB) | growth (MB) |")
    print("| --- | --- | --- | --- | --- |")
    for name in names:
        r = run(name, args.profile)
        print(f"| {name} | {r['wall_s']:.1f} | {r['baseline_mb']:.0f} | {r['peak_mb']:.0f} "
              f"| {r['growth_mb']:.0f} |")


if __name__ == "__main__":
    main()
