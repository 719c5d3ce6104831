"""Real Omniglot (Lake, Salakhutdinov & Tenenbaum 2015), read offline from its zips.

Where the data comes from
    The four published zips, or their extracted folders, named as torchvision names them:
    ``images_background`` (30 alphabets, 964 characters), ``images_evaluation``
    (20 alphabets, 659 characters) and the two small background splits
    ``images_background_small1`` / ``images_background_small2`` (5 alphabets each; Greek
    and Latin are in both). Inside each: ``<split>/<Alphabet>/character<NN>/<id>_<drawer>.png``,
    105x105 1-bit images, black strokes on white, 20 drawers per character.

    :func:`find_omniglot` looks, in order, in: ``root`` (when given, *only* there), else
    ``$CS182META_OMNIGLOT``, ``./data``, ``./data/omniglot``, ``<cache folder>/omniglot``
    (``$CS182META_CACHE/omniglot``, by default ``~/.cache/cs182meta/omniglot``; see
    :func:`cs182meta.settings.cache_folder`), ``~/data/omniglot`` and
    ``<repository>/../shared/data/omniglot``. In each place it
    accepts ``<place>/<split>[.zip]`` and torchvision's ``<place>/omniglot-py/<split>[.zip]``.
    The first copy of each split wins; an extracted folder is preferred over its zip.
    When the full ``images_background`` is found the small splits are ignored (they are
    subsets of it).

What :func:`load_omniglot` returns
    A :class:`ClassDataset` with ``uint8`` images ``[characters, 20, 1, S, S]``
    (``S = image_size``, 28 by default): each PNG is converted to grayscale, resized with
    PIL's LANCZOS filter (antialiased) and inverted so strokes are bright (255) on 0.
    Characters are sorted by ``(alphabet, character)``; a character found in two sources
    (Greek and Latin in both small splits) is kept once, from the first source.
    Each source is decoded once and cached with :func:`cache.load_or_build`, keyed by the
    source's name, size and modification time, ``image_size`` and :data:`LOADER_VERSION`.

Splits
    ``"background"`` / ``"evaluation"``: Lake's split by alphabet, i.e. by source folder
    (the small splits count as background). Where the only sources are the two small
    splits (no ``images_background``, no ``images_evaluation``), a stand-in split by
    alphabet keeps held-out alphabets held out: background is ``small1`` (Balinese,
    Early_Aramaic, Greek, Korean, Latin: 136 characters) and evaluation is the alphabets
    found only in ``small2`` (Japanese_(katakana), Sanskrit, Tagalog: 106 characters).
    ``"all"``: every character found.
    ``"train"`` / ``"val"`` / ``"test"``: a split of all characters found, by a permutation
    drawn with ``numpy.random.default_rng(seed)`` (``seed=0`` by default) over the sorted
    characters: 1100 / 100 / 423 characters when all 1,623 are present, otherwise the same
    proportions (``round(N*1100/1623)`` train, ``round(N*100/1623)`` val, at least one
    each, the rest test). Alphabets are shared across these three splits; characters are not.

Rotations
    ``rotations=True`` adds each character rotated by 90, 180 and 270 degrees
    (counter-clockwise, :func:`torch.rot90`) as new classes, after splitting, so the four
    rotations of one character always land in the same split. Classes are then named
    ``"<Alphabet>/<character>/rot000"`` ... ``"/rot270"``, the four rotations adjacent.
"""

from __future__ import annotations

import hashlib
import io
import os
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from cs182meta import settings
from cs182meta.settings import OMNIGLOT_ENV

from . import cache
from .base import ClassDataset

LOADER_VERSION = 1
SPLITS = ("background", "evaluation", "all", "train", "val", "test")

_FULL_BACKGROUND = "images_background"
_EVALUATION = "images_evaluation"
_SMALL = ("images_background_small1", "images_background_small2")
# Search order of sources within a place; also the order in which duplicates are resolved.
_SOURCE_NAMES = (_FULL_BACKGROUND, *_SMALL, _EVALUATION)
_FULL_COUNTS = (1100, 100, 423)  # train / val / test when all 1,623 characters exist


class OmniglotNotFound(FileNotFoundError):
    """No Omniglot source was found in any of the places searched."""


class OmniglotDataError(ValueError):
    """An Omniglot source is unreadable or malformed; the message names the file."""


@dataclass(frozen=True)
class _Characters:
    """Decoded characters of one or more sources.

    images: uint8 ``[C, E, S, S]``, strokes bright; alphabets/characters: ``C`` names each.
    """

    images: np.ndarray
    alphabets: list[str]
    characters: list[str]
    background: list[bool]


# --------------------------------------------------------------------------- finding


def _repo_root() -> Path:
    return Path(__file__).resolve().parents[2]


def search_places(root: str | os.PathLike | None = None) -> list[Path]:
    """The folders searched for sources, in order (see the module docstring)."""
    if root is not None:
        return [Path(root).expanduser()]
    chosen = settings.omniglot_folder()
    places = [chosen] if chosen else []
    places += [
        Path("data").absolute(),
        Path("data/omniglot").absolute(),
        settings.cache_folder() / "omniglot",
        Path.home() / "data/omniglot",
        _repo_root().parent / "shared/data/omniglot",
    ]
    return places


def _candidates(place: Path, name: str) -> list[Path]:
    bases = (place, place / "omniglot-py")
    return [b / name for b in bases] + [b / f"{name}.zip" for b in bases]


def _split_name(source: Path) -> str:
    return source.name[: -len(".zip")] if source.name.endswith(".zip") else source.name


def find_omniglot(root: str | os.PathLike | None = None) -> list[Path]:
    """The Omniglot sources (zips or extracted folders) found, at most one per split.

    Returns an empty list when nothing is found. The order is background, small1,
    small2, evaluation; the small splits are dropped when the full background exists.
    """
    found: dict[str, Path] = {}
    for place in search_places(root):
        for name in _SOURCE_NAMES:
            if name in found:
                continue
            for cand in _candidates(place, name):
                if cand.is_dir() or (cand.is_file() and cand.suffix == ".zip"):
                    found[name] = cand
                    break
    if _FULL_BACKGROUND in found:
        for name in _SMALL:
            found.pop(name, None)
    return [found[n] for n in _SOURCE_NAMES if n in found]


def _not_found(root, needed: str) -> OmniglotNotFound:
    looked = "\n".join(f"  {p}" for p in search_places(root))
    found = find_omniglot(root)
    also = f" (found only {', '.join(map(str, found))})" if found else ""
    return OmniglotNotFound(
        f"No Omniglot {needed} data found{also}. Looked for images_background[.zip], "
        f"images_evaluation[.zip], images_background_small1/2[.zip] (also under "
        f"omniglot-py/) in:\n{looked}\n"
        f"To get it: on a machine with internet call load_omniglot(..., download=True) "
        f"(uses torchvision.datasets.Omniglot), or copy the zips from "
        f"https://github.com/brendenlake/omniglot/tree/master/python into one of these "
        f"folders, or set ${OMNIGLOT_ENV} to the folder that holds them."
    )


def _download(root, background: bool) -> None:
    from torchvision.datasets import Omniglot

    if root:
        target = Path(root).expanduser()
    else:
        target = settings.omniglot_folder() or settings.cache_folder() / "omniglot"
    target.mkdir(parents=True, exist_ok=True)
    Omniglot(str(target), background=background, download=True)


# --------------------------------------------------------------------------- decoding


def _png_members(source: Path) -> dict[tuple[str, str], list[str]]:
    """``(alphabet, character) -> sorted PNG paths`` (zip member names or file paths).

    Raises OmniglotDataError for an empty alphabet or character folder. Hidden files,
    ``__MACOSX`` folders and non-PNG files are ignored.
    """
    if source.is_dir():
        dirs = [p.relative_to(source).as_posix() + "/" for p in source.rglob("*") if p.is_dir()]
        files = [p.relative_to(source).as_posix() for p in source.rglob("*") if p.is_file()]
    else:
        try:
            with zipfile.ZipFile(source) as zf:
                names = zf.namelist()
        except (zipfile.BadZipFile, OSError) as err:
            raise OmniglotDataError(f"{source}: not a readable zip file ({err})") from err
        dirs = [n for n in names if n.endswith("/")]
        files = [n for n in names if not n.endswith("/")]
    chars: dict[tuple[str, str], list[str]] = {}
    for f in files:
        parts = PurePosixPath(f).parts
        if "__MACOSX" in parts or parts[-1].startswith(".") or not f.endswith(".png"):
            continue
        if len(parts) < 3:
            raise OmniglotDataError(f"{source}: {f} is not in an <Alphabet>/<character>/ folder")
        chars.setdefault((parts[-3], parts[-2]), []).append(f)
    if not chars:
        raise OmniglotDataError(f"{source}: holds no <Alphabet>/<character>/*.png images")
    _check_empty_folders(source, dirs, chars)
    return {k: sorted(v) for k, v in sorted(chars.items())}


def _check_empty_folders(source: Path, dirs: list[str], chars: dict) -> None:
    """Folders at character depth with no PNG, or at alphabet depth with no character."""
    alphabets = {a for a, _ in chars}
    depth = _alphabet_depth(chars)
    for d in dirs:
        parts = PurePosixPath(d).parts
        if "__MACOSX" in parts or any(p.startswith(".") for p in parts):
            continue
        name = d.rstrip("/")
        if len(parts) == depth + 2 and (parts[-2], parts[-1]) not in chars:
            raise OmniglotDataError(f"{source}: character folder {name} has no PNG images")
        if len(parts) == depth + 1 and parts[-1] not in alphabets:
            raise OmniglotDataError(f"{source}: alphabet folder {name} has no characters")


def _alphabet_depth(chars: dict[tuple[str, str], list[str]]) -> int:
    """How many folders come before the alphabet folders (1 in the published zips)."""
    first = next(iter(chars.values()), None)
    return len(PurePosixPath(first[0]).parts) - 3 if first else 0


def _to_array(data: bytes, image_size: int, label: str) -> np.ndarray:
    """PNG bytes -> uint8 ``[S, S]``, strokes bright."""
    try:
        img = Image.open(io.BytesIO(data))
        img = img.convert("L")
    except (UnidentifiedImageError, OSError, ValueError) as err:
        raise OmniglotDataError(f"{label}: not a readable PNG image ({err})") from err
    if img.size != (image_size, image_size):
        img = img.resize((image_size, image_size), Image.LANCZOS)
    return 255 - np.asarray(img, dtype=np.uint8)


def _decode_source(source: Path, image_size: int) -> dict[str, np.ndarray]:
    """Decode every PNG of one source: ``images`` uint8 ``[C, E, S, S]`` plus names."""
    members = _png_members(source)
    counts = {k: len(v) for k, v in members.items()}
    expected = max(set(counts.values()), key=list(counts.values()).count)
    for (alpha, char), n in counts.items():
        if n != expected:
            raise OmniglotDataError(
                f"{source}: character folder {alpha}/{char} has {n} images, "
                f"the others have {expected}"
            )
    out = np.empty((len(members), expected, image_size, image_size), dtype=np.uint8)
    zf = None if source.is_dir() else zipfile.ZipFile(source)
    try:
        for c, paths in enumerate(members.values()):
            for e, path in enumerate(paths):
                label = f"{source}/{path}" if zf is None else f"{source}:{path}"
                data = (source / path).read_bytes() if zf is None else _read_member(zf, path, label)
                out[c, e] = _to_array(data, image_size, label)
    finally:
        if zf is not None:
            zf.close()
    return {
        "images": out,
        "alphabets": np.array([a for a, _ in members]),
        "characters": np.array([c for _, c in members]),
    }


def _read_member(zf: zipfile.ZipFile, name: str, label: str) -> bytes:
    try:
        return zf.read(name)
    except (zipfile.BadZipFile, OSError, EOFError) as err:
        raise OmniglotDataError(f"{label}: cannot be read from the zip ({err})") from err


def _fingerprint(source: Path) -> dict:
    """What identifies a source's content for the cache: name, size, mtime.

    For a folder: a hash of every file's relative path, size and mtime (os.scandir keeps
    this well under a second for the 32,460 files of the full set).
    """
    if source.is_file():
        st = source.stat()
        return {"source": source.name, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    lines = []
    total = 0
    stack = [str(source)]
    while stack:
        with os.scandir(stack.pop()) as entries:
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(entry.path)
                elif entry.is_file():
                    st = entry.stat()
                    total += st.st_size
                    lines.append(f"{entry.path}|{st.st_size}|{st.st_mtime_ns}")
    prefix = len(str(source))
    digest = hashlib.sha256("\n".join(sorted(x[prefix:] for x in lines)).encode())
    return {"source": source.name, "size": total, "files": digest.hexdigest()[:16]}


def _load_source(source: Path, image_size: int, use_cache: bool, decoded: list) -> dict:
    params = {**_fingerprint(source), "image_size": image_size, "loader_version": LOADER_VERSION}

    def build():
        decoded.append(str(source))
        return _decode_source(source, image_size)

    return cache.load_or_build("omniglot", params, build, use_cache=use_cache)


def _only_small_splits(sources: list[Path]) -> bool:
    """Both small splits and nothing else: small2's own alphabets stand in for evaluation."""
    return sorted(_split_name(s) for s in sources) == sorted(_SMALL)


def _is_background(source: Path, stand_in: bool) -> bool:
    name = _split_name(source)
    return name == _SMALL[0] if stand_in else name != _EVALUATION


def _merge(sources: list[Path], parts: list[dict]) -> _Characters:
    """Concatenate sources, keep the first copy of each (alphabet, character), sort."""
    seen: dict[tuple[str, str], tuple[np.ndarray, bool]] = {}
    shape = None
    stand_in = _only_small_splits(sources)
    for source, arrays in zip(sources, parts, strict=True):
        background = _is_background(source, stand_in)
        if shape is not None and arrays["images"].shape[1:] != shape:
            raise OmniglotDataError(
                f"{source}: images per character {arrays['images'].shape[1]} differ from "
                f"the other sources' {shape[0]}"
            )
        shape = arrays["images"].shape[1:]
        for img, a, c in zip(
            arrays["images"], arrays["alphabets"], arrays["characters"], strict=True
        ):
            seen.setdefault((str(a), str(c)), (img, background))
    keys = sorted(seen)
    return _Characters(
        images=np.stack([seen[k][0] for k in keys]),
        alphabets=[a for a, _ in keys],
        characters=[c for _, c in keys],
        background=[seen[k][1] for k in keys],
    )


# --------------------------------------------------------------------------- splitting


def split_sizes(num_characters: int) -> tuple[int, int, int]:
    """``(train, val, test)`` character counts for the seeded split."""
    total = sum(_FULL_COUNTS)
    if num_characters < 3:
        raise ValueError(
            f"a train/val/test split needs at least 3 characters, found {num_characters}"
        )
    if num_characters == total:
        return _FULL_COUNTS
    train = max(1, round(num_characters * _FULL_COUNTS[0] / total))
    val = max(1, round(num_characters * _FULL_COUNTS[1] / total))
    train = min(train, num_characters - val - 1)
    return train, val, num_characters - train - val


def _split_indices(chars: _Characters, split: str, seed: int) -> list[int]:
    n = len(chars.alphabets)
    if split == "all":
        return list(range(n))
    if split in ("background", "evaluation"):
        want = split == "background"
        return [i for i in range(n) if chars.background[i] == want]
    order = np.random.default_rng(seed).permutation(n)
    train, val, _ = split_sizes(n)
    bounds = {"train": (0, train), "val": (train, train + val), "test": (train + val, n)}
    lo, hi = bounds[split]
    return sorted(order[lo:hi].tolist())


# --------------------------------------------------------------------------- public


def _needed_sources(split: str, sources: list[Path]) -> list[Path]:
    if split in ("background", "evaluation") and _only_small_splits(sources):
        return sources  # the stand-in split needs both (see the module docstring)
    if split == "background":
        return [s for s in sources if _split_name(s) != _EVALUATION]
    if split == "evaluation":
        return [s for s in sources if _split_name(s) == _EVALUATION]
    return sources


def load_omniglot(
    split: str = "background",
    root: str | os.PathLike | None = None,
    image_size: int = 28,
    rotations: bool = False,
    seed: int = 0,
    download: bool = False,
    use_cache: bool = True,
) -> ClassDataset:
    """Load one split of real Omniglot (see the module docstring for every rule).

    Args:
        split: ``"background"``, ``"evaluation"``, ``"all"``, ``"train"``, ``"val"`` or
            ``"test"``.
        root: a folder holding the zips or extracted folders; when given, only it is
            searched.
        image_size: side ``S`` of the square output images.
        rotations: add the 90/180/270 degree rotations of each character as classes.
        seed: seed of the train/val/test character split (unused by the other splits).
        download: fetch the full zips with torchvision first when they are missing
            (needs internet; into ``root``, ``$CS182META_OMNIGLOT`` or
            ``<cache folder>/omniglot``).
        use_cache: read and write the decoded-image cache.

    Returns:
        A :class:`ClassDataset` named ``"omniglot/<split>"`` with uint8 images
        ``[C, 20, 1, S, S]`` (``4C`` classes with rotations), strokes bright.

    Raises:
        OmniglotNotFound: no source for the split was found (lists the places searched).
        OmniglotDataError: a zip or PNG is unreadable, or a folder is empty.
        ValueError: an unknown split or a bad ``image_size``.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown Omniglot split {split!r}; choose one of {SPLITS}")
    if int(image_size) != image_size or image_size < 1:
        raise ValueError(f"image_size must be a positive integer, got {image_size!r}")
    sources = _needed_sources(split, find_omniglot(root))
    if download:
        sources = _download_missing(split, root, sources)
    if not sources:
        raise _not_found(root, split)

    start = time.perf_counter()
    decoded: list[str] = []
    parts = [_load_source(s, int(image_size), use_cache, decoded) for s in sources]
    chars = _merge(sources, parts)
    keep = _split_indices(chars, split, seed)

    images = torch.from_numpy(chars.images[keep]).unsqueeze(2)
    names = [f"{chars.alphabets[i]}/{chars.characters[i]}" for i in keep]
    alphabets = [chars.alphabets[i] for i in keep]
    info = {
        "sources": [str(s) for s in sources],
        "split": split,
        "seed": seed,
        "rotations": rotations,
        "image_size": int(image_size),
        "decoded": decoded,
        "load_seconds": time.perf_counter() - start,
        "loader_version": LOADER_VERSION,
    }
    dataset = ClassDataset(images.contiguous(), names, alphabets, name=f"omniglot/{split}", info=info)
    return dataset.with_rotations() if rotations else dataset


def _download_missing(split: str, root, sources: list[Path]) -> list[Path]:
    have = {_split_name(s) for s in sources}
    if split != "evaluation" and _FULL_BACKGROUND not in have:
        _download(root, background=True)
    if split not in ("background",) and _EVALUATION not in have:
        _download(root, background=False)
    return _needed_sources(split, find_omniglot(root))
