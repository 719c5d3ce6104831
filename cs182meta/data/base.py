"""The dataset shape every class-structured dataset in the kit shares.

A :class:`ClassDataset` maps a class index to all of that class's examples. It is what
:class:`cs182meta.episodes.EpisodeSampler` draws few-shot tasks from.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch

ROTATIONS = (0, 90, 180, 270)  # degrees, counter-clockwise: torch.rot90(image, k) for k = 0..3


@dataclass
class ClassDataset:
    """Images grouped by class, stored densely.

    Attributes:
        images: ``uint8`` tensor ``[num_classes, examples_per_class, 1, H, W]``, strokes
            bright (255) on a dark background (0). Stored as bytes to keep memory low;
            the episode sampler turns them into ``float32`` in ``[0, 1]``.
        class_names: one name per class, e.g. ``"Greek/character03/rot090"``.
        alphabets: the alphabet each class belongs to (same length as ``class_names``).
        name: the dataset's name and split, for messages and plots.
    """

    images: torch.Tensor
    class_names: list[str]
    alphabets: list[str]
    name: str = "dataset"
    info: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.images.ndim != 5:
            raise ValueError(
                f"{self.name}: images must be [classes, examples, channels, H, W], "
                f"got shape {tuple(self.images.shape)}"
            )
        if self.images.dtype != torch.uint8:
            raise ValueError(f"{self.name}: images must be uint8, got {self.images.dtype}")
        n = self.images.shape[0]
        if len(self.class_names) != n or len(self.alphabets) != n:
            raise ValueError(
                f"{self.name}: {n} classes of images but {len(self.class_names)} class "
                f"names and {len(self.alphabets)} alphabet entries"
            )

    def __len__(self) -> int:
        return self.images.shape[0]

    def __getitem__(self, class_index: int) -> torch.Tensor:
        """All examples of one class: ``uint8 [examples_per_class, 1, H, W]``."""
        return self.images[class_index]

    @property
    def examples_per_class(self) -> int:
        return self.images.shape[1]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.images.shape[2:])

    def subset(self, class_indices, name: str | None = None) -> ClassDataset:
        """A dataset holding only ``class_indices`` (in that order)."""
        idx = torch.as_tensor(list(class_indices), dtype=torch.long)
        return ClassDataset(
            images=self.images[idx],
            class_names=[self.class_names[i] for i in idx.tolist()],
            alphabets=[self.alphabets[i] for i in idx.tolist()],
            name=name or self.name,
            info=dict(self.info),
        )

    def by_alphabet(self, alphabets, name: str | None = None) -> ClassDataset:
        """A dataset holding only the classes whose alphabet is in ``alphabets``."""
        wanted = set(alphabets)
        unknown = wanted - set(self.alphabets)
        if unknown:
            raise ValueError(
                f"{self.name}: no alphabet named {sorted(unknown)}; "
                f"it has {sorted(set(self.alphabets))}"
            )
        keep = [i for i, a in enumerate(self.alphabets) if a in wanted]
        return self.subset(keep, name=name)

    def with_rotations(self, name: str | None = None) -> ClassDataset:
        """Each class and its 90, 180 and 270 degree rotations, each rotation a class of its own.

        The standard Omniglot augmentation for meta-training (Santoro et al. 2016, Vinyals
        et al. 2016): ``[C, E, 1, H, W]`` -> ``[4C, E, 1, H, W]``, the four rotations of a
        class adjacent and named ``"<class>/rot000"`` ... ``"<class>/rot270"``. Square
        images only.
        """
        height, width = self.images.shape[-2:]
        if height != width:
            raise ValueError(f"{self.name}: rotating by 90 degrees needs square images, not {height}x{width}")
        rotated = torch.stack([torch.rot90(self.images, k, dims=(-2, -1)) for k in range(4)], dim=1)  # (C, 4, E, 1, H, W)
        return ClassDataset(
            images=rotated.flatten(0, 1).contiguous(),  # (4C, E, 1, H, W)
            class_names=[f"{n}/rot{deg:03d}" for n in self.class_names for deg in ROTATIONS],
            alphabets=[a for a in self.alphabets for _ in ROTATIONS],
            name=name or self.name,
            info={**self.info, "rotations": True},
        )

    def __repr__(self) -> str:
        c, e, ch, h, w = self.images.shape
        return (
            f"ClassDataset({self.name!r}: {c} classes x {e} examples of {ch}x{h}x{w}, "
            f"{len(set(self.alphabets))} alphabets)"
        )
