"""The generated glyph data set: determinism, shapes, splits, duplicates, caching."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from cs182meta.data import glyphs
from cs182meta.settings import cache_folder

SMALL = 3  # alphabets: 2 background + 1 evaluation, 97 classes, generated in < 1 s


@pytest.fixture(scope="module")
def small():
    return glyphs.generate_glyphs(seed=3, num_alphabets=SMALL)


@pytest.fixture
def fresh_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CS182META_CACHE", str(tmp_path))
    return tmp_path


def test_same_seed_gives_identical_arrays(small):
    again = glyphs.generate_glyphs(seed=3, num_alphabets=SMALL)
    assert small.keys() == again.keys()
    for key in small:
        assert small[key].dtype == again[key].dtype
        assert np.array_equal(small[key], again[key]), key


def test_other_seed_gives_other_glyphs(small):
    other = glyphs.generate_glyphs(seed=4, num_alphabets=SMALL)
    n = min(len(small["images"]), len(other["images"]))
    assert not np.array_equal(small["images"][:n], other["images"][:n])


def test_shapes_dtypes_and_range(small):
    images = small["images"]
    c = len(images)
    assert images.dtype == np.uint8
    assert images.shape == (c, 20, 1, 28, 28)
    assert c == round(glyphs.CLASSES_PER_ALPHABET * SMALL)
    assert small["alphabet"].shape == small["character"].shape == (c,)
    assert small["background"].shape == (SMALL,)
    counts = np.bincount(small["alphabet"], minlength=SMALL)
    assert counts.min() >= 14 and counts.max() <= 55
    assert np.all(np.diff(small["alphabet"]) >= 0)  # grouped by alphabet
    assert set(small["num_strokes"].tolist()) <= {1, 2, 3, 4}
    # strokes bright on a dark background, with anti-aliased (grey) edges
    assert images.max() == 255 and np.median(images) == 0
    grey = ((images > 0) & (images < 255)).mean()
    assert grey > 0.01
    ink = images.reshape(c * 20, -1).astype(bool).any(1)
    assert ink.all(), "every example has some ink"


def test_default_size_matches_omniglot():
    counts = glyphs._class_counts(np.random.default_rng([0, 0]), 50)
    assert counts.sum() == 1623 and counts.min() >= 14 and counts.max() <= 55


def test_no_duplicate_classes(small):
    means = small["images"][:, :, 0].astype(np.float64).mean(1).reshape(len(small["images"]), -1)
    d2 = ((means[:, None] - means[None]) ** 2).sum(-1)
    np.fill_diagonal(d2, np.inf)
    assert d2.min() > 1.0  # squared pixel distance in 0..255 units: far from identical
    flat = small["images"].reshape(-1, 28 * 28)
    assert len(np.unique(flat, axis=0)) == len(flat), "two identical images"


def test_examples_of_a_class_differ(small):
    images = small["images"][:, :, 0]
    assert not np.array_equal(images[:, 0], images[:, 1])


def test_splits_are_disjoint_and_cover_all(fresh_cache, small):
    bg = glyphs.load_glyphs("background", seed=3, num_alphabets=SMALL)
    ev = glyphs.load_glyphs("evaluation", seed=3, num_alphabets=SMALL)
    everything = glyphs.load_glyphs("all", seed=3, num_alphabets=SMALL)
    assert set(bg.alphabets).isdisjoint(ev.alphabets)
    assert set(bg.alphabets) | set(ev.alphabets) == set(everything.alphabets)
    assert len(set(bg.alphabets)) == 2 and len(set(ev.alphabets)) == 1
    assert len(bg) + len(ev) == len(everything)
    assert sorted(bg.class_names + ev.class_names) == sorted(everything.class_names)
    assert len(set(everything.class_names)) == len(everything)
    assert bg.name == "glyphs/background" and ev.name == "glyphs/evaluation"
    assert ev.class_names[0].startswith(ev.alphabets[0] + "/character")
    assert everything.class_names[0] == "alphabet01/character01"
    assert ev.alphabets[0] == f"alphabet{SMALL:02d}"
    assert isinstance(ev.images, torch.Tensor) and ev.images.dtype == torch.uint8
    assert ev.images.shape[1:] == (20, 1, 28, 28)
    assert torch.equal(everything.images, torch.from_numpy(small["images"]))


def test_cache_round_trip_and_version_key(fresh_cache, monkeypatch):
    calls = []
    real = glyphs.generate_glyphs

    def counting(*args, **kwargs):
        calls.append(args)
        return real(*args, **kwargs)

    monkeypatch.setattr(glyphs, "generate_glyphs", counting)
    first = glyphs.load_glyphs("evaluation", seed=3, num_alphabets=SMALL)
    assert len(calls) == 1
    files = list(cache_folder().glob("glyphs-*.npz"))
    assert len(files) == 1
    second = glyphs.load_glyphs("evaluation", seed=3, num_alphabets=SMALL)
    assert len(calls) == 1, "the second load must read the cache file"
    assert torch.equal(first.images, second.images)
    assert first.class_names == second.class_names

    # An entry written by another generator version is never used.
    monkeypatch.setattr(glyphs, "GLYPHS_VERSION", glyphs.GLYPHS_VERSION + 100)
    glyphs.load_glyphs("evaluation", seed=3, num_alphabets=SMALL)
    assert len(calls) == 2
    assert len(list(cache_folder().glob("glyphs-*.npz"))) == 2

    glyphs.load_glyphs("evaluation", seed=3, num_alphabets=SMALL, use_cache=False)
    assert len(calls) == 3


def test_stale_file_under_the_same_name_is_rebuilt(fresh_cache):
    glyphs.load_glyphs("background", seed=3, num_alphabets=SMALL)
    (path,) = cache_folder().glob("glyphs-*.npz")
    np.savez(path, images=np.zeros((1, 20, 1, 28, 28), np.uint8), __cache_key__=np.array("x"))
    ds = glyphs.load_glyphs("background", seed=3, num_alphabets=SMALL)
    assert len(ds) > 1


@pytest.mark.parametrize("split", ["train", "test", "Background", ""])
def test_bad_split_name(split, fresh_cache):
    with pytest.raises(ValueError, match="background, evaluation, all"):
        glyphs.load_glyphs(split, num_alphabets=SMALL)


def test_too_few_alphabets():
    with pytest.raises(ValueError, match="num_alphabets"):
        glyphs.generate_glyphs(num_alphabets=1)


def test_other_image_size():
    data = glyphs.generate_glyphs(seed=0, num_alphabets=2, image_size=32)
    assert data["images"].shape[-2:] == (32, 32)
