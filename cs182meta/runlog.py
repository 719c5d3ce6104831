"""Timings of a notebook's loops: one JSON line per loop, and the uncapped run they predict.

With ``CS182META_RUN_LOG=path`` (:mod:`cs182meta.settings`), every loop that goes through
:func:`cs182meta.evaluate.progress` appends one line to ``path`` when it ends::

    {"desc": "meta-training", "planned": 20000, "steps": 3, "first_item_s": 0.41,
     "first_step_s": 0.93, "total_s": 1.52, "peak_cuda_bytes": 123456789}

``planned`` is the loop's length without ``CS182META_MAX_STEPS`` (``null`` when it has
none), ``steps`` the items it ran, ``first_item_s`` the seconds until the first item was
ready (data loading, worker start-up), ``first_step_s`` the seconds until the loop asked
for the second item (the first step, warm-up included), ``total_s`` the whole loop, and
``peak_cuda_bytes`` CUDA's peak allocation during the loop (``null`` when CUDA is not in
use). The GPU is synchronised before each clock reading, so queued kernels count where
they belong.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import torch

from cs182meta.device import synchronize


def _cuda_in_use() -> bool:
    return torch.cuda.is_available() and torch.cuda.is_initialized()


def _clock() -> float:
    synchronize()  # every initialised CUDA device; nothing on the CPU
    return time.perf_counter()


def timed(iterable: Iterable, desc: str | None, planned: int | None, path: Path) -> Iterator:
    """Yield the items of ``iterable``; when it ends (or the consumer stops), append the
    loop's timings to ``path`` as one JSON line (fields: the module's docstring)."""
    if _cuda_in_use():
        torch.cuda.reset_peak_memory_stats()
    start = _clock()
    first_item = first_step = None
    steps = 0
    try:
        for item in iterable:
            if first_item is None:
                first_item = _clock() - start
            yield item
            steps += 1
            if steps == 1:
                first_step = _clock() - start
    finally:
        total = _clock() - start
        record = {
            "desc": desc, "planned": planned, "steps": steps, "first_item_s": first_item,
            "first_step_s": first_step, "total_s": total,
            "peak_cuda_bytes": int(torch.cuda.max_memory_allocated()) if _cuda_in_use() else None,
        }
        with open(path, "a", encoding="utf-8") as log:
            log.write(json.dumps(record) + "\n")


def read(path: str | Path) -> list[dict]:
    """The records of a run log, in the order the loops ended (``[]`` if there is none)."""
    path = Path(path)
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def seconds_per_step(record: dict) -> float | None:
    """Mean seconds of the steps after the first (``None`` with fewer than two steps)."""
    if record["steps"] < 2:
        return None
    return (record["total_s"] - record["first_step_s"]) / (record["steps"] - 1)


def uncapped_seconds(record: dict) -> float:
    """The loop's predicted time at its planned length: the first step as measured, then
    every other planned step at :func:`seconds_per_step` (the first step's time when only
    one ran). A loop without a planned length is taken as it ran."""
    planned = record["planned"] if record["planned"] is not None else record["steps"]
    if record["steps"] == 0:
        return record["total_s"]
    per_step = seconds_per_step(record)
    if per_step is None:
        per_step = record["first_step_s"]
    return record["first_step_s"] + per_step * max(planned - 1, 0)
