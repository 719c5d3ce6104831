import math

import pytest
import torch

from cs182meta.data.sinusoid import SinusoidBatch, SinusoidTasks, sinusoid


def test_shapes_and_dtypes():
    batch = SinusoidTasks(seed=0).sample(4, 5, 7)
    assert isinstance(batch, SinusoidBatch)
    assert batch.support_x.shape == batch.support_y.shape == (4, 5, 1)
    assert batch.query_x.shape == batch.query_y.shape == (4, 7, 1)
    assert batch.amplitude.shape == batch.phase.shape == (4,)
    assert all(t.dtype == torch.float32 for t in batch)


def test_default_ranges_follow_maml():
    tasks = SinusoidTasks()
    assert tasks.amplitude_range == (0.1, 5.0)
    assert tasks.phase_range == (0.0, math.pi)
    assert tasks.x_range == (-5.0, 5.0)
    b = tasks.sample(2000, 5, 5)
    assert b.amplitude.min() >= 0.1 and b.amplitude.max() <= 5.0
    assert b.phase.min() >= 0.0 and b.phase.max() <= math.pi
    xs = torch.cat([b.support_x, b.query_x], dim=1)
    assert xs.min() >= -5.0 and xs.max() <= 5.0
    # Uniform over the whole range, not a corner of it.
    assert b.amplitude.min() < 0.5 and b.amplitude.max() > 4.5
    assert xs.min() < -4.9 and xs.max() > 4.9


def test_custom_ranges():
    b = SinusoidTasks(amplitude_range=(1, 2), phase_range=(0, 0), x_range=(0, 1)).sample(50, 3, 3)
    assert b.amplitude.min() >= 1 and b.amplitude.max() <= 2
    assert torch.all(b.phase == 0)
    assert b.support_x.min() >= 0 and b.query_x.max() <= 1


def test_outputs_match_the_formula():
    b = SinusoidTasks(seed=3).sample(8, 10, 20)
    a, p = b.amplitude[:, None, None], b.phase[:, None, None]
    torch.testing.assert_close(b.support_y, a * torch.sin(b.support_x - p))
    torch.testing.assert_close(b.query_y, a * torch.sin(b.query_x - p))
    assert sinusoid(torch.tensor([[math.pi / 2]]), 2.0, 0.0).item() == pytest.approx(2.0)


def test_same_seed_same_stream_and_different_seed_differs():
    t1, t2, t3 = SinusoidTasks(seed=1), SinusoidTasks(seed=1), SinusoidTasks(seed=2)
    for _ in range(3):
        b1, b2 = t1.sample(4, 5, 5), t2.sample(4, 5, 5)
        for x, y in zip(b1, b2, strict=True):
            assert torch.equal(x, y)
    assert not torch.equal(
        t3.sample(4, 5, 5).amplitude, SinusoidTasks(seed=1).sample(4, 5, 5).amplitude
    )
    # Consecutive batches differ.
    assert not torch.equal(t1.sample(4, 5, 5).amplitude, t1.sample(4, 5, 5).amplitude)


def test_explicit_generator_leaves_own_stream_alone():
    t1, t2 = SinusoidTasks(seed=0), SinusoidTasks(seed=0)
    t1.sample(4, 5, 5, generator=torch.Generator().manual_seed(99))
    assert torch.equal(t1.sample(4, 5, 5).support_x, t2.sample(4, 5, 5).support_x)


def test_evaluation_tasks_fixed_and_independent_of_training():
    tasks = SinusoidTasks(seed=0)
    e1 = tasks.evaluation_tasks(num_tasks=10, k_support=5, q_query=50)
    tasks.sample(16, 5, 5)
    e2 = tasks.evaluation_tasks(num_tasks=10, k_support=5, q_query=50)
    assert all(torch.equal(x, y) for x, y in zip(e1, e2, strict=True))
    assert e1.query_x.shape == (10, 50, 1)
    assert not torch.equal(e1.amplitude, SinusoidTasks(seed=0).sample(10, 5, 50).amplitude)


def test_grid_and_true_curve():
    tasks = SinusoidTasks()
    x = tasks.grid(101)
    assert x.shape == (101, 1) and x.dtype == torch.float32
    assert x[0].item() == -5.0 and x[-1].item() == 5.0
    b = tasks.sample(3, 5, 5)
    curve = tasks.true_curve(b, x)
    assert curve.shape == (3, 101, 1)
    torch.testing.assert_close(curve[1], b.amplitude[1] * torch.sin(x - b.phase[1]))
    assert tasks.true_curve(b).shape == (3, 200, 1)


@pytest.mark.parametrize("args", [(0, 5, 5), (4, 0, 5), (4, 5, -1), (2.5, 5, 5)])
def test_bad_counts(args):
    with pytest.raises(ValueError, match=r"must be a positive integer"):
        SinusoidTasks().sample(*args)


@pytest.mark.parametrize(
    "kwargs, text",
    [
        ({"amplitude_range": (5.0, 0.1)}, r"amplitude_range.*\(5\.0, 0\.1\)"),
        ({"phase_range": (3.0, 0.0)}, r"phase_range.*\(3\.0, 0\.0\)"),
        ({"x_range": (5, -5)}, r"x_range.*\(5\.0, -5\.0\)"),
        ({"x_range": (float("nan"), 1)}, r"x_range"),
    ],
)
def test_bad_ranges(kwargs, text):
    with pytest.raises(ValueError, match=text):
        SinusoidTasks(**kwargs)


def test_bad_grid_and_eval_counts():
    with pytest.raises(ValueError, match="num_points"):
        SinusoidTasks().grid(0)
    with pytest.raises(ValueError, match="batch_size"):
        SinusoidTasks().evaluation_tasks(num_tasks=0)
