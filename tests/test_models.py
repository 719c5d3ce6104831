import pytest
import torch
from torch.func import functional_call, grad, vmap

from cs182meta.models import Conv4, SineMLP


def test_conv4_gives_64_features_for_28x28():
    net = Conv4()
    assert net(torch.rand(6, 1, 28, 28)).shape == (6, 64)
    assert net.feature_dim == 64
    assert Conv4(in_channels=3, image_size=84).feature_dim == 1600


def test_conv4_head_and_block_structure():
    net = Conv4(num_classes=5)
    assert net(torch.rand(2, 1, 28, 28)).shape == (2, 5)
    convs = [m for m in net.modules() if isinstance(m, torch.nn.Conv2d)]
    bns = [m for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d)]
    assert len(convs) == 4 and all(c.kernel_size == (3, 3) and c.out_channels == 64 for c in convs)
    assert len(bns) == 4 and all(bn.track_running_stats for bn in bns)


def test_too_small_images_are_refused():
    with pytest.raises(ValueError, match="too small"):
        Conv4(image_size=8)


def test_batch_stats_bn_keeps_no_running_stats_and_ignores_eval_mode():
    net = Conv4(num_classes=5, batch_stats_bn=True)
    assert not list(net.buffers())
    x = torch.rand(10, 1, 28, 28)
    train_out = net.train()(x)
    assert torch.allclose(net.eval()(x), train_out)


def test_sine_mlp_shape_and_sizes():
    net = SineMLP()
    assert net(torch.rand(7, 1)).shape == (7, 1)
    sizes = [tuple(p.shape) for p in net.parameters()]
    assert sizes == [(40, 1), (40,), (40, 40), (40,), (1, 40), (1,)]


def test_functional_call_matches_the_module():
    net = Conv4(num_classes=5, batch_stats_bn=True)
    params = dict(net.named_parameters())
    x = torch.rand(4, 1, 28, 28)
    assert torch.allclose(functional_call(net, params, (x,)), net(x))


@pytest.mark.parametrize("make", [lambda: SineMLP(), lambda: Conv4(num_classes=3, batch_stats_bn=True)])
def test_vmap_over_tasks_matches_a_loop(make):
    torch.manual_seed(0)
    net = make()
    shape = (1,) if isinstance(net, SineMLP) else (1, 28, 28)
    x = torch.rand(3, 5, *shape)  # (tasks, examples, ...)
    params = {k: v.detach() for k, v in net.named_parameters()}
    batched = {k: v.expand(3, *v.shape) for k, v in params.items()}

    def run(p, xs):
        return functional_call(net, p, (xs,))

    out = vmap(run)(batched, x)
    loop = torch.stack([run(params, x[i]) for i in range(3)])
    assert torch.allclose(out, loop, atol=1e-5)


def test_grad_of_functional_call_on_the_sine_mlp():
    net = SineMLP()
    params = {k: v.detach() for k, v in net.named_parameters()}
    x, y = torch.rand(5, 1), torch.rand(5, 1)

    def loss(p):
        return ((functional_call(net, p, (x,)) - y) ** 2).mean()

    g = grad(loss)(params)
    net.zero_grad()
    ((net(x) - y) ** 2).mean().backward()
    for name, p in net.named_parameters():
        assert torch.allclose(g[name], p.grad, atol=1e-6)


def test_layer_norm_conv4_judges_each_image_alone_and_the_same_in_train_and_eval():
    torch.manual_seed(0)
    net = Conv4(hidden_channels=8, num_classes=5, norm="layer")
    images = torch.rand(6, 1, 28, 28)
    together = net(images)
    alone = torch.cat([net(images[i : i + 1]) for i in range(6)])
    assert torch.allclose(together, alone, atol=1e-5)
    assert torch.allclose(net.eval()(images), together, atol=1e-6)
    assert not list(net.buffers()), "per-image normalisation keeps no running statistics"


def test_conv4_rejects_an_unknown_norm_and_batch_stats_without_batchnorm():
    with pytest.raises(ValueError, match="norm must be one of"):
        Conv4(norm="instance")
    with pytest.raises(ValueError, match="batch_stats_bn=True is a BatchNorm setting"):
        Conv4(norm="layer", batch_stats_bn=True)
