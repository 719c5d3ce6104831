"""What a learner costs, measured the same way for every family (notebook 04).

* :func:`parameter_count` — how many numbers the learner meta-learns.
* :func:`saved_for_backward` — the bytes autograd keeps for the backward pass while a
  function runs: the part of training memory that grows with the support set and with
  second-order MAML's graph of inner gradients. It is counted from the tensors
  themselves (``torch.autograd.graph.saved_tensors_hooks``), so it is the same on a CPU
  and a GPU and does not depend on what else the process holds.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def parameter_count(module: nn.Module) -> int:
    """Number of trainable scalars of ``module``."""
    return sum(p.numel() for p in module.parameters() if p.requires_grad)


def saved_for_backward(fn: Callable[[], object]) -> int:
    """Bytes of the distinct tensors autograd saves for backward while ``fn()`` runs.

    A tensor saved twice (the same storage, offset and shape) counts once.
    """
    seen: set[tuple] = set()
    total = 0

    def pack(tensor: torch.Tensor) -> torch.Tensor:
        nonlocal total
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape),
               tensor.dtype)
        if key not in seen:
            seen.add(key)
            total += tensor.numel() * tensor.element_size()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        fn()
    return total
