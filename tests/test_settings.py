"""cs182meta.settings: each CS182META_* variable's default, an override, and its errors;
the environment release validation and grading execute notebooks under."""

from pathlib import Path

import pytest
import torch

from cs182meta import settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for variable in (*settings.VARIABLES, "NBGRADER_EXECUTION", "XDG_CACHE_HOME"):
        monkeypatch.delenv(variable, raising=False)


def test_profile(monkeypatch):
    assert settings.profile() is None
    monkeypatch.setenv("CS182META_PROFILE", " Full ")
    assert settings.profile() == "full"
    monkeypatch.setenv("CS182META_PROFILE", "fast")
    with pytest.raises(ValueError, match="CS182META_PROFILE='fast'.*grading, quick, full"):
        settings.profile()


def test_profile_is_grading_under_nbgrader_whatever_is_set(monkeypatch):
    from cs182meta.profiles import current_profile

    monkeypatch.setenv("CS182META_PROFILE", "full")
    assert current_profile() == "full"
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    assert current_profile() == "grading"


def test_dataset(monkeypatch):
    assert settings.dataset() == "glyphs"
    monkeypatch.setenv("CS182META_DATASET", "Omniglot")
    assert settings.dataset() == "omniglot"
    for bad in ("imagenet", "sinusoid"):  # sinusoid has no classes to switch a notebook to
        monkeypatch.setenv("CS182META_DATASET", bad)
        with pytest.raises(ValueError, match=f"CS182META_DATASET='{bad}'.*glyphs, omniglot"):
            settings.dataset()


def test_device(monkeypatch):
    from cs182meta.device import requested_device

    assert settings.device_name() is None
    assert requested_device() is None
    monkeypatch.setenv("CS182META_DEVICE", " cpu ")
    assert settings.device_name() == "cpu"
    assert requested_device() == torch.device("cpu")
    monkeypatch.setenv("CS182META_DEVICE", "gpu-please")
    assert settings.device_name() == "gpu-please"  # settings reads; the device module checks
    with pytest.raises(RuntimeError, match="CS182META_DEVICE='gpu-please'.*not a device name"):
        requested_device()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_absent_device_says_so(monkeypatch):
    from cs182meta.device import requested_device

    monkeypatch.setenv("CS182META_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA GPU.*Unset CS182META_DEVICE"):
        requested_device()


def test_omniglot_folder(monkeypatch, tmp_path):
    assert settings.omniglot_folder() is None
    monkeypatch.setenv("CS182META_OMNIGLOT", str(tmp_path))
    assert settings.omniglot_folder() == tmp_path


def test_cache_folder(monkeypatch, tmp_path):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert settings.cache_folder() == tmp_path / "home/.cache/cs182meta"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert settings.cache_folder() == tmp_path / "xdg/cs182meta"
    monkeypatch.setenv("CS182META_CACHE", str(tmp_path / "mine"))
    assert settings.cache_folder() == tmp_path / "mine"


def test_omniglot_is_looked_for_in_the_cache_folder(monkeypatch, tmp_path):
    from cs182meta.data.omniglot import search_places

    monkeypatch.setenv("CS182META_CACHE", str(tmp_path / "mine"))
    assert tmp_path / "mine/omniglot" in search_places()
    assert Path.home() / ".cache/cs182meta/omniglot" not in search_places()


def test_progress(monkeypatch):
    assert settings.progress() is True
    for value, on in (("0", False), ("off", False), ("No", False), ("1", True), ("yes", True)):
        monkeypatch.setenv("CS182META_PROGRESS", value)
        assert settings.progress() is on
    monkeypatch.setenv("CS182META_PROGRESS", "maybe")
    with pytest.raises(ValueError, match="CS182META_PROGRESS='maybe'.*use 0"):
        settings.progress()


def test_max_steps(monkeypatch):
    assert settings.max_steps() is None
    monkeypatch.setenv("CS182META_MAX_STEPS", " 3 ")
    assert settings.max_steps() == 3
    for bad in ("0", "-2", "2.5", "three"):
        monkeypatch.setenv("CS182META_MAX_STEPS", bad)
        with pytest.raises(ValueError, match=f"CS182META_MAX_STEPS='{bad}' is not a positive whole"):
            settings.max_steps()


def test_run_log(monkeypatch, tmp_path):
    assert settings.run_log() is None
    monkeypatch.setenv("CS182META_RUN_LOG", str(tmp_path / "run.jsonl"))
    assert settings.run_log() == tmp_path / "run.jsonl"


def test_is_set(monkeypatch):
    assert not settings.is_set("CS182META_DATASET")
    monkeypatch.setenv("CS182META_DATASET", "  ")
    assert not settings.is_set("CS182META_DATASET")
    monkeypatch.setenv("CS182META_DATASET", "glyphs")
    assert settings.is_set("CS182META_DATASET")


def test_effective_lists_every_variable_and_its_source(monkeypatch, tmp_path):
    from cs182meta.__main__ import effective

    monkeypatch.setenv("CS182META_CACHE", str(tmp_path))
    monkeypatch.setenv("CS182META_PROGRESS", "0")
    rows = {s.variable: s for s in effective()}
    assert list(rows) == list(settings.VARIABLES)
    assert (rows["CS182META_CACHE"].value, rows["CS182META_CACHE"].source) == (
        str(tmp_path), "environment")
    assert (rows["CS182META_PROGRESS"].value, rows["CS182META_PROGRESS"].source) == (
        "off", "environment")
    assert (rows["CS182META_DATASET"].value, rows["CS182META_DATASET"].source) == (
        "glyphs", "default")
    assert (rows["CS182META_MAX_STEPS"].value, rows["CS182META_MAX_STEPS"].source) == (
        "(no cap)", "default")


def test_info_prints_the_settings_or_the_bad_one(monkeypatch, capsys):
    from cs182meta.__main__ import main

    monkeypatch.setenv("CS182META_DATASET", "omniglot")
    assert main(["info"]) == 0
    monkeypatch.setenv("CS182META_MAX_STEPS", "4")
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    assert "CS182META_DATASET    omniglot  (environment)" in out
    assert "CS182META_MAX_STEPS  4  (environment)" in out
    monkeypatch.setenv("CS182META_MAX_STEPS", "none")
    assert main(["info"]) == 2
    assert "CS182META_MAX_STEPS='none'" in capsys.readouterr().err
    monkeypatch.delenv("CS182META_MAX_STEPS")
    monkeypatch.setenv("CS182META_PROFILE", "fast")
    assert main(["info"]) == 2
    assert "CS182META_PROFILE='fast'" in capsys.readouterr().err


def test_grading_environment_keeps_only_the_cache():
    instructor = {"PATH": "/bin", "CS182META_PROFILE": "full", "CS182META_DATASET": "omniglot",
                  "CS182META_OMNIGLOT": "/data", "CS182META_DEVICE": "cuda",
                  "CS182META_PROGRESS": "maybe", "CS182META_MAX_STEPS": "2",
                  "CS182META_RUN_LOG": "/tmp/log", "CS182META_TYPO": "x", "CS182META_CACHE": "/c"}
    assert settings.grading_environment(instructor) == {"PATH": "/bin", "CS182META_CACHE": "/c"}
    assert settings.grading_environment(instructor, cache="/sandbox/cache") == {
        "PATH": "/bin", "CS182META_CACHE": "/sandbox/cache"}
    assert "CS182META_DATASET" in instructor  # the argument is left as it was


def test_validation_and_grading_execute_under_the_same_settings(monkeypatch, tmp_path):
    """Course.nbgrader (release validation) and IsolatedGrader.execute (grading) pass the
    same CS182META_* variables on; only the cache folder differs (a sandbox's own copy)."""
    pytest.importorskip("nbgrader")
    import subprocess

    from nbformat.v4 import new_notebook

    from autograder import course as course_module
    from autograder import isolated
    from autograder.course import Course
    from autograder.isolated import IsolatedGrader

    monkeypatch.setenv("CS182META_DATASET", "omniglot")
    monkeypatch.setenv("CS182META_PROFILE", "full")
    monkeypatch.setenv("CS182META_DEVICE", "cuda")
    monkeypatch.setenv("CS182META_PROGRESS", "0")
    monkeypatch.setenv("CS182META_CACHE", str(tmp_path / "instructor-cache"))
    seen = {}

    def fake_run(command, env, **kwargs):
        seen["validation"] = env
        return subprocess.CompletedProcess(command, 0, "", "")

    class Stop(Exception):
        pass

    real_popen = subprocess.Popen

    def fake_popen(command, env, **kwargs):
        if "autograder.judge" in command:  # the judge (trusted) starts as usual
            seen["judge"] = env
            return real_popen(command, env=env, **kwargs)
        seen["grading"] = env
        raise Stop

    monkeypatch.setattr(course_module.subprocess, "run", fake_run)
    monkeypatch.setattr(isolated.subprocess, "Popen", fake_popen)
    course = Course(tmp_path / "course")
    course.nbgrader("validate", "x.ipynb")
    grader = IsolatedGrader(course, sandbox="none")  # its spawn is the one caught below
    with pytest.raises(Stop):
        grader.execute(new_notebook())

    def ours(env):
        return {k: v for k, v in env.items() if k.startswith("CS182META_")}

    validation, grading = ours(seen["validation"]), ours(seen["grading"])
    assert validation == {"CS182META_CACHE": str(tmp_path / "instructor-cache")}
    assert set(grading) == {"CS182META_CACHE"}
    assert grading["CS182META_CACHE"] != validation["CS182META_CACHE"]  # a private copy
    assert set(ours(seen["judge"])) <= {"CS182META_CACHE"}  # the judge: grading's settings too
