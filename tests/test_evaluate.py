import io
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


def test_progress_caps_every_loop_with_or_without_a_bar(monkeypatch):
    import cs182meta.evaluate as evaluate

    monkeypatch.setenv("CS182META_MAX_STEPS", "3")
    assert list(progress(range(50), desc="x")) == [0, 1, 2]
    assert list(progress(iter(range(50)))) == [0, 1, 2]  # no len(): still capped
    assert list(progress(range(2))) == [0, 1]  # shorter loops are left as they are
    monkeypatch.setattr(evaluate, "_interactive", lambda: True)
    monkeypatch.setattr(sys, "stderr", io.StringIO())
    bar = progress(range(50), desc="x")
    assert bar.total == 3 and list(bar) == [0, 1, 2]
    monkeypatch.delenv("CS182META_MAX_STEPS")
    assert len(list(progress(range(50)))) == 50


def test_progress_writes_a_run_log_line_per_loop(monkeypatch, tmp_path, tiny_images):
    from cs182meta import runlog
    from cs182meta.episodes import EpisodeSampler

    log = tmp_path / "run.jsonl"
    monkeypatch.setenv("CS182META_RUN_LOG", str(log))
    monkeypatch.setenv("CS182META_MAX_STEPS", "4")
    sampler = EpisodeSampler(tiny_images, 4, 1, 2, num_episodes=30)
    evaluate_episodes(lambda ep: torch.zeros(len(ep.query_y), 4), sampler)
    for _ in progress(sampler.loader(batch_size=5), total=6, desc="meta-training"):
        pass
    first, second = runlog.read(log)
    assert (first["desc"], first["planned"], first["steps"]) == ("evaluating", 30, 4)
    assert (second["desc"], second["planned"], second["steps"]) == ("meta-training", 6, 4)
    for record in (first, second):
        assert 0 <= record["first_item_s"] <= record["first_step_s"] <= record["total_s"]
        assert record["peak_cuda_bytes"] is None  # CUDA is not in use
