import subprocess
import sys

from cs182meta.__main__ import main


def test_info_prints_device_and_datasets(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "torch " in out and "glyphs" in out and "omniglot" in out and "sinusoid" in out


def test_module_entry_point_runs():
    done = subprocess.run(
        [sys.executable, "-m", "cs182meta", "--help"], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0 and "info" in done.stdout
