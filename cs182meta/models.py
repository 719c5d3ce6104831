"""Shared network building blocks (backbones only, never an exercise's solution).

* :class:`Conv4` — the 4-block convolutional backbone used by Matching Networks,
  Prototypical Networks and MAML on Omniglot.
* :class:`SineMLP` — the 1 -> 40 -> 40 -> 1 ReLU regressor of MAML's sinusoid experiment.

Both are plain ``nn.Module`` s with no in-place parameter tricks, so they work with
``torch.func.functional_call`` (run the module with parameters you pass in) and
``torch.func.vmap`` (run it for a whole batch of tasks at once).
"""

from __future__ import annotations

import torch
from torch import nn

NORMS = ("batch", "layer")


def conv_block(in_channels: int, out_channels: int, batch_stats_bn: bool, norm: str = "batch"
               ) -> nn.Sequential:
    """3x3 conv (padding 1) -> BatchNorm (or per-image LayerNorm) -> ReLU -> 2x2 max-pool:
    halves H and W."""
    if norm == "batch":
        normalise = nn.BatchNorm2d(out_channels, track_running_stats=not batch_stats_bn)
    else:  # over each image's channels and positions: GroupNorm with one group
        normalise = nn.GroupNorm(1, out_channels)
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1),
        normalise,
        nn.ReLU(),
        nn.MaxPool2d(2),
    )


class Conv4(nn.Module):
    """Four conv blocks of ``hidden_channels`` filters, then flatten (and an optional head).

    For 28x28 inputs the spatial size goes 28 -> 14 -> 7 -> 3 -> 1, so the feature vector
    has ``hidden_channels`` (64) entries; for 84x84 it is 64 * 5 * 5 = 1600.

    Args:
        in_channels: 1 for Omniglot-style glyphs, 3 for colour images.
        hidden_channels: filters per block (64 in the papers).
        num_classes: if set, a linear layer maps the features to this many logits
            (MAML's classifier); if ``None`` the module returns features (ProtoNets).
        image_size: input height = width, used to size the head.
        batch_stats_bn: if ``True``, BatchNorm normalizes with the statistics of the batch
            it is given, in training *and* evaluation, and keeps no running averages
            (``track_running_stats=False``): nothing is shared between tasks, and the
            module has no buffers that ``vmap`` would have to update. A batch of query
            images then shares its statistics — the *transductive* protocol (Nichol et
            al., 2018) of MAML's reference code, unlike eval-mode BatchNorm, where each
            query is judged on its own.
        norm: ``"batch"`` (BatchNorm, the papers' choice) or ``"layer"``: each image is
            normalised over its own channels and positions (``GroupNorm`` with one group),
            so no image of a batch changes another's output, in training or evaluation,
            and training and evaluation compute the same function (notebook 04's
            protocol). ``batch_stats_bn`` must then be ``False``.

    Shapes: input ``[B, in_channels, H, W]`` -> output ``[B, feature_dim]`` or
    ``[B, num_classes]``.
    """

    def __init__(
        self,
        in_channels: int = 1,
        hidden_channels: int = 64,
        num_classes: int | None = None,
        image_size: int = 28,
        batch_stats_bn: bool = False,
        norm: str = "batch",
    ):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if norm != "batch" and batch_stats_bn:
            raise ValueError("batch_stats_bn=True is a BatchNorm setting: use it with norm='batch'")
        channels = [in_channels] + [hidden_channels] * 4
        self.features = nn.Sequential(
            *(conv_block(c_in, c_out, batch_stats_bn, norm) for c_in, c_out in zip(channels, channels[1:]))
        )
        side = image_size
        for _ in range(4):
            side //= 2
        self.feature_dim = hidden_channels * side * side
        if self.feature_dim == 0:
            raise ValueError(f"image_size={image_size} is too small for 4 pooling steps (min 16)")
        self.head = nn.Linear(self.feature_dim, num_classes) if num_classes else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = self.features(x).flatten(start_dim=1)  # (B, feature_dim)
        return z if self.head is None else self.head(z)  # (B, num_classes)


class SineMLP(nn.Module):
    """The MAML sinusoid regressor: ``[B, 1] -> 40 -> ReLU -> 40 -> ReLU -> [B, 1]``."""

    def __init__(self, hidden: int = 40, in_features: int = 1, out_features: int = 1):
        super().__init__()
        self.net = nn.Sequential(
            nn.Linear(in_features, hidden),
            nn.ReLU(),
            nn.Linear(hidden, hidden),
            nn.ReLU(),
            nn.Linear(hidden, out_features),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)  # (B, out_features)
