"""Run profiles: how much training a notebook does, and grading hygiene.

* ``grading`` — every training cell bounded so a whole notebook runs in <= 120 s on two
  CPU cores; chosen automatically while nbgrader executes a notebook
  (``NBGRADER_EXECUTION`` set), whatever else is configured.
* ``quick`` — the CPU default: minutes of training, results worth looking at.
* ``full`` — the GPU default: paper-scale runs.

``CS182META_PROFILE`` picks one explicitly (outside nbgrader); see :mod:`cs182meta.settings`.
"""

from __future__ import annotations

import sys
import warnings

import torch

from cs182meta import settings


def current_profile() -> str:
    """``grading`` under nbgrader, else ``$CS182META_PROFILE``, else quick (CPU) / full (GPU)."""
    if settings.under_nbgrader():
        return "grading"
    return settings.profile() or ("full" if torch.cuda.is_available() else "quick")


def by_profile(grading, quick, full):
    """The value for the current profile, e.g. ``steps = by_profile(50, 2_000, 20_000)``."""
    return {"grading": grading, "quick": quick, "full": full}[current_profile()]


def capped(count: int) -> int:
    """``count``, or ``CS182META_MAX_STEPS`` where that is smaller: for a repeat count of a
    loop that does not go through :func:`cs182meta.evaluate.progress` (which applies the cap
    itself), e.g. ``SPEED_REPEATS = capped(by_profile(1, 3, 10))``."""
    cap = settings.max_steps()
    return count if cap is None else min(count, cap)


def keep_stderr_clean() -> None:
    """Send this kernel's stderr to stdout and show warnings there.

    nbgrader gives a test cell zero points if anything reaches stderr, even a harmless
    warning or progress bar from student code. Under nbgrader this keeps the text (it
    appears in the feedback) but moves it to stdout.
    """
    sys.stderr = sys.stdout

    def to_stdout(message, category, filename, lineno, file=None, line=None):
        print(warnings.formatwarning(message, category, filename, lineno, line), end="")

    warnings.showwarning = to_stdout


def notebook_setup(seed: int = 0):
    """The first code cell of every notebook: profile, device, seeds, grading hygiene.

    Returns ``(profile, device)`` and prints one line describing them (and the step
    cap, when ``CS182META_MAX_STEPS`` cuts every loop short).
    """
    from cs182meta.device import describe, pick_device, seed_everything

    profile = current_profile()
    if settings.under_nbgrader():
        keep_stderr_clean()
    device = pick_device()
    seed_everything(seed)
    cap = settings.max_steps()
    capped = f" (every loop capped at {cap} steps by {settings.MAX_STEPS_ENV})" if cap else ""
    print(f"profile: {profile}{capped} | dataset: {settings.dataset()} | {describe(device)}")
    return profile, device
