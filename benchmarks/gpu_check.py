"""The `full` profile on one device, cut short: per loop speed, memory, and the uncapped time.

Each notebook runs end to end under ``CS182META_PROFILE=full`` with every loop capped at
``--max-steps`` items (``CS182META_MAX_STEPS``) and timed (``CS182META_RUN_LOG``, see
:mod:`cs182meta.runlog`). For each loop it reports steps/s (after the first step), the
time to the first step, CUDA's peak memory, and the loop's extrapolated uncapped time;
for each notebook its wall time and the predicted time of the uncapped full profile
(every loop at its planned length, plus the notebook's time outside its loops). Then
``benchmarks/maml_speed.py`` runs on the same device. One Markdown table is printed and
everything is written to ``--json``.

On a GPU (the defaults, under 8 minutes on one H100)::

    python benchmarks/gpu_check.py --device cuda

On the CPU, as ``make test`` runs it (tests/test_full_smoke.py; a full-size meta-batch
of notebook 03 takes minutes on two cores, so the test shrinks it with ``--set``)::

    python benchmarks/gpu_check.py --device cpu --max-steps 3 --set 03_maml:META_BATCH=2 \
        --maml-speed-tasks 2 --maml-speed-repeats 1
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import notebooks  # noqa: E402  (benchmarks/notebooks.py)
from autograder import sources  # noqa: E402
from cs182meta import runlog  # noqa: E402
from cs182meta.settings import (  # noqa: E402
    DATASET_ENV,
    DEVICE_ENV,
    MAX_STEPS_ENV,
    PROGRESS_ENV,
    RUN_LOG_ENV,
)


def check_notebook(name: str, device: str, max_steps: int, dataset: str, cell_timeout: int,
                   parameters: dict[str, str] | None = None) -> dict:
    """Run ``name`` in the capped full profile (with ``parameters`` overridden); its wall
    time, loops and predicted total."""
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "run.jsonl"
        env = {DEVICE_ENV: device, MAX_STEPS_ENV: str(max_steps), RUN_LOG_ENV: str(log),
               DATASET_ENV: dataset, PROGRESS_ENV: "0"}
        result = notebooks.run(name, "full", env=env, cell_timeout=cell_timeout,
                               parameters=parameters)
        loops = runlog.read(log)
    for loop in loops:
        loop["seconds_per_step"] = runlog.seconds_per_step(loop)
        loop["uncapped_s"] = runlog.uncapped_seconds(loop)
    outside = result["wall_s"] - sum(loop["total_s"] for loop in loops)
    return {"name": name, "wall_s": result["wall_s"], "peak_rss_mb": result["peak_mb"],
            "outside_loops_s": outside, "loops": loops,
            "uncapped_s": outside + sum(loop["uncapped_s"] for loop in loops)}


def maml_speed(device: str, tasks: int, repeats: int, variants: list[str] | None) -> dict:
    """``benchmarks/maml_speed.py`` on ``device``: its report, and the rows of its table."""
    cmd = [sys.executable, str(REPO / "benchmarks" / "maml_speed.py"), "--device", device,
           "--tasks", str(tasks), "--repeats", str(repeats)]
    if variants:
        cmd += ["--variants", *variants]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - start
    rows, table = [], False
    for line in proc.stdout.splitlines():
        fields = line.split()
        if fields[:2] == ["variant", "s/step"]:
            table = True
        elif table and len(fields) >= 7 and fields[1] != "skipped:":
            try:
                rows.append({"variant": fields[0], "seconds_per_step": float(fields[1]),
                             "peak_mb": float(fields[-2])})
            except ValueError:
                pass  # a line that is not a variant's row
    return {"command": " ".join(cmd[1:]), "returncode": proc.returncode, "wall_s": wall,
            "stdout": proc.stdout, "stderr": proc.stderr[-4000:], "rows": rows}


def _seconds(value: float | None) -> str:
    return "–" if value is None else f"{value:.2f}"


def _duration(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 600 else f"{seconds / 3600:.1f} h"


def markdown(report: dict) -> str:
    """One table: a row per loop, a total row per notebook, a row per maml_speed variant."""
    changed = "; ".join(f"{name}: {', '.join(f'{k}={v}' for k, v in values.items())}"
                        for name, values in report["overrides"].items())
    lines = [
        f"device {report['device']}, loops capped at {report['max_steps']} steps, "
        f"dataset {report['dataset']}" + (f", parameters changed: {changed}" if changed else ""),
        "",
        "| notebook | loop | steps run / planned | first step (s) | steps/s | peak GPU MB "
        "| uncapped (predicted) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for nb in report["notebooks"]:
        for i, loop in enumerate(nb["loops"], 1):
            rate = loop["seconds_per_step"]
            peak = loop["peak_cuda_bytes"]
            lines.append(
                f"| {nb['name']} | {i}. {loop['desc']} | {loop['steps']} / {loop['planned']} "
                f"| {_seconds(loop['first_step_s'])} | {'–' if not rate else f'{1 / rate:.1f}'} "
                f"| {'–' if peak is None else f'{peak / 2**20:.0f}'} "
                f"| {_duration(loop['uncapped_s'])} |"
            )
        lines.append(
            f"| **{nb['name']}** | whole notebook: {nb['wall_s']:.0f} s run, "
            f"{nb['outside_loops_s']:.0f} s outside loops | | | | "
            f"| **{_duration(nb['uncapped_s'])}** |"
        )
    speed = report.get("maml_speed")
    if speed is not None:
        if speed["returncode"] != 0 or not speed["rows"]:
            lines.append(f"| maml_speed.py | failed (exit {speed['returncode']}) | | | | | |")
        for row in speed["rows"]:
            lines.append(
                f"| maml_speed.py | {row['variant']} | | | {1 / row['seconds_per_step']:.1f} "
                f"| {row['peak_mb']:.0f} | |"
            )
    total = sum(nb["uncapped_s"] for nb in report["notebooks"])
    lines += ["", f"this check: {report['wall_s']:.0f} s; the uncapped full profile, "
                  f"all notebooks: {_duration(total)} (predicted)"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:N or cpu")
    parser.add_argument("--max-steps", type=int, default=20,
                        help="items per loop (CS182META_MAX_STEPS; default 20)")
    parser.add_argument("--dataset", default="glyphs", help="glyphs (default) or omniglot")
    parser.add_argument("--notebooks", nargs="*", default=None,
                        help="default: all four; --notebooks alone: none")
    parser.add_argument("--set", action="append", default=[], metavar="NN_name:NAME=VALUE",
                        help="override a parameter of one notebook (a Python expression), "
                             "e.g. 03_maml:META_BATCH=2; predictions then hold for that size")
    parser.add_argument("--skip-maml-speed", action="store_true")
    parser.add_argument("--maml-speed-tasks", type=int, default=32)
    parser.add_argument("--maml-speed-repeats", type=int, default=5)
    parser.add_argument("--maml-speed-variants", nargs="*", default=None,
                        help="default: every variant maml_speed.py knows")
    parser.add_argument("--cell-timeout", type=int, default=300, help="seconds per cell")
    parser.add_argument("--json", default="build/gpu_check.json", help="where to write the report")
    args = parser.parse_args(argv)
    if args.max_steps < 1:
        parser.error("--max-steps must be a positive whole number")
    overrides: dict[str, dict[str, str]] = {}
    for item in args.set:
        name, _, assignment = item.partition(":")
        key, equals, value = assignment.partition("=")
        if not (name and key.strip().isidentifier() and equals and value.strip()):
            parser.error(f"--set {item!r}: expected NN_name:NAME=VALUE")
        overrides.setdefault(name, {})[key.strip()] = value.strip()

    start = time.perf_counter()
    report = {"device": args.device, "max_steps": args.max_steps, "dataset": args.dataset,
              "overrides": overrides, "notebooks": []}
    for name in sources.assignments() if args.notebooks is None else args.notebooks:
        report["notebooks"].append(check_notebook(
            name, args.device, args.max_steps, args.dataset, args.cell_timeout, overrides.get(name)))
    if not args.skip_maml_speed:
        report["maml_speed"] = maml_speed(args.device, args.maml_speed_tasks,
                                          args.maml_speed_repeats, args.maml_speed_variants)
    report["wall_s"] = time.perf_counter() - start
    print(markdown(report))
    out = Path(args.json)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=1) + "\n", encoding="utf-8")
    print(f"\nwritten: {out}")
    speed = report.get("maml_speed")
    return 1 if speed is not None and speed["returncode"] != 0 else 0


if __name__ == "__main__":
    sys.exit(main())
