import pytest
import torch

from cs182meta.data import ClassDataset
from cs182meta.episodes import Episode, EpisodeSampler


def ids_of(x: torch.Tensor) -> torch.Tensor:
    """Recover ``class * 8 + example`` from a tiny_images float image batch."""
    return (x[..., 0, 0, 0] * 255).round().long()


def test_shapes_labels_and_value_range(tiny_images):
    ep = EpisodeSampler(tiny_images, n_way=5, k_shot=2, q_query=3, seed=0)[0]
    assert ep.support_x.shape == (10, 1, 28, 28) and ep.support_x.dtype == torch.float32
    assert ep.query_x.shape == (15, 1, 28, 28)
    assert ep.support_y.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert ep.query_y.tolist() == sum(([c] * 3 for c in range(5)), [])
    assert ep.classes.shape == (5,) and ep.n_way == 5
    assert 0.0 <= ep.support_x.min() and ep.support_x.max() <= 1.0


def test_class_major_order_and_original_class_ids(tiny_images):
    ep = EpisodeSampler(tiny_images, n_way=4, k_shot=2, q_query=3, seed=3)[7]
    support, query = ids_of(ep.support_x), ids_of(ep.query_x)
    for label, cls in enumerate(ep.classes.tolist()):
        assert (support[label * 2 : label * 2 + 2] // 8 == cls).all()
        assert (query[label * 3 : label * 3 + 3] // 8 == cls).all()
    assert len(set(ep.classes.tolist())) == 4


def test_support_and_query_examples_are_disjoint(tiny_images):
    sampler = EpisodeSampler(tiny_images, n_way=5, k_shot=3, q_query=5, seed=1)
    for ep in (sampler[i] for i in range(20)):
        s, q = set(ids_of(ep.support_x).tolist()), set(ids_of(ep.query_x).tolist())
        assert not s & q and len(s) == 15 and len(q) == 25


def test_same_seed_same_episodes_different_seed_different(tiny_images):
    a = [EpisodeSampler(tiny_images, 5, 1, 2, seed=4)[i] for i in range(5)]
    b = [EpisodeSampler(tiny_images, 5, 1, 2, seed=4)[i] for i in range(5)]
    c = [EpisodeSampler(tiny_images, 5, 1, 2, seed=5)[i] for i in range(5)]
    assert all(torch.equal(x.support_x, y.support_x) for x, y in zip(a, b))
    assert not all(torch.equal(x.classes, y.classes) for x, y in zip(a, c))


def test_iteration_yields_num_episodes_in_index_order(tiny_images):
    sampler = EpisodeSampler(tiny_images, 3, 1, 1, num_episodes=6, seed=2)
    episodes = list(sampler)
    assert len(episodes) == len(sampler) == 6
    assert torch.equal(episodes[4].classes, sampler[4].classes)


def test_endless_sampler_has_no_length_but_iterates(tiny_images):
    sampler = EpisodeSampler(tiny_images, 3, 1, 1, seed=2)
    with pytest.raises(TypeError, match="endless"):
        len(sampler)
    it = iter(sampler)
    assert isinstance(next(it), Episode) and isinstance(next(it), Episode)


def test_batches_stack_tasks_for_vmap(tiny_images):
    sampler = EpisodeSampler(tiny_images, 5, 1, 3, num_episodes=8, seed=0)
    batch = next(iter(sampler.loader(batch_size=4)))
    assert isinstance(batch, Episode)
    assert batch.support_x.shape == (4, 5, 1, 28, 28)
    assert batch.query_y.shape == (4, 15) and batch.classes.shape == (4, 5)
    assert torch.equal(batch.query_x[2], sampler[2].query_x)


def test_workers_do_not_change_the_episodes(tiny_images):
    sampler = EpisodeSampler(tiny_images, 5, 2, 2, num_episodes=12, seed=9)
    single = list(sampler.loader(batch_size=3, num_workers=0))
    parallel = list(sampler.loader(batch_size=3, num_workers=2))
    assert len(single) == len(parallel) == 4
    for a, b in zip(single, parallel):
        assert torch.equal(a.support_x, b.support_x) and torch.equal(a.classes, b.classes)


def test_class_dataset_and_ragged_per_class_lists(tiny_images):
    ds = ClassDataset(tiny_images, [f"c{i}" for i in range(12)], ["a"] * 12, name="tiny")
    ep = EpisodeSampler(ds, 3, 1, 2, seed=0)[0]
    assert ep.support_x.shape == (3, 1, 28, 28)
    ragged = [torch.rand(n, 1, 5, 5) for n in (4, 6, 9)]
    ep = EpisodeSampler(ragged, 3, 2, 2, seed=0)[1]
    assert ep.query_x.shape == (6, 1, 5, 5)
    with pytest.raises(ValueError, match="only 4"):
        EpisodeSampler(ragged, 2, 3, 2)


def test_episode_moves_to_a_device(tiny_images):
    ep = EpisodeSampler(tiny_images, 2, 1, 1)[0].to("cpu")
    assert isinstance(ep, Episode) and ep.query_x.device.type == "cpu"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(n_way=13, k_shot=1, q_query=1), r"n_way=13 .* only 12 classes"),
        (dict(n_way=5, k_shot=5, q_query=4), r"5 \+ 4 = 9 .* only 8"),
        (dict(n_way=0, k_shot=1, q_query=1), "n_way must be a positive"),
        (dict(n_way=5, k_shot=-1, q_query=1), "k_shot must be a positive"),
        (dict(n_way=5, k_shot=1, q_query=0), "q_query must be a positive"),
        (dict(n_way=5, k_shot=1.5, q_query=1), "k_shot must be a positive"),
        (dict(n_way=5, k_shot=1, q_query=1, num_episodes=0), "num_episodes must be"),
    ],
)
def test_bad_input_names_the_numbers(tiny_images, kwargs, message):
    with pytest.raises(ValueError, match=message):
        EpisodeSampler(tiny_images, **kwargs)


class RecordingDataLoader:
    """Stands in for torch's DataLoader: records the keyword arguments it was built with."""

    calls: list = []

    def __init__(self, dataset, **kwargs):
        self.calls.append(kwargs)


@pytest.mark.parametrize(
    "arguments, workers, pinned",
    [
        (dict(device="cuda"), 1, True),  # 2 cores here: at most half of them
        (dict(device=torch.device("cuda", 1)), 1, True),
        (dict(device="cpu"), 0, False),
        (dict(), 0, False),
        (dict(device="cuda", num_workers=0, pin_memory=False), 0, False),  # explicit wins
    ],
)
def test_loader_for_a_gpu_pins_memory_and_uses_workers(tiny_images, monkeypatch, arguments,
                                                      workers, pinned):
    import cs182meta.episodes as episodes

    monkeypatch.setattr(episodes, "DataLoader", RecordingDataLoader)
    monkeypatch.setattr(episodes.os, "cpu_count", lambda: 2)
    RecordingDataLoader.calls = []
    EpisodeSampler(tiny_images, 5, 1, 1, num_episodes=4).loader(batch_size=2, **arguments)
    (kwargs,) = RecordingDataLoader.calls
    assert (kwargs["num_workers"], kwargs["pin_memory"]) == (workers, pinned)
    assert kwargs["batch_size"] == 2 and list(kwargs["sampler"]) == [0, 1, 2, 3]
    monkeypatch.setattr(episodes.os, "cpu_count", lambda: 64)
    EpisodeSampler(tiny_images, 5, 1, 1, num_episodes=4).loader(device="cuda")
    assert RecordingDataLoader.calls[-1]["num_workers"] == episodes.CUDA_WORKERS


def test_unbatched_loader_yields_the_samplers_episodes(tiny_images):
    sampler = EpisodeSampler(tiny_images, 4, 1, 2, num_episodes=5, seed=3)
    for i, episode in enumerate(sampler.loader(num_workers=1)):
        assert isinstance(episode, Episode) and torch.equal(episode.query_x, sampler[i].query_x)


def test_episode_to_a_gpu_copies_pinned_tensors_asynchronously(tiny_images, monkeypatch):
    calls = []

    def fake_to(tensor, device, non_blocking=False):
        calls.append((str(device), non_blocking))
        return tensor

    episode = EpisodeSampler(tiny_images, 2, 1, 1)[0]
    monkeypatch.setattr(torch.Tensor, "is_pinned", lambda tensor: True)
    monkeypatch.setattr(torch.Tensor, "to", fake_to)
    episode.to("cuda")
    assert calls == [("cuda", True)] * 5
    calls.clear()
    episode.to("cuda", non_blocking=False)
    assert calls == [("cuda", False)] * 5
    calls.clear()
    episode.to("cpu")
    assert calls == [("cpu", False)] * 5
