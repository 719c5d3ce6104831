"""Few-shot episodes: N-way K-shot tasks with Q queries per class.

An episode is one task T_i: a support set D_tr (N classes x K examples) and a query set
D_ts (the same N classes x Q other examples). Labels are remapped to 0..N-1 in the order
the classes were drawn; ``classes`` keeps the dataset's own class ids.

Order of examples (both sets are *class-major*)::

    support_x[c * K + k]  is shot k of the c-th drawn class, support_y[c * K + k] == c
    query_x[c * Q + q]    is query q of the c-th drawn class,  query_y[c * Q + q] == c

Shuffle inside your model if the order must not carry information (e.g. a sequence model).

Episode ``i`` of a sampler depends only on ``(seed, i)``, never on what was drawn before, so
the same seed gives the same episodes in the same order however many DataLoader workers
produce them.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator
from typing import NamedTuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from cs182meta.device import to_device

CUDA_WORKERS = 4  # DataLoader workers that draw episodes for a GPU (loader(device="cuda"))


class Episode(NamedTuple):
    """One task, or a batch of B tasks stacked on a leading axis (DataLoader collation).

    Fields (unbatched shape; batched adds a leading ``B``):
        support_x: ``float32 [N*K, C, H, W]`` in ``[0, 1]``
        support_y: ``int64 [N*K]`` in ``0..N-1``
        query_x:   ``float32 [N*Q, C, H, W]``
        query_y:   ``int64 [N*Q]``
        classes:   ``int64 [N]`` the dataset's class ids, in label order
    """

    support_x: torch.Tensor
    support_y: torch.Tensor
    query_x: torch.Tensor
    query_y: torch.Tensor
    classes: torch.Tensor

    def to(self, device: torch.device | str, non_blocking: bool | None = None) -> Episode:
        """This episode with every tensor on ``device``; copies from pinned memory to a GPU
        are asynchronous unless ``non_blocking=False`` (see
        :func:`cs182meta.device.to_device`)."""
        return to_device(self, device, non_blocking)

    @property
    def n_way(self) -> int:
        return self.classes.shape[-1]


def _positive_int(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a positive whole number, got {value!r}")
    return int(value)


class EpisodeSampler(Dataset):
    """Draws N-way K-shot episodes with Q queries per class from a class-structured dataset.

    Args:
        dataset: anything that maps a class index to that class's examples:
            a :class:`cs182meta.data.ClassDataset`, a tensor ``[classes, examples, C, H, W]``
            or a sequence of per-class tensors ``[examples_c, C, H, W]``. ``uint8``
            images are scaled to ``float32`` in ``[0, 1]``.
        n_way, k_shot, q_query: classes per task, support and query examples per class.
        num_episodes: how many episodes one pass yields (``None``: endless iteration;
            ``len()`` is then undefined).
        seed: episode ``i`` is a pure function of ``(seed, i)``.

    Iterating yields :class:`Episode` s; indexing ``sampler[i]`` gives episode ``i``.
    Use :meth:`loader` for batches of tasks ``[B, N*K, C, H, W]`` and worker processes.
    """

    def __init__(
        self,
        dataset,
        n_way: int,
        k_shot: int,
        q_query: int,
        num_episodes: int | None = None,
        seed: int = 0,
    ):
        self.n_way = _positive_int("n_way", n_way)
        self.k_shot = _positive_int("k_shot", k_shot)
        self.q_query = _positive_int("q_query", q_query)
        self.num_episodes = None if num_episodes is None else _positive_int(
            "num_episodes", num_episodes
        )
        self.seed = int(seed)
        self._dense = self._dense_images(dataset)
        self._classes = dataset if self._dense is None else None
        num_classes = len(dataset)
        if self.n_way > num_classes:
            raise ValueError(
                f"n_way={self.n_way} but the dataset has only {num_classes} classes; "
                f"ask for at most {num_classes} ways"
            )
        fewest = self._fewest_examples(dataset)
        if self.k_shot + self.q_query > fewest:
            raise ValueError(
                f"k_shot + q_query = {self.k_shot} + {self.q_query} = "
                f"{self.k_shot + self.q_query} examples per class are needed, but a class "
                f"of this dataset has only {fewest}"
            )
        self._num_classes = num_classes
        if self._dense is not None:  # one flat gather per episode is ~10x faster than 2-D
            self._per_class = self._dense.shape[1]
            self._flat = self._dense.reshape(num_classes * self._per_class, *self._dense.shape[2:])
        labels = torch.arange(self.n_way)
        self._support_y = labels.repeat_interleave(self.k_shot)  # (N*K,)
        self._query_y = labels.repeat_interleave(self.q_query)  # (N*Q,)

    @staticmethod
    def _dense_images(dataset) -> torch.Tensor | None:
        images = getattr(dataset, "images", dataset)
        if isinstance(images, torch.Tensor) and images.ndim >= 3:
            return images
        return None

    def _fewest_examples(self, dataset) -> int:
        if self._dense is not None:
            return self._dense.shape[1]
        return min(len(dataset[c]) for c in range(len(dataset)))

    def __len__(self) -> int:
        if self.num_episodes is None:
            raise TypeError("this sampler is endless (num_episodes=None) and has no length")
        return self.num_episodes

    def __iter__(self) -> Iterator[Episode]:
        indices = itertools.count() if self.num_episodes is None else range(self.num_episodes)
        for i in indices:
            yield self[i]

    def __getitem__(self, index: int) -> Episode:
        if index < 0:
            raise IndexError(f"episode index must be >= 0, got {index}")
        rng = np.random.default_rng([self.seed, index])
        n, k, q = self.n_way, self.k_shot, self.q_query
        classes = rng.choice(self._num_classes, size=n, replace=False)  # (N,)
        if self._dense is not None:
            picks = rng.random((n, self._per_class)).argsort(axis=1)[:, : k + q]  # (N, K+Q)
            rows = torch.from_numpy((classes[:, None] * self._per_class + picks).ravel())
            images = self._flat.index_select(0, rows).view(n, k + q, *self._flat.shape[1:])
        else:
            images = torch.stack(
                [
                    torch.as_tensor(self._classes[c])[
                        torch.from_numpy(rng.permutation(len(self._classes[c]))[: k + q])
                    ]
                    for c in classes.tolist()
                ]
            )  # (N, K+Q, C, H, W)
        if images.dtype == torch.uint8:
            images = images.to(torch.float32).mul_(1 / 255)
        else:
            images = images.to(torch.float32)
        shape = images.shape[2:]
        return Episode(
            support_x=images[:, :k].reshape(n * k, *shape),  # (N*K, C, H, W)
            support_y=self._support_y.clone(),  # (N*K,)
            query_x=images[:, k:].reshape(n * q, *shape),  # (N*Q, C, H, W)
            query_y=self._query_y.clone(),  # (N*Q,)
            classes=torch.from_numpy(classes).long(),  # (N,)
        )

    def loader(
        self,
        batch_size: int | None = None,
        num_workers: int | None = None,
        pin_memory: bool | None = None,
        device: torch.device | str | None = None,
    ) -> DataLoader:
        """A DataLoader over this sampler's episodes, in index order.

        With ``batch_size=B`` each item is an :class:`Episode` whose fields are stacked to
        ``[B, N*K, C, H, W]`` etc., ready for ``torch.func.vmap`` over tasks; with ``None``
        each item is one episode. Workers do not change which episodes come out, nor their
        order.

        ``device`` is where the episodes will be used: for a CUDA device the defaults are
        :data:`CUDA_WORKERS` worker processes (at most half the CPU cores) and pinned
        memory, so episodes are drawn while the GPU computes and
        :meth:`Episode.to` copies them asynchronously; for any other device (or none),
        no workers and no pinning. ``num_workers`` and ``pin_memory`` override them.
        """
        on_cuda = device is not None and torch.device(device).type == "cuda"
        if num_workers is None:
            num_workers = min(CUDA_WORKERS, (os.cpu_count() or 1) // 2) if on_cuda else 0
        if pin_memory is None:
            pin_memory = on_cuda
        indices = itertools.count() if self.num_episodes is None else range(len(self))
        return DataLoader(
            self,
            batch_size=batch_size,
            sampler=indices,
            num_workers=num_workers,
            pin_memory=pin_memory,
        )
