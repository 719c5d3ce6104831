"""cs182meta.profiles: the banner of notebook_setup and the step cap for repeat counts."""

import pytest

from cs182meta import settings
from cs182meta.profiles import capped, notebook_setup


@pytest.fixture(autouse=True)
def cpu_full_profile(monkeypatch):
    for variable in (*settings.VARIABLES, "NBGRADER_EXECUTION"):
        if variable != settings.CACHE_ENV:
            monkeypatch.delenv(variable, raising=False)
    monkeypatch.setenv("CS182META_PROFILE", "full")
    monkeypatch.setenv("CS182META_DEVICE", "cpu")


def test_banner_says_when_every_loop_is_capped(monkeypatch, capsys):
    assert notebook_setup()[0] == "full"
    assert "capped" not in capsys.readouterr().out
    monkeypatch.setenv("CS182META_MAX_STEPS", "3")
    notebook_setup()
    assert capsys.readouterr().out.startswith(
        "profile: full (every loop capped at 3 steps by CS182META_MAX_STEPS) | dataset: glyphs")


def test_capped_repeat_counts(monkeypatch):
    assert capped(10) == 10
    monkeypatch.setenv("CS182META_MAX_STEPS", "3")
    assert (capped(10), capped(2)) == (3, 2)
