import subprocess
import sys

import autograder.__main__ as autograder_cli
from autograder import sources
from autograder.course import Course
from autograder.limits import Limits
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


def test_autograder_cli_defaults_are_the_grader_limits(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(autograder_cli, "autograde", lambda *a, **k: calls.append(a))
    monkeypatch.setattr(autograder_cli, "run_demo", lambda *a, **k: calls.append((a, k)))
    course = str(tmp_path / "course")
    assert autograder_cli.main(["--course", course, "autograde", "subs"]) == 0
    _, submissions, assignments, jobs, limits, replace, force, unconfined = calls[0]
    assert (submissions, jobs, limits, replace, force, unconfined) == (
        "subs", 1, Limits(), False, False, False)  # in the sandbox unless asked otherwise
    assert assignments == sources.assignments()
    assert autograder_cli.main(["demo", "--bugs", "per-exercise", "00_episodes"]) == 0
    assert calls[1][1] == {"bugs": "per-exercise", "unconfined": False}
    assert calls[1][0][1] == ["00_episodes"]
    assert autograder_cli.main(["demo"]) == 0
    assert calls[2][1] == {"bugs": "one", "unconfined": False}
    assert calls[2][0][1] == sources.assignments()
    assert autograder_cli.main(["demo", "no_such_notebook"]) == 1
    assert autograder_cli.main(["--course", course, "autograde", "subs", "--unconfined"]) == 0
    assert autograder_cli.main(["demo", "--unconfined"]) == 0
    assert calls[3][-1] is True and calls[4][1]["unconfined"] is True


def test_feedback_hides_hidden_tests_unless_asked(monkeypatch, tmp_path, capsys):
    calls = []
    monkeypatch.setattr(Course, "feedback",
                        lambda self, a, show_hidden=False, hints=True:
                        calls.append((a, show_hidden, hints)) or tmp_path)
    course = str(tmp_path / "course")
    assert autograder_cli.main(["--course", course, "feedback", "00_episodes"]) == 0
    assert autograder_cli.main(["--course", course, "feedback", "--show-hidden", "01_blackbox"]) == 0
    assert autograder_cli.main(["--course", course, "feedback", "--no-hints", "02_nonparametric"]) == 0
    assert calls == [("00_episodes", False, True), ("01_blackbox", True, True),
                     ("02_nonparametric", False, False)]
    assert "for instructors only" in capsys.readouterr().out
