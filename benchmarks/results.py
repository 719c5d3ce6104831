"""Run source notebooks under a profile and a dataset; print what each cell printed, and its time.

This regenerates the accuracy tables of ``benchmarks/RESULTS.md`` with one command, from
the notebooks as shipped (no edits): for example

    python benchmarks/results.py 02_nonparametric --profile quick --dataset omniglot

runs notebook 02 in the quick profile on real Omniglot (background alphabets for
meta-training, the held-out evaluation alphabets for every number) and prints, per code
cell that printed something or took more than a second, its seconds and its standard
output (progress bars, which go to standard error, are left out). ``--json`` also writes
the same as a JSON file.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import notebooks  # noqa: E402  (benchmarks/notebooks.py)
from autograder import sources  # noqa: E402
from cs182meta.settings import CLASS_DATASETS, DATASET_ENV  # noqa: E402


def cell_seconds(cell) -> float:
    """Wall seconds of one executed cell, from the timestamps nbclient records."""
    timing = cell.get("metadata", {}).get("execution", {})
    try:
        start = datetime.fromisoformat(timing["iopub.execute_input"].replace("Z", "+00:00"))
        end = datetime.fromisoformat(timing["shell.execute_reply"].replace("Z", "+00:00"))
    except KeyError:
        return 0.0
    return (end - start).total_seconds()


def printed(cell) -> str:
    """What a code cell wrote to standard output."""
    return "".join(o.get("text", "") for o in cell.get("outputs", [])
                   if o.get("output_type") == "stream" and o.get("name") == "stdout").strip()


def cell_reports(nb, min_seconds: float = 1.0) -> list[dict]:
    """``[{"id", "seconds", "stdout"}]`` for the notebook's code cells that printed or took
    ``min_seconds``; ``nb`` as executed by :func:`notebooks.run`."""
    reports = []
    for cell in nb.cells[1:-1]:  # without the memory probes notebooks.run adds at both ends
        if cell.cell_type != "code" or not cell.get("id"):
            continue
        seconds, text = cell_seconds(cell), printed(cell)
        if text or seconds >= min_seconds:
            reports.append({"id": cell["id"], "seconds": round(seconds, 1), "stdout": text})
    return reports


def machine() -> str:
    """The CPU's model name (Linux) or architecture, and its core count."""
    cpuinfo = Path("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
              if line.startswith("model name")] if cpuinfo.exists() else []
    return f"{models[0] if models else platform.machine()}, {os.cpu_count()} CPU cores"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("notebooks", nargs="*", help="NN_name ... (default: every notebook)")
    parser.add_argument("--profile", default="quick", help="grading, quick or full (default quick)")
    parser.add_argument("--dataset", default="glyphs", choices=CLASS_DATASETS)
    parser.add_argument("--json", type=Path, help="also write the results to this file")
    args = parser.parse_args()
    names = args.notebooks or sources.assignments()
    unknown = sorted(set(names) - set(sources.assignments()))
    if unknown:
        parser.error(f"no such notebook: {', '.join(unknown)} (choose from {', '.join(sources.assignments())})")
    print(f"profile {args.profile}, dataset {args.dataset}, {machine()}, load {os.getloadavg()[0]:.1f}")
    results = []
    for name in names:
        run = notebooks.run(name, args.profile, env={DATASET_ENV: args.dataset})
        cells = cell_reports(run["notebook"])
        results.append({"notebook": name, "wall_s": round(run["wall_s"], 1), "cells": cells})
        print(f"\n## {name}: {run['wall_s']:.0f} s end to end, load {os.getloadavg()[0]:.1f}")
        for cell in cells:
            print(f"\n[{cell['id']}] {cell['seconds']:.1f} s")
            if cell["stdout"]:
                print(cell["stdout"])
    if args.json:
        args.json.write_text(json.dumps({"profile": args.profile, "dataset": args.dataset, "machine": machine(),
                                         "results": results}, indent=1))


if __name__ == "__main__":
    main()
