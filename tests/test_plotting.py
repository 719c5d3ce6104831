import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from cs182meta.episodes import EpisodeSampler  # noqa: E402
from cs182meta.plotting import plot_learning_curves, show_episode  # noqa: E402


def test_show_episode_draws_support_and_query(tiny_images, tmp_path):
    ep = EpisodeSampler(tiny_images, 5, 2, 4)[0]
    fig = show_episode(ep, max_queries=3, class_names=[f"cls{i}" for i in range(12)])
    support_ax, query_ax = fig.axes
    assert "2-shot" in support_ax.get_title() and "3 of 4" in query_ax.get_title()
    assert support_ax.images[0].get_array().shape == (5 * 30, 2 * 30)
    assert query_ax.images[0].get_array().shape == (5 * 30, 3 * 30)
    labels = [t.get_text() for t in support_ax.get_yticklabels()]
    assert labels[0].startswith("y=0: cls")
    fig.savefig(tmp_path / "ep.png")


def test_show_episode_refuses_a_batch(tiny_images):
    batch = next(iter(EpisodeSampler(tiny_images, 3, 1, 1, num_episodes=2).loader(batch_size=2)))
    with pytest.raises(ValueError, match="one episode"):
        show_episode(batch)


def test_learning_curves_plot_each_series():
    ax = plot_learning_curves({"a": [0.2, 0.5, 0.7], "b": ([0, 10], [0.3, 0.4])}, chance=0.2)
    assert len(ax.lines) == 3
    assert list(ax.lines[1].get_xdata()) == [0, 10]


def test_accuracy_vs_shots_draws_a_line_per_method_and_chance():
    from cs182meta.evaluate import Interval
    from cs182meta.plotting import plot_accuracy_vs_shots

    results = {"a": [Interval(40, 2, 10), Interval(60, 2, 10)], "b": [Interval(50, 1, 10)] * 2}
    ax = plot_accuracy_vs_shots(results, (1, 5), n_way=5)
    assert len(ax.containers) == 2  # one errorbar per method
    assert [line.get_ydata()[0] for line in ax.lines if line.get_linestyle() == "--"] == [20]


def test_smooth_is_a_moving_average_at_the_end_of_each_window():
    from cs182meta.plotting import smooth

    assert smooth([1, 2, 3, 4, 5], window=2) == ([2, 3, 4, 5], [1.5, 2.5, 3.5, 4.5])
    assert smooth([4.0, 0.0, 2.0], window=3) == ([3], [2.0])
    assert smooth([1, 2], window=3) == ([], [])  # fewer values than a window: no point
    steps, means = smooth(list(range(100)))  # default window: a twentieth, here 5
    assert steps[0] == 5 and steps[-1] == 100 and len(means) == 96
    assert means[0] == sum(range(5)) / 5
    assert smooth([7, 9]) == ([1, 2], [7.0, 9.0])  # a short curve: a window of one
    ax = plot_learning_curves({"smoothed": smooth([0.1, 0.3, 0.5, 0.7], window=2)})
    assert list(ax.lines[0].get_xdata()) == [2, 3, 4]
