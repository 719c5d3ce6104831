import math
import sys

import pytest
import torch

from cs182meta.evaluate import Interval, evaluate_episodes, mean_ci95, progress


def test_mean_ci95_formula():
    xs = [0.2, 0.4, 0.6, 0.8]
    r = mean_ci95(xs)
    std = torch.tensor(xs, dtype=torch.float64).std().item()
    assert r.mean == pytest.approx(0.5) and r.n == 4
    assert r.ci95 == pytest.approx(1.96 * std / math.sqrt(4))
    assert str(r.as_percent()).startswith("50.00 ± ")


def test_mean_ci95_single_value_and_empty():
    assert mean_ci95([1.0]) == Interval(1.0, 0.0, 1)
    with pytest.raises(ValueError):
        mean_ci95([])


def test_evaluate_episodes_uses_query_labels(tiny_images):
    from cs182meta.episodes import EpisodeSampler

    sampler = EpisodeSampler(tiny_images, 4, 1, 2, num_episodes=5)

    def perfect(ep):
        return torch.nn.functional.one_hot(ep.query_y, 4).float()

    def always_zero(ep):
        return torch.zeros(len(ep.query_y), 4).index_fill_(1, torch.tensor([0]), 1.0)

    assert evaluate_episodes(perfect, sampler).mean == 1.0
    assert evaluate_episodes(always_zero, sampler).mean == pytest.approx(0.25)


def test_progress_is_silent_under_nbgrader(monkeypatch, capsys):
    monkeypatch.setenv("NBGRADER_EXECUTION", "autograde")
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True, raising=False)
    items = list(progress(range(50), desc="x"))
    assert items == list(range(50))
    assert capsys.readouterr().err == ""


def test_progress_is_silent_when_not_interactive(capsys):
    assert list(progress(range(3))) == [0, 1, 2]
    assert capsys.readouterr().err == ""
