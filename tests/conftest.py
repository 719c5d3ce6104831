"""Shared fixtures: a private dataset cache per test session, small fake datasets."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

REPO = Path(__file__).resolve().parents[1]
SHARED_OMNIGLOT = REPO.parent / "shared" / "data" / "omniglot"


@pytest.fixture(autouse=True, scope="session")
def _private_cache(tmp_path_factory):
    """Keep the tests' dataset cache out of the user's cache folder."""
    mp = pytest.MonkeyPatch()
    mp.setenv("CS182META_CACHE", str(tmp_path_factory.mktemp("cache")))
    mp.setenv("MPLBACKEND", "Agg")
    yield
    mp.undo()


@pytest.fixture
def tiny_images() -> torch.Tensor:
    """uint8 ``[12 classes, 8 examples, 1, 28, 28]``; every pixel of class c, example e
    equals ``c * 8 + e`` so a test can tell which image it got."""
    ids = torch.arange(12 * 8, dtype=torch.uint8).reshape(12, 8, 1, 1, 1)
    return ids.expand(12, 8, 1, 28, 28).contiguous()


@pytest.hookimpl(hookwrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test (``item.rep_call``...), so that a fixture's
    teardown can tell whether the test failed (the browser tests save a screenshot)."""
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
