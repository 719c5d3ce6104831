import torch
from torch import nn

from cs182meta.costs import parameter_count, saved_for_backward


def test_parameter_count_counts_trainable_scalars_only():
    net = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    assert parameter_count(net) == 3 * 4 + 4 + 4 * 2 + 2
    net[0].weight.requires_grad_(False)
    assert parameter_count(net) == 4 + 4 * 2 + 2


def test_saved_for_backward_counts_what_autograd_keeps_and_nothing_without_a_graph():
    x = torch.randn(100, 10, requires_grad=True)
    w = torch.randn(10, 10, requires_grad=True)
    # x @ w saves x and w (for the two gradients): 2000 + 400 floats.
    assert saved_for_backward(lambda: x @ w) == (100 * 10 + 10 * 10) * 4
    with torch.no_grad():
        assert saved_for_backward(lambda: x @ w) == 0


def test_second_order_gradients_keep_more_than_first_order():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(8, 16), nn.Tanh(), nn.Linear(16, 1))
    x = torch.randn(32, 8)

    def step(create_graph):
        loss = net(x).pow(2).mean()
        grads = torch.autograd.grad(loss, list(net.parameters()), create_graph=create_graph)
        return sum((g**2).sum() for g in grads)

    assert saved_for_backward(lambda: step(True)) > saved_for_backward(lambda: step(False))
