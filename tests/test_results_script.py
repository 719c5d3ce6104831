"""benchmarks/results.py: runs a notebook as shipped and prints what its cells printed, with times."""

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "benchmarks" / "results.py"


def test_prints_each_cells_output_and_writes_json(tmp_path):
    out = tmp_path / "results.json"
    run = subprocess.run([sys.executable, str(SCRIPT), "00_episodes", "--profile", "grading", "--json", str(out)],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "profile grading, dataset glyphs" in run.stdout
    assert "## 00_episodes:" in run.stdout
    saved = json.loads(out.read_text())
    cells = saved["results"][0]["cells"]
    assert saved["dataset"] == "glyphs" and cells
    setup = next(c for c in cells if c["id"] == "setup")
    assert "profile: grading" in setup["stdout"]  # the notebook's banner, from its standard output
    assert f"[setup] {setup['seconds']:.1f} s" in run.stdout
    assert all("it/s" not in c["stdout"] for c in cells)  # progress bars (standard error) are left out


def test_unknown_notebook_is_a_clear_error():
    run = subprocess.run([sys.executable, str(SCRIPT), "04_nothing"], capture_output=True, text=True, timeout=120,
                         cwd=REPO)
    assert run.returncode == 2
    assert "no such notebook: 04_nothing" in run.stderr and "00_episodes" in run.stderr
