"""load_meta_splits: both splits, and the evenly spread evaluation subset for grading runs."""

import pytest
import torch

import cs182meta.data as data
from cs182meta.data import ClassDataset, load_meta_splits


@pytest.fixture
def fake_load(monkeypatch):
    def load(name=None, split="background", **kwargs):
        classes = {"background": 12, "evaluation": 10}[split]
        images = torch.arange(classes, dtype=torch.uint8).view(classes, 1, 1, 1, 1).expand(classes, 2, 1, 4, 4)
        names = [f"{split}/{i}" for i in range(classes)]
        return ClassDataset(images.contiguous(), names, ["a"] * classes, name=split)

    monkeypatch.setattr(data, "load", load)


def test_all_classes_by_default(fake_load):
    background, evaluation = load_meta_splits()
    assert (len(background), len(evaluation)) == (12, 10)


def test_evaluation_subset_is_spread_over_the_split(fake_load):
    _, evaluation = load_meta_splits(eval_classes=3)
    assert evaluation.class_names == ["evaluation/0", "evaluation/3", "evaluation/6"]
    assert evaluation.images[:, 0, 0, 0, 0].tolist() == [0, 3, 6]


@pytest.mark.parametrize("bad", [0, 11])
def test_impossible_subset_is_explained(fake_load, bad):
    with pytest.raises(ValueError, match="between 1 and the 10 classes"):
        load_meta_splits(eval_classes=bad)


def test_the_sinusoid_family_is_a_clear_error():
    with pytest.raises(ValueError, match="sinusoid is a regression task family.*glyphs or omniglot"):
        load_meta_splits("sinusoid")


def test_with_rotations_makes_each_rotation_a_class():
    images = torch.randint(0, 256, (2, 3, 1, 5, 5), dtype=torch.uint8)
    plain = ClassDataset(images, ["a/c1", "b/c2"], ["a", "b"], name="toy")
    rotated = plain.with_rotations()
    assert rotated.images.shape == (8, 3, 1, 5, 5)
    assert rotated.class_names[4:] == [f"b/c2/rot{d:03d}" for d in (0, 90, 180, 270)]
    assert rotated.alphabets == ["a"] * 4 + ["b"] * 4
    for k in range(4):
        assert torch.equal(rotated[4 + k], torch.rot90(images[1], k, dims=(-2, -1)))
    assert rotated.info["rotations"] and "rotations" not in plain.info


def test_with_rotations_needs_square_images():
    plain = ClassDataset(torch.zeros(1, 2, 1, 4, 6, dtype=torch.uint8), ["c"], ["a"], name="wide")
    with pytest.raises(ValueError, match="square"):
        plain.with_rotations()
