"""Run each source notebook in a profile; print wall time and the kernel's memory growth.

Targets (grading profile, 2 CPU cores): <= 120 s per notebook end to end, and the
kernel's peak RSS <= 512 MB above its RSS right after ``import torch, torchvision``.

Run: ``python benchmarks/notebooks.py [--profile grading] [NN_name ...]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
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


def run(name: str, profile: str) -> dict:
    nb = nbformat.read(sources.NOTEBOOKS / f"{name}.ipynb", 4)
    nb.cells = [BASELINE, *nb.cells, PEAK]
    os.environ[PROFILE_ENV] = profile
    client = NotebookClient(nb, timeout=1800, kernel_name="python3",
                            resources={"metadata": {"path": str(sources.NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute()
    wall = time.perf_counter() - start
    baseline, peak = _value(nb.cells[0], "RSS_MB"), _value(nb.cells[-1], "PEAK_MB")
    return {"name": name, "wall_s": wall, "baseline_mb": baseline, "peak_mb": peak,
            "growth_mb": peak - baseline}


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
