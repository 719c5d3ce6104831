"""Devices, seeds, timing and memory: the small utilities every notebook uses.

``pick_device()`` chooses CUDA, then Apple MPS, then the CPU; the environment variable
``CS182META_DEVICE`` (``cpu``, ``cuda``, ``cuda:1``, ``mps``; read by
:mod:`cs182meta.settings`) overrides the choice.
"""

from __future__ import annotations

import os
import random
import resource
import sys
import time
from collections.abc import Mapping

import numpy as np
import torch

from cs182meta import settings
from cs182meta.settings import DEVICE_ENV


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def _check_available(device: torch.device) -> None:
    if device.type == "cpu":
        return
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise RuntimeError(
                f"device {str(device)!r} was asked for, but PyTorch sees no CUDA GPU "
                f"(torch {torch.__version__}, CUDA build: {torch.version.cuda or 'no'}). "
                f"Unset {DEVICE_ENV} or set it to 'cpu'."
            )
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise RuntimeError(
                f"device {str(device)!r} was asked for, but only "
                f"{torch.cuda.device_count()} CUDA device(s) exist (cuda:0 .. "
                f"cuda:{torch.cuda.device_count() - 1})."
            )
        return
    if device.type == "mps":
        if not _mps_available():
            raise RuntimeError(
                f"device 'mps' was asked for, but Apple's MPS backend is not available "
                f"here. Unset {DEVICE_ENV} or set it to 'cpu'."
            )
        return
    raise RuntimeError(f"device {str(device)!r} is not supported; use cpu, cuda[:N] or mps.")


def checked_device(name: str | torch.device) -> torch.device:
    """``name`` as a ``torch.device``; ``RuntimeError`` if it is not a device name or the
    device is absent (no silent fallback to the CPU)."""
    try:
        device = torch.device(name)
    except RuntimeError as err:
        raise RuntimeError(
            f"{name!r} is not a device name ({err}); use cpu, cuda, cuda:N or mps."
        ) from None
    _check_available(device)
    return device


def requested_device() -> torch.device | None:
    """``$CS182META_DEVICE`` (:func:`cs182meta.settings.device_name`) as a checked
    ``torch.device``, or ``None`` when unset.

    Raises ``RuntimeError``, naming the variable, when it is not a device name or the
    device is absent (:func:`checked_device`).
    """
    chosen = settings.device_name()
    if chosen is None:
        return None
    try:
        return checked_device(chosen)
    except RuntimeError as err:
        raise RuntimeError(f"{DEVICE_ENV}={chosen!r}: {err}") from None


def pick_device(preferred: str | torch.device | None = None) -> torch.device:
    """The device to compute on.

    Order: ``preferred`` if given, else ``$CS182META_DEVICE`` if set, else the first of
    CUDA, MPS and CPU that is available. A device that is asked for but absent raises
    ``RuntimeError`` rather than silently falling back to the CPU.
    """
    if preferred is not None:
        return checked_device(preferred)
    requested = requested_device()
    if requested is not None:
        return requested
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def seed_everything(seed: int) -> int:
    """Seed Python's ``random``, NumPy and PyTorch (CPU and every CUDA device)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return seed


def set_deterministic(enabled: bool = True) -> None:
    """Ask PyTorch for deterministic kernels (bitwise-repeatable runs, sometimes slower).

    On CUDA this also sets ``CUBLAS_WORKSPACE_CONFIG``, which cuBLAS needs for
    deterministic matrix products; set it before the first CUDA matmul.
    """
    if enabled:
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    torch.use_deterministic_algorithms(enabled)
    torch.backends.cudnn.deterministic = enabled
    torch.backends.cudnn.benchmark = not enabled


def describe(device: torch.device | str | None = None) -> str:
    """One line: the device (name, memory), torch/torchvision versions and CPU threads."""
    device = pick_device(device)
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        where = f"cuda:{device.index or 0} {props.name} ({props.total_memory / 2**30:.1f} GiB)"
    elif device.type == "mps":
        where = "mps (Apple GPU)"
    else:
        where = f"cpu ({os.cpu_count()} cores)"
    try:
        import torchvision

        vision = torchvision.__version__
    except ImportError:
        vision = "not installed"
    return (
        f"{where} | torch {torch.__version__} | torchvision {vision} | "
        f"{torch.get_num_threads()} threads | Python {sys.version.split()[0]}"
    )


def synchronize(device: torch.device | str | None = None) -> None:
    """Wait for queued GPU work on ``device`` to finish (a no-op on the CPU)."""
    device = torch.device(device) if device is not None else None
    if device is not None and device.type == "cuda" and torch.cuda.is_available():
        torch.cuda.synchronize(device)
    elif device is not None and device.type == "mps" and _mps_available():
        torch.mps.synchronize()
    elif device is None and torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


class Timer:
    """Wall-clock timer that synchronizes the GPU before reading the clock.

    >>> with Timer() as t:
    ...     _ = sum(range(10))
    >>> t.elapsed >= 0
    True
    """

    def __init__(self, device: torch.device | str | None = None):
        self.device = device
        self.start = 0.0
        self.elapsed = 0.0

    def __enter__(self) -> Timer:
        synchronize(self.device)
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        synchronize(self.device)
        self.elapsed = time.perf_counter() - self.start


def peak_memory(device: torch.device | str | None = None) -> int:
    """Peak memory in bytes: CUDA's peak allocation on a GPU, else the process's peak RSS."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda":
        return int(torch.cuda.max_memory_allocated(device))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)  # Linux reports KiB


def to_device(obj, device: torch.device | str, non_blocking: bool | None = None):
    """Move every tensor inside ``obj`` (tensors, named tuples such as ``Episode``,
    dicts, lists, tuples) to ``device``; other values are returned unchanged.

    ``non_blocking`` defaults to ``True`` for tensors in pinned memory going to a GPU,
    where the copy can then overlap with computation.
    """
    device = torch.device(device)
    if isinstance(obj, torch.Tensor):
        asynchronous = non_blocking
        if asynchronous is None:
            asynchronous = device.type == "cuda" and obj.is_pinned()
        return obj.to(device, non_blocking=asynchronous)
    if isinstance(obj, tuple) and hasattr(obj, "_fields"):  # named tuple
        return type(obj)(*(to_device(v, device, non_blocking) for v in obj))
    if isinstance(obj, Mapping):
        return type(obj)({k: to_device(v, device, non_blocking) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        return type(obj)(to_device(v, device, non_blocking) for v in obj)
    return obj
