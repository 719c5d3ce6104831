"""The `full` profile, every loop capped (CS182META_MAX_STEPS), every notebook end to end:
on glyphs through ``benchmarks/gpu_check.py --device cpu`` (the script a GPU check runs),
and on real Omniglot's small splits directly. ``-m "not full_smoke"`` leaves them out.

On this kit's 2-core CPU each notebook takes about 10-60 s (RESULTS.md). Two changes from
the full profile, for the CPU only: one thread (small networks on a busy 2-core machine
run many times faster on one), and notebook 03's meta-batch of 32 tasks becomes 2 (one
full-size second-order meta-step takes 8 s on one core, a Reptile step a minute; every
per-task shape stays the full profile's).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from autograder import sources

REPO = Path(__file__).resolve().parents[1]
SHARED_OMNIGLOT = REPO.parent / "shared" / "data" / "omniglot"  # the real small splits, where present
sys.path.insert(0, str(REPO / "benchmarks"))
import notebooks  # noqa: E402  (benchmarks/notebooks.py)

pytestmark = pytest.mark.full_smoke

CAP = 3
CPU_PARAMETERS = {"03_maml": {"META_BATCH": "2"}}
GPU_CHECK = REPO / "benchmarks" / "gpu_check.py"


def _environment() -> dict:
    path = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": path}


def _gpu_check(tmp_path, *arguments) -> tuple[dict, str]:
    out = tmp_path / "gpu_check.json"
    proc = subprocess.run(
        [sys.executable, str(GPU_CHECK), "--device", "cpu", "--json", str(out), *arguments],
        capture_output=True, text=True, env=_environment(), cwd=REPO,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-6000:]
    return json.loads(out.read_text()), proc.stdout


@pytest.mark.parametrize("name", sources.assignments())
def test_full_smoke_glyphs_through_gpu_check(name, tmp_path):
    overrides = [f"{name}:{k}={v}" for k, v in CPU_PARAMETERS.get(name, {}).items()]
    report, printed = _gpu_check(
        tmp_path, "--max-steps", str(CAP), "--notebooks", name, "--skip-maml-speed",
        *(f"--set={item}" for item in overrides),
    )
    (checked,) = report["notebooks"]
    assert checked["loops"], f"{name}: no loop went through cs182meta.evaluate.progress"
    for loop in checked["loops"]:
        assert loop["steps"] == min(CAP, loop["planned"]), loop  # capped, and every loop ended
        if loop["planned"] > loop["steps"]:  # cut short: the prediction adds the steps not run
            assert loop["uncapped_s"] > loop["total_s"], loop
    assert checked["uncapped_s"] > checked["wall_s"]
    assert f"| **{name}** | whole notebook:" in printed


def test_full_smoke_gpu_check_runs_maml_speed(tmp_path):
    report, printed = _gpu_check(
        tmp_path, "--notebooks", "--maml-speed-tasks", "2", "--maml-speed-repeats", "1",
        "--maml-speed-variants", "notebook-loop",
    )
    (row,) = report["maml_speed"]["rows"]
    assert row["variant"] == "notebook-loop" and row["seconds_per_step"] > 0
    assert "| maml_speed.py | notebook-loop |" in printed


@pytest.mark.parametrize("name", sources.assignments())
def test_full_smoke_omniglot(name):
    names = ("images_background_small1.zip", "images_background_small2.zip")
    if not all((SHARED_OMNIGLOT / n).is_file() for n in names):
        pytest.skip(f"real Omniglot small splits not found in {SHARED_OMNIGLOT}")
    env = {"CS182META_DATASET": "omniglot", "CS182META_OMNIGLOT": str(SHARED_OMNIGLOT),
           "CS182META_MAX_STEPS": str(CAP), "CS182META_DEVICE": "cpu",
           "CS182META_PROGRESS": "0", "OMP_NUM_THREADS": "1"}
    result = notebooks.run(name, "full", env=env, cell_timeout=300,
                           parameters=CPU_PARAMETERS.get(name))
    printed = "".join(
        output.get("text", "") for cell in result["notebook"].cells for output in cell.get("outputs", [])
    )
    assert f"profile: full (every loop capped at {CAP} steps by CS182META_MAX_STEPS) " \
           "| dataset: omniglot" in printed
