"""Pictures for the notebooks: one episode as image grids, and learning curves (with
:func:`smooth`, the moving average they are drawn through)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib.pyplot as plt
import torch


def _grid(ax, images: torch.Tensor, labels: torch.Tensor, n_way: int, title: str) -> None:
    """Draw ``images [n_way * per_class, 1, H, W]`` (class-major) as n_way rows."""
    per_class = images.shape[0] // n_way
    h, w = images.shape[-2:]
    rows = images[:, 0].reshape(n_way, per_class, h, w)  # (N, per_class, H, W)
    canvas = torch.full((n_way * (h + 2), per_class * (w + 2)), 0.25)  # light grid lines
    for r in range(n_way):
        for c in range(per_class):
            canvas[r * (h + 2) + 1 : r * (h + 2) + 1 + h, c * (w + 2) + 1 : c * (w + 2) + 1 + w] = (
                rows[r, c]
            )
    ax.imshow(canvas.numpy(), cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_yticks([r * (h + 2) + h / 2 for r in range(n_way)])
    ax.set_yticklabels([f"y={int(labels[r * per_class])}" for r in range(n_way)])
    ax.set_xticks([])
    ax.set_title(title)


def show_episode(episode, max_queries: int = 5, class_names: Sequence[str] | None = None):
    """Plot one episode: the support set D_tr (left) and the query set D_ts (right).

    Each row is one class of the task, labelled with its episode label ``y`` (and the
    dataset's class name when ``class_names`` is given). Returns the figure.
    """
    if episode.support_x.ndim != 4:
        raise ValueError(
            "show_episode takes one episode (support_x [N*K, C, H, W]); "
            f"got support_x of shape {tuple(episode.support_x.shape)} — index a batch first"
        )
    n = episode.n_way
    k = episode.support_x.shape[0] // n
    q = episode.query_x.shape[0] // n
    shown_q = min(q, max_queries)
    query_idx = torch.arange(n)[:, None] * q + torch.arange(shown_q)  # (N, shown_q)
    query_x = episode.query_x[query_idx.flatten()].cpu()
    query_y = episode.query_y[query_idx.flatten()].cpu()
    label_width = 2.6 if class_names is not None else 0.6
    fig, (ax_s, ax_q) = plt.subplots(
        1, 2, figsize=(label_width + 0.9 * (k + shown_q) + 1.0, 1.0 + 0.8 * n),
        gridspec_kw={"width_ratios": [max(k, 2), max(shown_q, 2)]}, layout="constrained",
    )
    _grid(ax_s, episode.support_x.cpu(), episode.support_y.cpu(), n, f"D_tr: {k}-shot")
    _grid(ax_q, query_x, query_y, n, f"D_ts: {shown_q} of {q}")
    if class_names is not None:
        ids = episode.classes.cpu().tolist()
        ax_s.set_yticklabels([f"y={i}: {class_names[c]}" for i, c in enumerate(ids)])
    fig.suptitle(f"{n}-way {k}-shot episode")
    return fig


def smooth(values: Sequence[float], window: int | None = None) -> tuple[list[int], list[float]]:
    """A moving average of ``values``, for plotting a noisy training curve.

    Each point is the mean of ``window`` consecutive values (by default a twentieth of
    them, at least one), placed at the step that ends its window: returns ``(steps,
    means)`` with steps ``window, window + 1, …, len(values)``, the pair that
    :func:`plot_learning_curves` takes. Fewer values than ``window`` give no point.
    """
    window = window or max(1, len(values) // 20)
    means = [sum(values[i - window : i]) / window for i in range(window, len(values) + 1)]
    return list(range(window, len(values) + 1)), means


def plot_learning_curves(
    curves: Mapping[str, Sequence[float] | tuple[Sequence[float], Sequence[float]]],
    ylabel: str = "accuracy",
    xlabel: str = "meta-training step",
    chance: float | None = None,
    title: str | None = None,
    ax=None,
):
    """Plot named curves on one axis.

    ``curves`` maps a label to either a list of values (x = 0, 1, ...) or a pair
    ``(steps, values)``. ``chance`` draws a dashed horizontal line. Returns the axis.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(6, 3.5))
    for label, curve in curves.items():
        if isinstance(curve, tuple) and len(curve) == 2:
            steps, values = curve
        else:
            steps, values = range(len(curve)), curve
        ax.plot(list(steps), list(values), label=label)
    if chance is not None:
        ax.axhline(chance, color="gray", linestyle="--", label="chance")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.legend()
    ax.grid(alpha=0.3)
    return ax


def plot_accuracy_vs_shots(results: Mapping[str, Sequence], shots: Sequence[int], n_way: int,
                           title: str | None = None, ax=None):
    """Accuracy against shots, one line per method, with 95% error bars and chance.

    ``results`` maps a method's name to one :class:`cs182meta.evaluate.Interval` (in %)
    per entry of ``shots``. Returns the axis.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, accuracies in results.items():
        ax.errorbar(list(shots), [a.mean for a in accuracies], yerr=[a.ci95 for a in accuracies],
                    marker="o", capsize=3, label=name)
    ax.axhline(100 / n_way, color="gray", linestyle="--", label="chance")
    ax.set(xlabel="shots K", ylabel="query accuracy (%)", xticks=list(shots),
           title=title or f"{n_way}-way tasks from unseen alphabets")
    ax.legend()
    return ax
