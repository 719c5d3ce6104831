import random

import numpy as np
import pytest
import torch

from cs182meta import device as dev


def test_pick_device_defaults_to_an_available_device(monkeypatch):
    monkeypatch.delenv("CS182META_DEVICE", raising=False)
    d = dev.pick_device()
    expected = "cuda" if torch.cuda.is_available() else ("mps" if dev._mps_available() else "cpu")
    assert d.type == expected


def test_env_override_selects_cpu(monkeypatch):
    monkeypatch.setenv("CS182META_DEVICE", "cpu")
    assert dev.pick_device() == torch.device("cpu")


def test_argument_beats_env(monkeypatch):
    monkeypatch.setenv("CS182META_DEVICE", "cuda:7")
    assert dev.pick_device("cpu") == torch.device("cpu")


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_absent_cuda_is_a_clear_error_not_a_fallback(monkeypatch):
    monkeypatch.setenv("CS182META_DEVICE", "cuda")
    with pytest.raises(RuntimeError, match="no CUDA GPU.*CS182META_DEVICE"):
        dev.pick_device()


def test_absent_mps_is_a_clear_error(monkeypatch):
    monkeypatch.setattr(dev, "_mps_available", lambda: False)
    with pytest.raises(RuntimeError, match="MPS"):
        dev.pick_device("mps")


def test_nonsense_device_name(monkeypatch):
    monkeypatch.setenv("CS182META_DEVICE", "gpu-please")
    with pytest.raises(RuntimeError, match="not a device name"):
        dev.pick_device()


def test_seed_everything_repeats_all_generators():
    def draw():
        return random.random(), np.random.rand(), torch.rand(3)

    dev.seed_everything(5)
    a = draw()
    dev.seed_everything(5)
    b = draw()
    assert a[0] == b[0] and a[1] == b[1] and torch.equal(a[2], b[2])
    dev.seed_everything(6)
    assert draw()[0] != a[0]


def test_set_deterministic_toggles_torch():
    try:
        dev.set_deterministic(True)
        assert torch.are_deterministic_algorithms_enabled()
    finally:
        dev.set_deterministic(False)
    assert not torch.are_deterministic_algorithms_enabled()


def test_describe_is_one_line_with_versions():
    line = dev.describe("cpu")
    assert "\n" not in line and "torch " + torch.__version__ in line and "cpu" in line


def test_timer_measures_elapsed_time():
    import time

    with dev.Timer("cpu") as t:
        time.sleep(0.02)
    assert 0.015 < t.elapsed < 1.0


def test_peak_memory_on_cpu_grows_with_an_allocation():
    before = dev.peak_memory("cpu")
    block = np.ones(64 * 2**20 // 8)  # 64 MiB, touched
    assert dev.peak_memory("cpu") >= before
    assert dev.peak_memory("cpu") >= block.nbytes


def test_to_device_walks_nested_structures():
    from cs182meta.episodes import Episode

    ep = Episode(*(torch.zeros(2) for _ in range(5)))
    moved = dev.to_device({"ep": ep, "list": [torch.ones(1), "text"], "n": 3}, "cpu")
    assert isinstance(moved["ep"], Episode)
    assert moved["list"][1] == "text" and moved["n"] == 3
    assert moved["list"][0].device.type == "cpu"


def test_timer_synchronizes_its_device_before_each_clock_reading(monkeypatch):
    calls = []
    monkeypatch.setattr(dev, "synchronize", calls.append)
    with dev.Timer("cuda:0"):
        assert calls == ["cuda:0"]
    assert calls == ["cuda:0", "cuda:0"]


def test_synchronize_waits_for_the_gpu_it_is_given(monkeypatch):
    calls = []
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: calls.append(device))
    dev.synchronize("cuda:1")
    assert calls == [torch.device("cuda:1")]
    dev.synchronize("cpu")
    assert calls == [torch.device("cuda:1")]
    monkeypatch.setattr(torch.cuda, "is_initialized", lambda: True)
    dev.synchronize()  # no device: every initialised CUDA device
    assert calls == [torch.device("cuda:1"), None]
