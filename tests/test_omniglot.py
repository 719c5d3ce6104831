"""Tests of the real-Omniglot loader, on a tiny fake tree and on the real small splits."""

import os
import shutil
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from cs182meta.data import omniglot
from cs182meta.data.omniglot import (
    OmniglotDataError,
    OmniglotNotFound,
    find_omniglot,
    load_omniglot,
    split_sizes,
)

REAL_DIR = Path(__file__).resolve().parents[1].parent / "shared/data/omniglot"
EXAMPLES = 4

# alphabet -> number of characters
BACKGROUND = {"Alpha": 3, "Beta": 2, "Greek": 2}
EVALUATION = {"Gamma": 3, "Delta": 2}


def _glyph(alphabet: str, char: int, drawer: int) -> Image.Image:
    """A 105x105 1-bit image: black strokes on white, a stroke in the top-left corner
    (so rotations are visible) and a character-specific line."""
    img = Image.new("1", (105, 105), 1)
    d = ImageDraw.Draw(img)
    d.rectangle([5, 5, 30, 12], fill=0)
    off = (sum(map(ord, alphabet)) * 7 + char * 13 + drawer) % 50
    d.line([20 + off, 40, 60, 95 - off], fill=0, width=6)
    return img


def _write_split(folder: Path, alphabets: dict[str, int]) -> Path:
    for alphabet, n_chars in alphabets.items():
        for c in range(1, n_chars + 1):
            cdir = folder / alphabet / f"character{c:02d}"
            cdir.mkdir(parents=True)
            for drawer in range(1, EXAMPLES + 1):
                _glyph(alphabet, c, drawer).save(cdir / f"{100 + c:04d}_{drawer:02d}.png")
    return folder


def _zip_folder(folder: Path, zip_path: Path) -> Path:
    """Zip like the published files: top folder = split name, with directory entries."""
    with zipfile.ZipFile(zip_path, "w") as zf:
        zf.write(folder, folder.name + "/")
        for p in sorted(folder.rglob("*")):
            zf.write(
                p, f"{folder.name}/{p.relative_to(folder).as_posix()}" + ("/" if p.is_dir() else "")
            )
    return zip_path


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CS182META_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CS182META_OMNIGLOT", raising=False)


@pytest.fixture
def tree(tmp_path):
    """Extracted folders: images_background and images_evaluation."""
    root = tmp_path / "omni"
    _write_split(root / "images_background", BACKGROUND)
    _write_split(root / "images_evaluation", EVALUATION)
    return root


@pytest.fixture
def zipped(tmp_path, tree):
    """The same data as zips, in torchvision's omniglot-py/ layout."""
    root = tmp_path / "zipped"
    (root / "omniglot-py").mkdir(parents=True)
    for name in ("images_background", "images_evaluation"):
        _zip_folder(tree / name, root / "omniglot-py" / f"{name}.zip")
    return root


# --------------------------------------------------------------------------- loading


def test_find_prefers_root_and_lists_sources(tree, zipped):
    assert [p.name for p in find_omniglot(tree)] == ["images_background", "images_evaluation"]
    assert [p.name for p in find_omniglot(zipped)] == [
        "images_background.zip",
        "images_evaluation.zip",
    ]
    assert find_omniglot(tree / "nowhere") == []


def test_env_var_is_searched(tree, monkeypatch):
    monkeypatch.setenv("CS182META_OMNIGLOT", str(tree))
    assert find_omniglot()[0] == tree / "images_background"


def test_load_shapes_dtype_names(tree):
    ds = load_omniglot("background", root=tree)
    n = sum(BACKGROUND.values())
    assert ds.images.shape == (n, EXAMPLES, 1, 28, 28)
    assert ds.images.dtype == torch.uint8
    assert ds.name == "omniglot/background"
    assert ds.class_names[0] == "Alpha/character01"
    assert sorted(set(ds.alphabets)) == sorted(BACKGROUND)
    big = load_omniglot("background", root=tree, image_size=40)
    assert big.images.shape[-2:] == (40, 40)


def test_strokes_are_bright_and_antialiased(tree):
    img = load_omniglot("background", root=tree).images[0, 0, 0]
    # Mostly dark background, bright strokes, and intermediate values from antialiasing.
    assert (img == 0).float().mean() > 0.5
    assert img.max() >= 200
    assert ((img > 20) & (img < 235)).any()
    # The top-left rectangle (rows ~1-3, cols ~1-8 at 28x28) is a stroke.
    assert img[2, 2:7].float().mean() > 128
    assert img[25, 2:7].float().mean() < 30


def test_zip_and_folder_give_the_same_images(tree, zipped):
    a = load_omniglot("all", root=tree)
    b = load_omniglot("all", root=zipped)
    assert torch.equal(a.images, b.images)
    assert a.class_names == b.class_names


def test_background_evaluation_and_all(tree):
    bg = load_omniglot("background", root=tree)
    ev = load_omniglot("evaluation", root=tree)
    al = load_omniglot("all", root=tree)
    assert set(ev.alphabets) == set(EVALUATION)
    assert len(ev) == sum(EVALUATION.values())
    assert len(al) == len(bg) + len(ev)
    assert set(al.class_names) == set(bg.class_names) | set(ev.class_names)


def test_rotations(tree):
    plain = load_omniglot("background", root=tree)
    rot = load_omniglot("background", root=tree, rotations=True)
    assert len(rot) == 4 * len(plain)
    assert rot.class_names[:4] == [f"Alpha/character01/rot{d:03d}" for d in (0, 90, 180, 270)]
    assert rot.alphabets[:4] == ["Alpha"] * 4
    assert torch.equal(rot.images[0], plain.images[0])
    for k in (1, 2, 3):
        assert torch.equal(rot.images[k], torch.rot90(plain.images[0], k, dims=(-2, -1)))
        assert not torch.equal(rot.images[k], plain.images[0])


def test_seeded_character_split(tree):
    n = sum(BACKGROUND.values()) + sum(EVALUATION.values())
    parts = {s: load_omniglot(s, root=tree, seed=0) for s in ("train", "val", "test")}
    names = {s: set(d.class_names) for s, d in parts.items()}
    assert [len(names[s]) for s in ("train", "val", "test")] == list(split_sizes(n))
    assert not (names["train"] & names["val"]) and not (names["train"] & names["test"])
    assert not (names["val"] & names["test"])
    assert names["train"] | names["val"] | names["test"] == set(
        load_omniglot("all", root=tree).class_names
    )
    again = load_omniglot("train", root=tree, seed=0)
    assert again.class_names == parts["train"].class_names
    other = [set(load_omniglot("train", root=tree, seed=s).class_names) for s in range(1, 6)]
    assert any(o != names["train"] for o in other)


def test_split_sizes_are_lakes_full_and_proportional():
    assert split_sizes(1623) == (1100, 100, 423)
    assert split_sizes(242) == (164, 15, 63)
    for n in (3, 4, 12, 100):
        tr, va, te = split_sizes(n)
        assert tr + va + te == n and min(tr, va, te) >= 1
    with pytest.raises(ValueError, match="at least 3"):
        split_sizes(2)


def test_rotations_never_straddle_splits(tree):
    parts = [load_omniglot(s, root=tree, rotations=True) for s in ("train", "val", "test")]
    base = [{n.rsplit("/", 1)[0] for n in d.class_names} for d in parts]
    assert not (base[0] & base[1]) and not (base[0] & base[2]) and not (base[1] & base[2])
    for d in parts:
        assert len(d) % 4 == 0


def test_small_splits_dedupe_shared_alphabets(tmp_path):
    root = tmp_path / "small"
    src = tmp_path / "src"
    _write_split(src / "images_background_small1", {"Greek": 2, "Latin": 2, "Korean": 1})
    _write_split(src / "images_background_small2", {"Greek": 2, "Latin": 2, "Tagalog": 3})
    root.mkdir()
    for name in ("images_background_small1", "images_background_small2"):
        _zip_folder(src / name, root / f"{name}.zip")
    everything = load_omniglot("all", root=root)
    assert len(everything) == 2 + 2 + 1 + 3
    assert len(set(everything.class_names)) == len(everything)
    assert len(everything.info["sources"]) == 2
    # With only the small splits, small2's own alphabets stand in for the evaluation split.
    background = load_omniglot("background", root=root)
    evaluation = load_omniglot("evaluation", root=root)
    assert sorted(set(background.alphabets)) == ["Greek", "Korean", "Latin"]
    assert sorted(set(evaluation.alphabets)) == ["Tagalog"] and len(evaluation) == 3
    assert not set(background.class_names) & set(evaluation.class_names)


def test_one_small_split_has_no_evaluation_split(tmp_path):
    _write_split(tmp_path / "images_background_small2", {"Greek": 1, "Tagalog": 2})
    assert len(load_omniglot("background", root=tmp_path)) == 3
    with pytest.raises(OmniglotNotFound, match="evaluation"):
        load_omniglot("evaluation", root=tmp_path)


def test_full_background_hides_small_splits(tree):
    _write_split(tree / "images_background_small1", {"Greek": 1})
    assert [p.name for p in find_omniglot(tree)] == ["images_background", "images_evaluation"]


# --------------------------------------------------------------------------- cache


def test_second_load_reads_the_cache(zipped):
    first = load_omniglot("all", root=zipped)
    assert len(first.info["decoded"]) == 2
    second = load_omniglot("all", root=zipped, rotations=True)
    assert second.info["decoded"] == []
    assert torch.equal(second.images[::4], first.images)
    assert load_omniglot("all", root=zipped, use_cache=False).info["decoded"] != []


def test_changed_source_is_rebuilt(tree, zipped, tmp_path):
    load_omniglot("background", root=zipped)
    bg_zip = zipped / "omniglot-py" / "images_background.zip"
    _write_split(tmp_path / "more" / "images_background", {**BACKGROUND, "Epsilon": 1})
    _zip_folder(tmp_path / "more" / "images_background", bg_zip)
    ds = load_omniglot("background", root=zipped)
    assert ds.info["decoded"] == [str(bg_zip)]
    assert "Epsilon" in ds.alphabets


def test_changed_folder_is_rebuilt(tree):
    load_omniglot("evaluation", root=tree)
    png = next((tree / "images_evaluation" / "Gamma" / "character01").glob("*.png"))
    Image.new("1", (105, 105), 0).save(png)  # all black -> all bright after inversion
    later = time.time() + 5
    os.utime(png, (later, later))
    ds = load_omniglot("evaluation", root=tree)
    assert ds.info["decoded"] == [str(tree / "images_evaluation")]
    changed = ds.images[ds.class_names.index("Gamma/character01")]
    assert sum(int(img.min()) == 255 for img in changed) == 1


def test_cache_from_another_loader_version_is_not_used(tree, monkeypatch):
    load_omniglot("evaluation", root=tree)
    monkeypatch.setattr(omniglot, "LOADER_VERSION", omniglot.LOADER_VERSION + 1)
    assert load_omniglot("evaluation", root=tree).info["decoded"] != []


# --------------------------------------------------------------------------- errors


def test_missing_data_lists_every_place(tmp_path, monkeypatch):
    missing = tmp_path / "nowhere"
    with pytest.raises(OmniglotNotFound) as err:
        load_omniglot(root=missing)
    assert str(missing) in str(err.value) and "download=True" in str(err.value)
    assert isinstance(err.value, FileNotFoundError)

    monkeypatch.setenv("CS182META_OMNIGLOT", str(tmp_path / "env"))
    monkeypatch.setattr(omniglot, "_repo_root", lambda: tmp_path / "repo")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(OmniglotNotFound) as err:
        load_omniglot()
    msg = str(err.value)
    for place in omniglot.search_places():
        assert str(place) in msg
    assert str(tmp_path / "env") in msg and "CS182META_OMNIGLOT" in msg


def test_corrupt_zip_names_the_file(tmp_path):
    bad = tmp_path / "images_evaluation.zip"
    bad.write_bytes(b"this is not a zip file" * 10)
    with pytest.raises(OmniglotDataError, match="images_evaluation.zip"):
        load_omniglot("evaluation", root=tmp_path)


def test_corrupt_png_names_the_file(tree):
    png = tree / "images_evaluation" / "Delta" / "character02" / "0102_03.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(OmniglotDataError, match="Delta/character02/0102_03.png"):
        load_omniglot("evaluation", root=tree)


def test_corrupt_png_in_zip_names_the_member(tree, tmp_path):
    png = tree / "images_evaluation" / "Delta" / "character02" / "0102_03.png"
    png.write_bytes(b"garbage")
    root = tmp_path / "z"
    root.mkdir()
    _zip_folder(tree / "images_evaluation", root / "images_evaluation.zip")
    with pytest.raises(
        OmniglotDataError, match=r"images_evaluation.zip:.*Delta/character02/0102_03.png"
    ):
        load_omniglot("evaluation", root=root)


def test_empty_character_folder_is_an_error(tree):
    cdir = tree / "images_evaluation" / "Gamma" / "character02"
    shutil.rmtree(cdir)
    cdir.mkdir()
    with pytest.raises(OmniglotDataError, match="Gamma/character02 has no PNG"):
        load_omniglot("evaluation", root=tree)


def test_empty_alphabet_folder_is_an_error(tree):
    (tree / "images_evaluation" / "Zeta").mkdir()
    with pytest.raises(OmniglotDataError, match="alphabet folder Zeta has no characters"):
        load_omniglot("evaluation", root=tree)


def test_uneven_character_is_an_error(tree):
    next((tree / "images_evaluation" / "Gamma" / "character03").glob("*.png")).unlink()
    with pytest.raises(OmniglotDataError, match="Gamma/character03 has 3 images"):
        load_omniglot("evaluation", root=tree)


def test_bad_arguments(tree):
    with pytest.raises(ValueError, match="unknown Omniglot split"):
        load_omniglot("training", root=tree)
    with pytest.raises(ValueError, match="image_size"):
        load_omniglot(root=tree, image_size=0)


# --------------------------------------------------------------------------- real data


@pytest.fixture(scope="session")
def real_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("omniglot_real_cache")


@pytest.fixture
def real_small(real_cache, monkeypatch):
    names = ("images_background_small1.zip", "images_background_small2.zip")
    if not all((REAL_DIR / n).is_file() for n in names):
        pytest.skip(f"real Omniglot small splits not found in {REAL_DIR}")
    monkeypatch.setenv("CS182META_CACHE", str(real_cache))
    return REAL_DIR


def _characters(zip_path: Path) -> set[tuple[str, str]]:
    with zipfile.ZipFile(zip_path) as zf:
        return {tuple(n.split("/")[1:3]) for n in zf.namelist() if n.endswith(".png")}


def test_real_small_splits(real_small):
    c1 = _characters(real_small / "images_background_small1.zip")
    c2 = _characters(real_small / "images_background_small2.zip")
    assert (len(c1), len(c2)) == (136, 156)
    ds = load_omniglot("all", root=real_small)
    assert len(ds) == len(c1 | c2) == 136 + 156 - len(c1 & c2) == 242
    assert ds.images.shape == (242, 20, 1, 28, 28) and ds.images.dtype == torch.uint8
    assert set(ds.alphabets) == {a for a, _ in c1 | c2}
    # The stand-in split by alphabet: small1 for background, small2's own for evaluation.
    background = load_omniglot("background", root=real_small)
    evaluation = load_omniglot("evaluation", root=real_small)
    assert (len(background), len(evaluation)) == (136, 106)
    assert set(evaluation.alphabets) == {"Japanese_(katakana)", "Sanskrit", "Tagalog"}
    # Strokes bright on a dark background.
    mean = ds.images.float().mean().item() / 255
    assert 0.02 < mean < 0.3
    assert np.median(ds.images.numpy()) == 0


def test_real_small_splits_reload_from_cache(real_small):
    load_omniglot("all", root=real_small)  # decodes only if the test above did not
    start = time.perf_counter()
    ds = load_omniglot("train", root=real_small, rotations=True)
    assert time.perf_counter() - start < 1.0
    assert ds.info["decoded"] == []
    assert len(ds) == 4 * split_sizes(242)[0]
