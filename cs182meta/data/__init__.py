"""Datasets: one way in, :func:`load`.

* ``"glyphs"`` (the default) — procedurally generated handwritten glyphs, made on this
  machine, never downloaded; about as hard as Omniglot for few-shot learning.
* ``"omniglot"`` — real Omniglot, from zips or folders the user has (or torchvision's
  download on a connected machine).
* ``"sinusoid"`` — MAML's sine-regression task family.

Set ``CS182META_DATASET=omniglot`` to run a notebook on real Omniglot without editing it.
"""

from __future__ import annotations

from cs182meta import settings
from cs182meta.data.base import ClassDataset
from cs182meta.settings import CLASS_DATASETS

DATASETS = (*CLASS_DATASETS, "sinusoid")

__all__ = ["ClassDataset", "DATASETS", "available_offline", "dataset_name", "load", "load_meta_splits"]


def dataset_name(name: str | None = None) -> str:
    """``name`` if given (one of :data:`DATASETS`), else ``$CS182META_DATASET``, else
    ``"glyphs"``; validated."""
    if not name:
        return settings.dataset()
    chosen = name.strip().lower()
    if chosen not in DATASETS:
        raise ValueError(f"unknown dataset {chosen!r}; choose one of {', '.join(DATASETS)}")
    return chosen


def load(name: str | None = None, split: str = "background", **kwargs):
    """Load a dataset split.

    Args:
        name: ``"glyphs"``, ``"omniglot"`` or ``"sinusoid"``; ``None`` reads
            ``$CS182META_DATASET`` and falls back to ``"glyphs"``.
        split: for the image datasets ``"background"`` (meta-training alphabets),
            ``"evaluation"`` (held-out alphabets) or ``"all"``; Omniglot also has the
            seeded character split ``"train"``, ``"val"``, ``"test"``. Ignored for the
            sinusoid family.
        **kwargs: passed to :func:`cs182meta.data.glyphs.load_glyphs`,
            :func:`cs182meta.data.omniglot.load_omniglot` or
            :class:`cs182meta.data.sinusoid.SinusoidTasks`.

    Returns:
        a :class:`ClassDataset` for the image datasets, a ``SinusoidTasks`` for sinusoids.
    """
    chosen = dataset_name(name)
    if chosen == "glyphs":
        from cs182meta.data.glyphs import load_glyphs

        return load_glyphs(split=split, **kwargs)
    if chosen == "omniglot":
        from cs182meta.data.omniglot import load_omniglot

        return load_omniglot(split=split, **kwargs)
    from cs182meta.data.sinusoid import SinusoidTasks

    return SinusoidTasks(**kwargs)


def load_meta_splits(name: str | None = None, eval_classes: int | None = None, **kwargs):
    """``(background, evaluation)``: the meta-training and held-out image splits.

    Args:
        name: ``"glyphs"`` or ``"omniglot"`` (``None``: ``$CS182META_DATASET``, else
            glyphs); ``"sinusoid"`` raises ``ValueError``, it has no classes.
        eval_classes: keep only this many evaluation classes, spread evenly over the
            split (every ``len // eval_classes``-th class), to keep a grading run short;
            ``None`` keeps them all.
        **kwargs: passed to :func:`load` for both splits.

    Returns:
        two :class:`ClassDataset` s, ``[C_bg, E, 1, H, W]`` and ``[C_ev, E, 1, H, W]``.
    """
    chosen = dataset_name(name)
    if chosen not in CLASS_DATASETS:
        raise ValueError(
            f"{chosen} is a regression task family, not a class dataset; load_meta_splits "
            f"takes {' or '.join(CLASS_DATASETS)} (use load({chosen!r}) for its tasks)"
        )
    background = load(chosen, split="background", **kwargs)
    evaluation = load(chosen, split="evaluation", **kwargs)
    if eval_classes is not None:
        if not 1 <= eval_classes <= len(evaluation):
            raise ValueError(
                f"eval_classes={eval_classes} must be between 1 and the {len(evaluation)} "
                f"classes of {evaluation.name}; use None to keep them all"
            )
        step = len(evaluation) // eval_classes
        evaluation = evaluation.subset(range(0, step * eval_classes, step))
    return background, evaluation


def available_offline() -> dict[str, str]:
    """What each dataset needs to load here, without loading it."""
    from cs182meta.data.omniglot import find_omniglot

    found = find_omniglot()
    omniglot = (
        "found: " + ", ".join(str(p) for p in found)
        if found
        else "not found (see `load_omniglot` for where it looks; download=True online)"
    )
    return {
        "glyphs": f"yes (generated on first use, cached in {settings.cache_folder()})",
        "omniglot": omniglot,
        "sinusoid": "yes (sampled on the fly)",
    }
