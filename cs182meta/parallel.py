"""Meta-gradients with the tasks of a meta-batch spread over CPU threads.

A MAML meta-step on a laptop CPU is hundreds of small convolutions (5 support images, 75
query images per task). PyTorch splits each *operation* over its intra-op threads, and
ops that small do not split well: a second core adds little. The tasks of a meta-batch,
though, are independent until their query losses are averaged. :func:`task_parallel_grad`
gives each of ``workers`` threads a contiguous share of the tasks, with one intra-op
thread each, and sums the shares' gradients — the same meta-gradient, computed with
coarse parallelism instead of fine. PyTorch's autograd runs a CPU backward on the thread
that calls it, so the threads' backward passes overlap too (``torch.autograd.grad`` from
several threads at once is supported). ``functional_call`` works by swapping a module's
parameters for the duration of the call, so two threads must not share one module: each
worker gets its own copy of the model (its weights unused — ``params`` are passed in).

On a GPU there is nothing to gain; the helper then makes one call, in the caller's thread.
For ``workers`` fixed, the result is deterministic on the CPU: each share is computed
single-threaded and the shares are added in task order.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor

import torch

Tasks = Sequence[torch.Tensor]  # tensors whose first dimension is the task, e.g. [T, N*K, ...]


def _share(tasks: Tasks, start: int, stop: int) -> tuple[torch.Tensor, ...]:
    return tuple(t[start:stop] for t in tasks)


def _bounds(num_tasks: int, workers: int) -> list[tuple[int, int]]:
    """Contiguous shares, as equal as possible: 32 tasks, 3 workers -> 11, 11, 10."""
    base, extra = divmod(num_tasks, workers)
    sizes = [base + (i < extra) for i in range(workers)]
    starts = [sum(sizes[:i]) for i in range(workers)]
    return [(s, s + n) for s, n in zip(starts, sizes) if n > 0]


def task_parallel_grad(
    outer_loss: Callable[[torch.nn.Module, tuple[torch.Tensor, ...]], torch.Tensor],
    model: torch.nn.Module,
    params: Mapping[str, torch.Tensor],
    tasks: Tasks,
    workers: int | None = None,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The meta-loss and its gradient with respect to ``params``, tasks spread over threads.

    Args:
        outer_loss: ``outer_loss(model, tasks_share) -> scalar``, the **mean** meta-loss
            over the tasks it is given, computed with the model it is handed (e.g.
            ``lambda m, t: maml_outer_loss(m, params, t, steps=1, alpha=0.4)``).
        model: the network; worker ``i > 0`` gets a deep copy of it.
        params: the meta-parameters θ to differentiate with respect to (name -> tensor).
        tasks: a tuple of tensors whose first dimension indexes the ``T`` tasks, e.g.
            ``(support_x [T, N*K, C, H, W], support_y [T, N*K], query_x, query_y)``.
        workers: threads to use; default: ``torch.get_num_threads()`` on the CPU, 1 when
            the tasks live on a GPU.

    Returns:
        ``(loss, grads)``: the mean meta-loss over all ``T`` tasks (detached) and
        ``{name: dL/dθ}`` with the shapes of ``params``.
    """
    num_tasks = int(tasks[0].shape[0])
    if any(int(t.shape[0]) != num_tasks for t in tasks):
        shapes = [tuple(t.shape) for t in tasks]
        raise ValueError(f"every tensor in tasks needs the same first (task) dimension; got {shapes}")
    if workers is None:
        workers = 1 if tasks[0].device.type != "cpu" else torch.get_num_threads()
    if workers < 1:
        raise ValueError(f"workers must be at least 1, got {workers}")
    names, leaves = list(params), list(params.values())

    def share_grad(job) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        worker_model, (start, stop) = job
        share_loss = outer_loss(worker_model, _share(tasks, start, stop))
        loss = share_loss * ((stop - start) / num_tasks)
        return loss.detach(), torch.autograd.grad(loss, leaves, allow_unused=True)

    shares = _bounds(num_tasks, workers)
    if len(shares) == 1:
        results = [share_grad((model, shares[0]))]
    else:
        models = [model] + [copy.deepcopy(model) for _ in shares[1:]]
        intra_op = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            with ThreadPoolExecutor(max_workers=len(shares)) as pool:
                results = list(pool.map(share_grad, zip(models, shares)))
        finally:
            torch.set_num_threads(intra_op)

    loss = sum(r[0] for r in results)
    grads = {}
    for i, (name, leaf) in enumerate(zip(names, leaves)):
        parts = [r[1][i] for r in results if r[1][i] is not None]
        grads[name] = sum(parts) if parts else torch.zeros_like(leaf)
    return loss, grads
