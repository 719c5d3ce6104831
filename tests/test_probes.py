"""cs182meta.probes: the kit objects a test cell builds on the student's side."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from cs182meta.probes import SumLoss, linear_closed_form, linear_problem, touches_global_rng
from cs182meta.student import InProcessChannel, Student


def _inner_adapt(model, params, x, y, steps, alpha, create_graph, loss_fn=F.mse_loss):
    phi = dict(params)
    for _ in range(steps):
        loss = loss_fn(functional_call(model, phi, (x,)), y)
        grads = torch.autograd.grad(loss, list(phi.values()), create_graph=create_graph)
        phi = {name: p - alpha * g for (name, p), g in zip(phi.items(), grads)}
    return phi


def _outer_loss(model, params, tasks, steps, alpha, first_order=False):
    losses = [F.mse_loss(functional_call(model, _inner_adapt(model, params, xs, ys, steps, alpha,
                                                             not first_order), (xq,)), yq)
              for xs, ys, xq, yq in zip(*tasks)]
    return torch.stack(losses).mean()


def _student():
    namespace = {"inner_adapt": _inner_adapt, "outer_loss": _outer_loss}
    return Student(InProcessChannel(lambda: namespace))


def test_gradients_through_params_match_the_closed_form():
    student = _student()
    outer = student.build("cs182meta.probes.WithParameters", student.outer_loss)
    model, tasks, alpha = linear_problem()
    for first_order in (False, True):
        loss, ((grad,),) = student.grad(outer, (model, tasks, 1, alpha), dict(first_order=first_order), wrt=(0,))
        expected_loss, expected_grad = linear_closed_form(tasks, alpha, first_order)
        assert torch.allclose(loss, expected_loss) and torch.allclose(grad, expected_grad.reshape(1, 1))


def test_projected_is_a_vector_jacobian_product_and_kept_reads_late():
    student = _student()
    adapt = student.build("cs182meta.probes.WithParameters", student.inner_adapt)
    model, tasks, alpha = linear_problem()
    xs, ys = tasks[0][0], tasks[1][0]
    through = student.build("cs182meta.probes.Projected", adapt, {"weight": torch.full((1, 1), 3.0)})
    _, ((grad,),) = student.grad(through, (model, xs, ys, 1, alpha, True), wrt=(0,))
    assert torch.allclose(grad, torch.tensor([[3.0 * (1 - alpha * (2 * xs**2).mean())]]))  # 3 * d phi / dw
    box = student.build("cs182meta.probes.Kept", adapt)(model, xs, ys, 1, alpha, False)
    assert torch.allclose(box.value["weight"], torch.tensor([[2.0 - alpha * (2 * xs * (2 * xs - ys)).mean()]]))
    flags = student.build("cs182meta.probes.tensor_flags", box)
    assert flags == {"weight": {"requires_grad": True, "is_leaf": False}}


def test_sum_loss_steps_every_tensor_of_the_optimizer_that_requires_grad():
    net, frozen = nn.Linear(2, 1), torch.ones(3)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    optimizer = torch.optim.SGD([*net.parameters(), frozen], lr=0.1)
    optimizer.step(SumLoss(optimizer, 3.0))
    assert all(torch.allclose(p, before[n] - 0.3) for n, p in net.named_parameters())
    assert torch.equal(frozen, torch.ones(3))
    empty = torch.optim.SGD([torch.ones(2)], lr=0.1)
    assert SumLoss(empty, 3.0)().item() == 0.0


def test_touches_global_rng_sees_a_seed_or_a_draw_and_puts_the_state_back():
    generator = torch.Generator().manual_seed(0)
    before = torch.get_rng_state()
    assert not touches_global_rng(lambda: torch.rand(3, generator=generator))
    assert touches_global_rng(lambda: torch.rand(3))
    assert touches_global_rng(lambda: torch.manual_seed(0))
    assert torch.equal(torch.get_rng_state(), before), "the global state must be left as it was"


def test_stand_in_learners_depend_on_the_other_queries_as_documented():
    from cs182meta.episodes import Episode
    from cs182meta.probes import StandInLearner

    episode = Episode(torch.rand(3, 1, 2, 2), torch.arange(3), torch.rand(4, 1, 2, 2),
                      torch.tensor([0, 1, 2, 0]), torch.arange(3))
    one = episode._replace(query_x=episode.query_x[:1], query_y=episode.query_y[:1])
    alone = StandInLearner("alone")
    assert torch.allclose(alone(episode)[:1], alone(one))
    assert torch.allclose(StandInLearner("raised")(episode), alone(episode) + 1)
    assert torch.allclose(StandInLearner("lowered")(episode), alone(episode) - 1)
    assert torch.allclose(StandInLearner("lowered")(one), alone(one))
    moved = StandInLearner("first_entry")(episode) - alone(episode)
    assert moved[0, 1] == -2.5 and moved.abs().sum() == 2.5
    assert torch.allclose(StandInLearner("centred")(episode).mean(dim=0), torch.zeros(3), atol=1e-6)
    with pytest.raises(ValueError, match="kind must be one of"):
        StandInLearner("sideways")
    with pytest.raises(ValueError, match="1 query image.*and 4 query label"):
        alone(episode._replace(query_x=episode.query_x[:1]))
