"""task_parallel_grad gives the meta-gradient of a one-call loop, whatever the split."""

import pytest
import torch
import torch.nn.functional as F
from torch.func import functional_call

from cs182meta.models import Conv4
from cs182meta.parallel import task_parallel_grad


def _maml_loss(model, params, tasks, alpha=0.4):
    """Second-order MAML query loss, one inner step, mean over the tasks given."""
    support_x, support_y, query_x, query_y = tasks
    total = 0
    for t in range(support_x.shape[0]):
        loss = F.cross_entropy(functional_call(model, params, (support_x[t],)), support_y[t])
        grads = torch.autograd.grad(loss, list(params.values()), create_graph=True)
        phi = {n: p - alpha * g for (n, p), g in zip(params.items(), grads)}
        total = total + F.cross_entropy(functional_call(model, phi, (query_x[t],)), query_y[t])
    return total / support_x.shape[0]


@pytest.fixture(scope="module")
def problem():
    torch.manual_seed(0)
    model = Conv4(hidden_channels=8, num_classes=3, batch_stats_bn=True).double()
    params = dict(model.named_parameters())
    T = 5  # odd, so shares are uneven
    tasks = (
        torch.randn(T, 3, 1, 28, 28, dtype=torch.float64),  # support_x (T, N*K, 1, 28, 28)
        torch.arange(3).repeat(T, 1),  # support_y (T, N*K)
        torch.randn(T, 6, 1, 28, 28, dtype=torch.float64),  # query_x (T, N*Q, 1, 28, 28)
        torch.arange(3).repeat_interleave(2).repeat(T, 1),  # query_y (T, N*Q)
    )
    loss = _maml_loss(model, params, tasks)
    reference = dict(zip(params, torch.autograd.grad(loss, list(params.values()))))
    return model, params, tasks, loss.detach(), reference


@pytest.mark.parametrize("workers", [1, 2, 3, 8])
def test_matches_one_call_for_any_number_of_workers(problem, workers):
    model, params, tasks, ref_loss, ref_grads = problem
    threads = torch.get_num_threads()
    loss, grads = task_parallel_grad(lambda m, t: _maml_loss(m, params, t), model, params, tasks, workers)
    assert torch.get_num_threads() == threads, "intra-op thread count was not restored"
    torch.testing.assert_close(loss, ref_loss, rtol=1e-12, atol=1e-12)
    assert grads.keys() == ref_grads.keys()
    for name in grads:
        torch.testing.assert_close(grads[name], ref_grads[name], rtol=1e-10, atol=1e-12)


def test_same_workers_give_bitwise_equal_results(problem):
    model, params, tasks, _, _ = problem
    first = task_parallel_grad(lambda m, t: _maml_loss(m, params, t), model, params, tasks, 2)[1]
    again = task_parallel_grad(lambda m, t: _maml_loss(m, params, t), model, params, tasks, 2)[1]
    assert all(torch.equal(first[n], again[n]) for n in first)


def test_unused_parameter_gets_a_zero_gradient():
    used, unused = torch.ones(2, requires_grad=True), torch.ones(3, requires_grad=True)
    tasks = (torch.arange(4.0)[:, None],)
    params = {"u": used, "v": unused}
    loss, grads = task_parallel_grad(lambda m, t: (t[0] * used).sum(dim=1).mean(), torch.nn.Identity(), params, tasks, 2)
    assert loss.item() == pytest.approx(1.5 * 2)
    assert torch.equal(grads["u"], torch.full((2,), 1.5)) and torch.equal(grads["v"], torch.zeros(3))


def test_bad_inputs_are_explained():
    p = {"w": torch.ones(1, requires_grad=True)}
    with pytest.raises(ValueError, match="same first"):
        task_parallel_grad(lambda m, t: p["w"].sum(), torch.nn.Identity(), p, (torch.zeros(4, 1), torch.zeros(3, 1)))
    with pytest.raises(ValueError, match="workers must be at least 1"):
        task_parallel_grad(lambda m, t: p["w"].sum(), torch.nn.Identity(), p, (torch.zeros(4, 1),), workers=0)
