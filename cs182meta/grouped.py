"""A whole meta-batch of tasks through one network at once: grouped convolutions
(Conv-4) and batched matrix multiplies (the sinusoid MLP).

MAML's inner loop gives every task its own parameters phi_t, so a meta-batch is T
different networks. Instead of a Python loop over them (many small operations), lay
the T tasks side by side along the channel axis and run each layer once:

    task t's images           [B, C, H, W]
    all T tasks               [B, T*C, H, W]           channels t*C .. t*C+C-1 are task t's
    conv weights              [T, C_out, C_in, 3, 3] -> [T*C_out, C_in, 3, 3], groups=T
    BatchNorm, batch stats    one mean/variance per channel over (B, H, W): per task
    linear head               einsum over [T, B, D] and [T, N, D]

A convolution with ``groups=T`` connects input group t only to output group t, and
batch-statistics BatchNorm normalises each channel on its own, so nothing mixes
between tasks: the result is exactly T separate Conv-4 forward passes (same values,
same gradients), with one kernel call per layer for the whole meta-batch.

:class:`TaskGroupedConv4` is a module with the same parameter names as the ``Conv4``
it wraps, so ``torch.func.functional_call`` can run it with a dictionary of per-task
parameters ``{name: [T, *shape]}`` — and so can any ``inner_adapt`` /
``maml_outer_loss`` written for the loop, through :func:`grouped_meta_loss`.
:class:`TaskBatchedMLP` does the same for ``SineMLP``: each layer is one ``baddbmm``
over ``[T, B, in]`` inputs and ``[T, out, in]`` weights.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

import torch
import torch.nn.functional as F
from torch import nn

from cs182meta.models import Conv4, SineMLP


class TaskGroupedConv4(nn.Module):
    """``Conv4`` run on T tasks at once, each with its own parameters.

    Shares the wrapped network's modules, so its ``named_parameters()`` are the same
    tensors under the same names. Each parameter may be given per task (shape
    ``[T, *shape]``, e.g. through ``functional_call``) or shared (its own shape, used
    for every task).

    Shapes: input ``[T, B, C, H, W]`` -> ``[T, B, num_classes]`` (or ``[T, B,
    feature_dim]`` for a network without a head).
    """

    def __init__(self, conv4: Conv4):
        super().__init__()
        for block in conv4.features:
            if block[1].track_running_stats:
                raise ValueError(
                    "TaskGroupedConv4 needs Conv4(batch_stats_bn=True): BatchNorm with running "
                    "averages would share them between the tasks of a meta-batch"
                )
        self.features = conv4.features
        self.head = conv4.head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        num_tasks, batch = x.shape[:2]
        # channels-last: the CPU's grouped convolutions and pooling are several times
        # faster in it than in NCHW for a few thousand channels
        h = x.transpose(0, 1).flatten(1, 2).contiguous(memory_format=torch.channels_last)  # (B, T*C, H, W)
        for conv, bn, _relu, pool in self.features:
            weight = _per_task(conv.weight, num_tasks, 4).flatten(0, 1)  # (T*C_out, C_in, 3, 3)
            bias = _per_task(conv.bias, num_tasks, 1).flatten()  # (T*C_out,)
            h = F.conv2d(h, weight, bias, padding=conv.padding, groups=num_tasks)  # (B, T*C_out, H, W)
            h = F.batch_norm(
                h, None, None,
                _per_task(bn.weight, num_tasks, 1).flatten(), _per_task(bn.bias, num_tasks, 1).flatten(),
                training=True, eps=bn.eps,
            )
            h = F.max_pool2d(F.relu(h), pool.kernel_size)  # (B, T*C_out, H/2, W/2)
        z = h.reshape(batch, num_tasks, -1).transpose(0, 1)  # (T, B, D): task-major channels
        if self.head is None:
            return z
        weight = _per_task(self.head.weight, num_tasks, 2)  # (T, N, D)
        bias = _per_task(self.head.bias, num_tasks, 1)  # (T, N)
        return torch.einsum("tbd,tnd->tbn", z, weight) + bias[:, None, :]  # (T, B, N)


class TaskBatchedMLP(nn.Module):
    """``SineMLP`` run on T tasks at once, each with its own parameters.

    Like :class:`TaskGroupedConv4`: the wrapped network's modules and parameter names,
    each parameter per task (``[T, *shape]``) or shared. Each linear layer is one
    batched matrix multiply.

    Shapes: input ``[T, B, in_features]`` -> ``[T, B, out_features]``.
    """

    def __init__(self, mlp: SineMLP):
        super().__init__()
        for layer in mlp.net:
            if not isinstance(layer, (nn.Linear, nn.ReLU)):
                raise ValueError(f"TaskBatchedMLP runs Linear and ReLU layers only, not {type(layer).__name__}")
        self.net = mlp.net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        num_tasks = x.shape[0]
        h = x  # (T, B, in)
        for layer in self.net:
            if isinstance(layer, nn.ReLU):
                h = F.relu(h)
                continue
            weight = _per_task(layer.weight, num_tasks, 2)  # (T, out, in)
            bias = _per_task(layer.bias, num_tasks, 1)  # (T, out)
            h = torch.baddbmm(bias[:, None, :], h, weight.transpose(1, 2))  # (T, B, out)
        return h


def _per_task(param: torch.Tensor, num_tasks: int, shared_dims: int) -> torch.Tensor:
    """A per-task ``[T, *shape]`` parameter as given; a shared ``[*shape]`` one (with
    ``shared_dims`` dimensions) expanded to T tasks."""
    return param.expand(num_tasks, *param.shape) if param.dim() == shared_dims else param


def stack_for_tasks(params: Mapping[str, torch.Tensor], num_tasks: int) -> dict[str, torch.Tensor]:
    """``{name: [T, *shape]}``: every task starts from the same ``params``.

    The stacked tensors are views of ``params`` (``expand``), so gradients with respect
    to ``params`` sum over the tasks.
    """
    return {name: p.expand(num_tasks, *p.shape) for name, p in params.items()}


def as_one_task(tasks: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, ...]:
    """A meta-batch ``(support_x [T, ...], ...)`` as a batch of one grouped task ``([1, T, ...], ...)``."""
    return tuple(field.unsqueeze(0) for field in tasks)


def task_sum_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Sum over tasks of each task's mean cross-entropy.

    ``logits [T, B, N]``, ``labels [T, B]`` -> scalar. Summed, not averaged, over tasks:
    the gradient with respect to task t's parameters is then task t's own gradient.
    """
    per_example = F.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none")  # (T*B,)
    return per_example.view(labels.shape).mean(dim=1).sum()


def task_sum_mse(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Sum over tasks of each task's mean squared error.

    ``predictions``, ``targets`` ``[T, B, ...]`` -> scalar; summed over tasks for the
    reason given in :func:`task_sum_cross_entropy`.
    """
    return (predictions - targets).pow(2).flatten(1).mean(dim=1).sum()


def grouped_meta_loss(
    outer_loss: Callable,
    model: TaskGroupedConv4 | TaskBatchedMLP,
    params: Mapping[str, torch.Tensor],
    tasks: tuple[torch.Tensor, ...],
    steps: int,
    alpha,
    first_order: bool = False,
    loss_fn: Callable = task_sum_cross_entropy,
) -> torch.Tensor:
    """The MAML meta-loss of a meta-batch, computed with one grouped "task".

    ``outer_loss`` is a loop implementation with the signature of notebook 03's
    ``maml_outer_loss(model, params, tasks, steps, alpha, first_order, loss_fn)``. It is
    given all T tasks as a single task of the grouped network, with per-task copies of
    ``params`` and a loss summed over tasks (``loss_fn``: :func:`task_sum_cross_entropy`
    for classification, :func:`task_sum_mse` for regression), so its one inner loop adapts every
    task at once. Returns the mean over tasks of the query loss, differentiable with
    respect to ``params`` (and ``alpha``): the same value and gradients as the loop.

    ``tasks``: ``(support_x [T, N*K, C, H, W], support_y [T, N*K], query_x [T, N*Q, C,
    H, W], query_y [T, N*Q])`` for the Conv-4, ``([T, K, 1], [T, K, 1], [T, Q, 1],
    [T, Q, 1])`` for the MLP. ``alpha``: a number or ``{name: tensor shaped like the
    parameter}`` (Meta-SGD), shared by all tasks.
    """
    num_tasks = tasks[0].shape[0]
    stacked = stack_for_tasks(params, num_tasks)
    total = outer_loss(model, stacked, as_one_task(tasks), steps, alpha, first_order=first_order,
                       loss_fn=loss_fn)
    return total / num_tasks
