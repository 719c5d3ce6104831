"""Evaluation over many episodes, and progress bars that keep stderr clean.

nbgrader gives a test cell zero points if it writes anything to stderr, and tqdm writes
its bars there. :func:`progress` therefore shows a bar only where someone is watching
(a terminal, or a live Jupyter kernel) and is silent under nbgrader
(``NBGRADER_EXECUTION`` set), under ``CS182META_PROGRESS=0`` (:mod:`cs182meta.settings`),
and in non-interactive runs.

:func:`progress` is also the one place where every loop of the notebooks can be cut short
(``CS182META_MAX_STEPS``) and timed (``CS182META_RUN_LOG``, :mod:`cs182meta.runlog`).
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import torch

from cs182meta import settings
from cs182meta.runlog import timed


@dataclass(frozen=True)
class Interval:
    """A mean over episodes with its 95% confidence half-width (1.96 std / sqrt(n))."""

    mean: float
    ci95: float
    n: int

    def __str__(self) -> str:
        return f"{self.mean:.2f} ± {self.ci95:.2f} (n={self.n})"

    def as_percent(self) -> Interval:
        return Interval(100 * self.mean, 100 * self.ci95, self.n)


def mean_ci95(values: Iterable[float]) -> Interval:
    """Mean of ``values`` and the 95% half-width ``1.96 * std / sqrt(n)`` (sample std)."""
    xs = torch.as_tensor(list(values), dtype=torch.float64)
    if xs.numel() == 0:
        raise ValueError("mean_ci95 needs at least one value")
    n = xs.numel()
    std = xs.std(unbiased=True).item() if n > 1 else 0.0
    return Interval(mean=xs.mean().item(), ci95=1.96 * std / math.sqrt(n), n=n)


@torch.no_grad()
def evaluate_episodes(
    predict: Callable, episodes: Iterable, device: torch.device | str = "cpu"
) -> Interval:
    """Query accuracy over episodes, as a fraction with a 95% interval.

    Args:
        predict: ``predict(episode) -> logits [N*Q, N]`` for one episode on ``device``.
        episodes: an iterable of :class:`cs182meta.episodes.Episode` (unbatched).
    """
    accuracies = []
    for episode in progress(episodes, desc="evaluating"):
        episode = episode.to(device)
        logits = predict(episode)  # (N*Q, N)
        accuracies.append((logits.argmax(dim=-1) == episode.query_y).float().mean().item())
    return mean_ci95(accuracies)


def _interactive() -> bool:
    if settings.under_nbgrader() or not settings.progress():
        return False
    if "ipykernel" in sys.modules and type(sys.stderr).__module__.startswith("ipykernel"):
        return True
    return bool(getattr(sys.stderr, "isatty", lambda: False)())


def _planned_length(iterable: Iterable, total: int | None) -> int | None:
    """``total`` if given, else ``len(iterable)`` where it has one, else ``None``."""
    if total is not None:
        return int(total)
    try:
        return len(iterable)
    except TypeError:  # a generator, or an endless sampler
        return None


def progress(iterable: Iterable, total: int | None = None, desc: str | None = None,
             **tqdm_kwargs) -> Iterable:
    """``tqdm(iterable)`` where someone can see it; the bare iterable everywhere else.

    Every training and evaluation loop of the notebooks goes through here, so that
    ``CS182META_MAX_STEPS=n`` stops each one after ``n`` items (bar or no bar) and
    ``CS182META_RUN_LOG`` records its timings (:func:`cs182meta.runlog.timed`). ``total``
    is the loop's planned length where ``iterable`` has no ``len()``.
    """
    planned = _planned_length(iterable, total)
    cap = settings.max_steps()
    if cap is not None:
        iterable = itertools.islice(iterable, cap)
        total = cap if planned is None else min(planned, cap)
    log = settings.run_log()
    if log is not None:
        iterable = timed(iterable, desc, planned, log)
    if not _interactive():
        return iterable
    tqdm_kwargs.update(total=total if total is not None else planned, desc=desc)
    if "ipykernel" in sys.modules:
        try:
            import ipywidgets  # noqa: F401  (tqdm.notebook needs it)
            from tqdm.notebook import tqdm
        except ImportError:
            from tqdm import tqdm

            tqdm_kwargs.setdefault("file", sys.stdout)
    else:
        from tqdm import tqdm
    return tqdm(iterable, **tqdm_kwargs)
