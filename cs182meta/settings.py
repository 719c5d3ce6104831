"""Every ``CS182META_*`` environment variable, read and validated in one place.

Each function reads ``os.environ`` when it is called, so a changed environment (a
test's monkeypatch, ``%env`` in a notebook) takes effect at once. A bad value raises an
error that names the variable, what was wrong, and the values that work.
``python -m cs182meta info`` prints the effective settings.

This module is a leaf: it imports nothing else of ``cs182meta`` (and not PyTorch), so
every other module may import it. The device named by ``$CS182META_DEVICE`` is checked
by :mod:`cs182meta.device`, and the effective settings (which need the device and the
profile) are put together by :mod:`cs182meta.__main__`.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROFILE_ENV = "CS182META_PROFILE"
DATASET_ENV = "CS182META_DATASET"
DEVICE_ENV = "CS182META_DEVICE"
OMNIGLOT_ENV = "CS182META_OMNIGLOT"
CACHE_ENV = "CS182META_CACHE"
PROGRESS_ENV = "CS182META_PROGRESS"
MAX_STEPS_ENV = "CS182META_MAX_STEPS"
RUN_LOG_ENV = "CS182META_RUN_LOG"
VARIABLES = (
    PROFILE_ENV, DATASET_ENV, DEVICE_ENV, OMNIGLOT_ENV, CACHE_ENV, PROGRESS_ENV, MAX_STEPS_ENV,
    RUN_LOG_ENV,
)

PROFILES = ("grading", "quick", "full")
CLASS_DATASETS = ("glyphs", "omniglot")  # what $CS182META_DATASET may name
_PROGRESS_OFF = ("0", "false", "no", "off")
_PROGRESS_ON = ("1", "true", "yes", "on")


def _read(variable: str) -> str:
    """The variable's value, stripped; ``""`` when unset."""
    return os.environ.get(variable, "").strip()


def is_set(variable: str) -> bool:
    """True when ``variable`` holds a value (not only blanks): the value came from the
    environment, not the default."""
    return bool(_read(variable))


def under_nbgrader() -> bool:
    """True while nbgrader (or the kit's grading sandbox) executes the notebook."""
    return bool(os.environ.get("NBGRADER_EXECUTION"))


def profile() -> str | None:
    """``$CS182META_PROFILE`` (one of :data:`PROFILES`), or ``None`` when unset."""
    chosen = _read(PROFILE_ENV).lower()
    if chosen and chosen not in PROFILES:
        raise ValueError(
            f"{PROFILE_ENV}={chosen!r} is not a profile; use one of {', '.join(PROFILES)}, "
            f"or unset it (quick on a CPU, full on a GPU)"
        )
    return chosen or None


def dataset() -> str:
    """``$CS182META_DATASET`` (``glyphs`` or ``omniglot``), else ``"glyphs"``."""
    chosen = _read(DATASET_ENV).lower() or "glyphs"
    if chosen not in CLASS_DATASETS:
        raise ValueError(
            f"{DATASET_ENV}={chosen!r} is not a dataset the notebooks can switch to; "
            f"use one of {', '.join(CLASS_DATASETS)}, or unset it (glyphs)"
        )
    return chosen


def device_name() -> str | None:
    """``$CS182META_DEVICE`` as written (``cpu``, ``cuda``, ``cuda:1``, ``mps``), or ``None``
    when unset.

    Checking it needs PyTorch, so :func:`cs182meta.device.requested_device` does that (a
    name that is no device, or a device that is absent, raises ``RuntimeError``), and
    :func:`cs182meta.device.pick_device` uses it.
    """
    return _read(DEVICE_ENV) or None


def omniglot_folder() -> Path | None:
    """``$CS182META_OMNIGLOT``: the folder searched first for Omniglot; ``None`` when unset."""
    chosen = _read(OMNIGLOT_ENV)
    return Path(chosen).expanduser() if chosen else None


def cache_folder() -> Path:
    """``$CS182META_CACHE``, else ``$XDG_CACHE_HOME/cs182meta``, else ``~/.cache/cs182meta``.

    Datasets are cached here; Omniglot is also looked for in its ``omniglot`` subfolder.
    """
    chosen = _read(CACHE_ENV)
    if chosen:
        return Path(chosen).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "cs182meta"


def progress() -> bool:
    """``$CS182META_PROGRESS``: ``False`` for 0/false/no/off, ``True`` for 1/true/yes/on
    or unset (bars still appear only where someone watches)."""
    chosen = _read(PROGRESS_ENV).lower()
    if chosen and chosen not in _PROGRESS_OFF + _PROGRESS_ON:
        raise ValueError(
            f"{PROGRESS_ENV}={chosen!r} is not on or off; use 0 to turn progress bars off, "
            f"1 (or unset it) to show them"
        )
    return chosen not in _PROGRESS_OFF


def max_steps() -> int | None:
    """``$CS182META_MAX_STEPS``: the most items any loop of a notebook runs (training steps,
    evaluation episodes), a positive whole number; ``None`` when unset (no cap).

    A smoke test of a long profile: ``CS182META_PROFILE=full CS182META_MAX_STEPS=3`` runs
    every cell of the full profile with each loop cut to three items
    (:func:`cs182meta.evaluate.progress` applies it).
    """
    chosen = _read(MAX_STEPS_ENV)
    if not chosen:
        return None
    try:
        cap = int(chosen)
    except ValueError:
        cap = 0
    if cap < 1:
        raise ValueError(
            f"{MAX_STEPS_ENV}={chosen!r} is not a positive whole number; set it to the most "
            f"steps (and evaluation episodes) each loop may run, e.g. 3, or unset it (no cap)"
        )
    return cap


def run_log() -> Path | None:
    """``$CS182META_RUN_LOG``: a file to which every loop appends one JSON line of timings
    (:func:`cs182meta.evaluate.progress`); ``None`` when unset (nothing is written)."""
    chosen = _read(RUN_LOG_ENV)
    return Path(chosen).expanduser() if chosen else None


def grading_environment(env: Mapping[str, str], cache: str | os.PathLike | None = None) -> dict:
    """``env`` as student notebooks must be executed under, for release validation and
    for grading alike: every ``CS182META_*`` variable removed except ``CS182META_CACHE``,
    which is set to ``cache`` when given.

    Removed: the profile (under nbgrader it is always ``grading``), the dataset, the
    Omniglot folder and the device (grading runs on the default dataset and device),
    progress (bars are off under nbgrader anyway, and a bad value must not fail a
    student's notebook), the step cap and the run log (a grading run is never cut short
    or timed), and any unknown ``CS182META_*`` name. Kept: the cache, which
    says where data is stored but not which data (entries are keyed by their parameters
    and verified on load), so validation reuses the instructor's generated datasets; the
    grader passes ``cache`` to give each sandbox its own copy instead.
    """
    kept = {k: v for k, v in env.items() if not k.startswith("CS182META_") or k == CACHE_ENV}
    if cache is not None:
        kept[CACHE_ENV] = str(cache)
    return kept
