"""The sinusoid regression task family of MAML (Finn, Abbeel & Levine 2017, section 5.1).

A task is ``y = A * sin(x - phi)`` with amplitude ``A ~ U[0.1, 5]``, phase
``phi ~ U[0, pi]``; its inputs are ``x ~ U[-5, 5]``. Every range is configurable.

Randomness: :meth:`SinusoidTasks.sample` draws from a ``torch.Generator`` seeded with
``seed``, so two task families built with the same seed give the same batches in the same
order. :meth:`SinusoidTasks.evaluation_tasks` uses its own generator, derived from ``seed``
and fixed, so the evaluation set does not depend on how many training batches were drawn.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

_EVAL_STREAM = 1  # spawn key of the evaluation generator, apart from the training stream


class SinusoidBatch(NamedTuple):
    """A batch of ``B`` sinusoid tasks, all ``float32``.

    support_x, support_y: ``[B, K, 1]``; query_x, query_y: ``[B, Q, 1]``;
    amplitude, phase: ``[B]``.
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor
    amplitude: torch.Tensor
    phase: torch.Tensor


def sinusoid(x: torch.Tensor, amplitude, phase) -> torch.Tensor:
    """``amplitude * sin(x - phase)``.

    ``x`` is ``[M, 1]`` or ``[B, M, 1]``; ``amplitude`` and ``phase`` are floats (result
    shaped like ``x``) or ``[B]`` tensors (result ``[B, M, 1]``).
    """
    amplitude = torch.as_tensor(amplitude, dtype=torch.float32)
    phase = torch.as_tensor(phase, dtype=torch.float32)
    if amplitude.ndim == 1:
        amplitude = amplitude[:, None, None]
        phase = phase[:, None, None]
    return amplitude * torch.sin(x - phase)


def _check_range(name: str, value) -> tuple[float, float]:
    lo, hi = (float(v) for v in value)
    if not (math.isfinite(lo) and math.isfinite(hi)) or lo > hi:
        raise ValueError(f"{name} must be (low, high) with low <= high, got ({lo}, {hi})")
    return lo, hi


def _check_count(name: str, value: int) -> int:
    if int(value) != value or value < 1:
        raise ValueError(f"{name} must be a positive integer, got {value!r}")
    return int(value)


class SinusoidTasks:
    """A distribution over sinusoid regression tasks.

    Args:
        amplitude_range: ``(low, high)`` of the uniform amplitude.
        phase_range: ``(low, high)`` of the uniform phase, in radians.
        x_range: ``(low, high)`` of the uniform inputs.
        seed: seeds the training stream of :meth:`sample` and the fixed evaluation set.
    """

    def __init__(
        self,
        amplitude_range=(0.1, 5.0),
        phase_range=(0.0, math.pi),
        x_range=(-5.0, 5.0),
        seed: int = 0,
    ) -> None:
        self.amplitude_range = _check_range("amplitude_range", amplitude_range)
        self.phase_range = _check_range("phase_range", phase_range)
        self.x_range = _check_range("x_range", x_range)
        self.seed = int(seed)
        self.generator = torch.Generator().manual_seed(self.seed)

    def __repr__(self) -> str:
        return (
            f"SinusoidTasks(amplitude_range={self.amplitude_range}, "
            f"phase_range={self.phase_range}, x_range={self.x_range}, seed={self.seed})"
        )

    def _uniform(self, shape, bounds, generator) -> torch.Tensor:
        lo, hi = bounds
        return lo + (hi - lo) * torch.rand(shape, generator=generator)

    def sample(
        self,
        batch_size: int,
        k_support: int,
        q_query: int,
        generator: torch.Generator | None = None,
    ) -> SinusoidBatch:
        """Draw ``batch_size`` tasks with ``k_support`` support and ``q_query`` query points.

        Uses this family's own seeded generator unless ``generator`` is given.
        Returns a :class:`SinusoidBatch` (``[B, K, 1]``, ``[B, Q, 1]``, ``[B]`` tensors).
        """
        b = _check_count("batch_size", batch_size)
        k = _check_count("k_support", k_support)
        q = _check_count("q_query", q_query)
        g = self.generator if generator is None else generator
        amplitude = self._uniform((b,), self.amplitude_range, g)
        phase = self._uniform((b,), self.phase_range, g)
        x = self._uniform((b, k + q, 1), self.x_range, g)
        y = sinusoid(x, amplitude, phase)
        return SinusoidBatch(x[:, :k], y[:, :k], x[:, k:], y[:, k:], amplitude, phase)

    def evaluation_tasks(
        self, num_tasks: int = 100, k_support: int = 10, q_query: int = 100
    ) -> SinusoidBatch:
        """A fixed set of tasks for evaluation and plots: the same on every call.

        Drawn from a generator derived from ``seed`` alone, so it is independent of
        the training stream of :meth:`sample`.
        """
        state = np.random.SeedSequence([self.seed, _EVAL_STREAM]).generate_state(1)[0]
        g = torch.Generator().manual_seed(int(state))
        return self.sample(num_tasks, k_support, q_query, generator=g)

    def grid(self, num_points: int = 200) -> torch.Tensor:
        """``num_points`` evenly spaced inputs over ``x_range``: ``float32 [M, 1]``."""
        m = _check_count("num_points", num_points)
        return torch.linspace(*self.x_range, m, dtype=torch.float32)[:, None]

    def true_curve(self, batch: SinusoidBatch, x: torch.Tensor | None = None) -> torch.Tensor:
        """The true outputs of every task of ``batch`` at ``x`` (default :meth:`grid`).

        ``x`` is ``[M, 1]`` or ``[B, M, 1]``; returns ``[B, M, 1]``.
        """
        x = self.grid() if x is None else x
        return sinusoid(x, batch.amplitude, batch.phase)
