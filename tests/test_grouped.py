"""The grouped-task Conv-4 and the task-batched MLP equal the per-task loop: forward values and MAML meta-gradients."""

from __future__ import annotations

import contextlib
import io

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from autograder import sources
from cs182meta.grouped import (
    TaskBatchedMLP,
    TaskGroupedConv4,
    as_one_task,
    grouped_meta_loss,
    stack_for_tasks,
    task_sum_cross_entropy,
    task_sum_mse,
)
from cs182meta.models import Conv4, SineMLP


@pytest.fixture(scope="module")
def notebook():
    """Notebook 03's reference `inner_adapt`, `maml_outer_loss` and `reptile_update` (the loop)."""
    with contextlib.redirect_stdout(io.StringIO()):  # the setup cell's banner
        return sources.cell_namespace("03_maml", ["setup", "inner_adapt", "maml_outer_loss", "reptile_update"])


def _conv4(**kwargs) -> Conv4:
    torch.manual_seed(0)
    kwargs.setdefault("batch_stats_bn", True)
    return Conv4(**kwargs).double()


def _tasks(num_tasks: int, n_way: int = 3, shots: int = 2, queries: int = 4, channels: int = 1, side: int = 28):
    generator = torch.Generator().manual_seed(1)
    labels = torch.arange(n_way)
    return (
        torch.rand(num_tasks, n_way * shots, channels, side, side, generator=generator, dtype=torch.float64),
        labels.repeat_interleave(shots).repeat(num_tasks, 1),
        torch.rand(num_tasks, n_way * queries, channels, side, side, generator=generator, dtype=torch.float64),
        labels.repeat_interleave(queries).repeat(num_tasks, 1),
    )


def _per_task_params(model: Conv4, num_tasks: int) -> dict[str, torch.Tensor]:
    """Different parameters for every task: theta plus task-specific noise."""
    generator = torch.Generator().manual_seed(2)
    return {
        name: p.detach() + 0.1 * torch.randn(num_tasks, *p.shape, generator=generator, dtype=p.dtype)
        for name, p in model.named_parameters()
    }


@pytest.mark.parametrize("kwargs", [
    {"hidden_channels": 6, "num_classes": 3},  # MAML's classifier, 28x28: 1x1 features
    {"hidden_channels": 5, "in_channels": 3, "image_size": 40, "num_classes": 4},  # 2x2 features, colour
    {"hidden_channels": 4, "num_classes": None},  # features only (no head)
])
def test_forward_equals_each_task_through_its_own_network(kwargs):
    model = _conv4(**kwargs)
    images = _tasks(3, channels=kwargs.get("in_channels", 1), side=kwargs.get("image_size", 28))[2]  # (T, B, C, H, W)
    params = _per_task_params(model, 3)
    grouped = functional_call(TaskGroupedConv4(model), params, (images,))
    for t in range(3):
        own = functional_call(model, {name: p[t] for name, p in params.items()}, (images[t],))
        assert torch.allclose(grouped[t], own, atol=1e-12), f"task {t} differs from its own forward pass"


def test_shared_parameters_are_used_for_every_task():
    model = _conv4(hidden_channels=4, num_classes=3)
    images = _tasks(2)[0]
    grouped = TaskGroupedConv4(model)(images)  # (T, B, N)
    assert grouped.shape == (2, 6, 3)
    for t in range(2):
        assert torch.allclose(grouped[t], model(images[t]), atol=1e-12)


def test_same_parameter_names_as_the_wrapped_network():
    model = _conv4(hidden_channels=4, num_classes=3)
    assert [n for n, _ in TaskGroupedConv4(model).named_parameters()] == [n for n, _ in model.named_parameters()]


def test_running_statistics_are_refused():
    with pytest.raises(ValueError, match="batch_stats_bn=True"):
        TaskGroupedConv4(Conv4(hidden_channels=4, num_classes=3, batch_stats_bn=False))


def test_task_sum_cross_entropy_sums_each_tasks_mean():
    logits = torch.randn(3, 5, 4, dtype=torch.float64)
    labels = torch.randint(0, 4, (3, 5))
    expected = sum(F.cross_entropy(logits[t], labels[t]) for t in range(3))
    assert torch.allclose(task_sum_cross_entropy(logits, labels), expected)


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("steps", [1, 2])
@pytest.mark.parametrize("meta_sgd", [False, True])
def test_meta_loss_and_meta_gradients_equal_the_loop(notebook, first_order, steps, meta_sgd):
    model = _conv4(hidden_channels=6, num_classes=3)
    params = dict(model.named_parameters())
    tasks = _tasks(4)
    if meta_sgd:
        alpha = {n: torch.full_like(p, 0.3).add_(0.05 * torch.rand_like(p)).requires_grad_() for n, p in params.items()}
    else:
        alpha = 0.4
    wrt = list(params.values()) + (list(alpha.values()) if meta_sgd else [])
    loop = notebook["maml_outer_loss"](model, params, tasks, steps, alpha, first_order=first_order, loss_fn=F.cross_entropy)
    grouped = grouped_meta_loss(notebook["maml_outer_loss"], TaskGroupedConv4(model), params, tasks, steps, alpha,
                                first_order=first_order)
    assert abs(loop.item() - grouped.item()) < 1e-12
    for name, a, b in zip([*params, *(alpha if meta_sgd else [])], torch.autograd.grad(loop, wrt),
                          torch.autograd.grad(grouped, wrt)):
        assert torch.allclose(a, b, rtol=0, atol=1e-12 * max(1.0, a.abs().max().item())), f"{name} differs"


def test_reptile_on_stacked_parameters_equals_the_loop(notebook):
    model = _conv4(hidden_channels=4, num_classes=3)
    params = dict(model.named_parameters())
    tasks = _tasks(3)
    loop = notebook["reptile_update"](model, params, tasks, 3, 0.1, 0.7, loss_fn=F.cross_entropy)
    stacked = notebook["reptile_update"](TaskGroupedConv4(model), stack_for_tasks(params, 3), as_one_task(tasks), 3, 0.1, 0.7,
                                         loss_fn=task_sum_cross_entropy)
    for name in params:
        assert torch.allclose(stacked[name].mean(dim=0), loop[name], atol=1e-12), name


def _sine_mlp() -> SineMLP:
    torch.manual_seed(0)
    return SineMLP().double()


def _sine_tasks(num_tasks: int, shots: int = 5, queries: int = 7):
    generator = torch.Generator().manual_seed(3)
    return tuple(torch.randn(num_tasks, n, 1, generator=generator, dtype=torch.float64)
                 for n in (shots, shots, queries, queries))


def test_batched_mlp_forward_equals_each_task_through_its_own_network():
    model = _sine_mlp()
    x = _sine_tasks(3)[0]  # (T, K, 1)
    params = _per_task_params(model, 3)
    batched = functional_call(TaskBatchedMLP(model), params, (x,))
    assert batched.shape == (3, 5, 1)
    for t in range(3):
        own = functional_call(model, {name: p[t] for name, p in params.items()}, (x[t],))
        assert torch.allclose(batched[t], own, atol=1e-12), f"task {t} differs from its own forward pass"
    shared = TaskBatchedMLP(model)(x)
    for t in range(3):
        assert torch.allclose(shared[t], model(x[t]), atol=1e-12)


def test_batched_mlp_refuses_layers_it_cannot_batch():
    model = SineMLP()
    model.net[1] = torch.nn.Tanh()
    with pytest.raises(ValueError, match="Linear and ReLU"):
        TaskBatchedMLP(model)


def test_task_sum_mse_sums_each_tasks_mean():
    predictions, targets = torch.randn(2, 3, 4, 6, dtype=torch.float64)
    expected = sum(F.mse_loss(predictions[t], targets[t]) for t in range(3))  # T = 3 tasks of [4, 6]
    assert torch.allclose(task_sum_mse(predictions, targets), expected)


@pytest.mark.parametrize("first_order", [False, True])
@pytest.mark.parametrize("steps", [1, 3])
def test_batched_mlp_meta_gradients_equal_the_loop(notebook, first_order, steps):
    model = _sine_mlp()
    params = dict(model.named_parameters())
    tasks = _sine_tasks(5)
    loop = notebook["maml_outer_loss"](model, params, tasks, steps, 0.01, first_order=first_order)
    batched = grouped_meta_loss(notebook["maml_outer_loss"], TaskBatchedMLP(model), params, tasks, steps, 0.01,
                                first_order=first_order, loss_fn=task_sum_mse)
    assert abs(loop.item() - batched.item()) < 1e-12
    for name, a, b in zip(params, torch.autograd.grad(loop, list(params.values())),
                          torch.autograd.grad(batched, list(params.values()))):
        assert torch.allclose(a, b, rtol=0, atol=1e-12 * max(1.0, a.abs().max().item())), f"{name} differs"
