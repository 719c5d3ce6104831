"""Procedurally generated handwritten glyphs: an Omniglot stand-in that needs no download.

The generator mimics how Omniglot was made:

* an **alphabet** is a drawing *style*: how many strokes its characters have, whether its
  strokes are straight segments, smooth curves or loops, its slant, and a small library
  of stroke shapes that its characters reuse (so characters of one alphabet look related);
* a **character** (a class) is a *program*: 1 to 4 pen strokes, each a spline through a
  few control points in a unit box ``[-1, 1]^2``;
* an **example** is one *drawer's* rendition of the program: the control points jittered,
  each stroke shifted a little, a small random affine warp, a random pen width; rendered
  anti-aliased by summing Gaussian splats along the curve (pure numpy, vectorised).

With the defaults there are 1,623 classes in 50 alphabets (14 to 55 classes each, like
Omniglot), 20 examples per class, 28x28 pixels, split by alphabet into ``background``
(the first 30 alphabets) and ``evaluation`` (the last 20). The jitter and warp were
calibrated so that pixel-space 1-nearest-neighbour accuracy on the evaluation split is
within a few points of real Omniglot's (see ``benchmarks/datasets.py``).

Everything is a pure function of ``seed``: the same seed gives byte-identical arrays.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from cs182meta.data.base import ClassDataset
from cs182meta.data.cache import load_or_build

GLYPHS_VERSION = 1
"""Bump whenever the generated pixels change, so that stale cache entries are rebuilt."""

SPLITS = ("background", "evaluation", "all")
MAX_POINTS = 6  # control points per stroke
SAMPLES = 61  # points evaluated per stroke; 60 = lcm(1..5) puts every polyline corner on a sample
CLASSES_PER_ALPHABET = 1623 / 50  # Omniglot's average
BACKGROUND_FRACTION = 0.6  # Omniglot: 30 of 50 alphabets

# The shape of a character program.
CONNECT_PROB = 0.6  # a stroke starts on an earlier stroke
MIN_ASPECT = 0.55  # the short side of a glyph's box, relative to its long side
MIN_STROKE_LENGTH = 0.6  # in units of the half box
DUPLICATE_RMS = 0.08  # clean drawings closer than this (RMS intensity in [0, 1]) are redrawn

# How much one drawer's rendition differs from another's (the calibrated knobs).
POINT_JITTER = 0.09  # control point noise, in units of the half box
STROKE_SHIFT = 0.06  # whole-stroke offset, same units
ROTATE_DEG = 8.0  # affine warp: rotation, std in degrees
LOG_SCALE = 0.10  # std of log size
SHEAR = 0.10
TRANSLATE = 0.06  # std of the shift, as a fraction of the image size
GLYPH_HALF_SIZE = 0.30  # half the glyph's extent, as a fraction of the image size
PEN_SIGMA = 0.45  # Gaussian pen radius in pixels at 28x28
PEN_SIGMA_LOG_STD = 0.15
INK_GAIN = 1.4  # intensity = clip(gain * ridge); a larger gain means a wider, flatter stroke


# --------------------------------------------------------------------------- splines


def _basis(num_points: int, smooth: bool) -> np.ndarray:
    """The ``[SAMPLES, MAX_POINTS]`` matrix that maps ``num_points >= 2`` control points
    to curve points.

    Both a polyline and a uniform Catmull-Rom spline are linear in their control points,
    so every rendition of a stroke is one matrix product; unused columns are zero.
    """
    t = np.linspace(0.0, num_points - 1, SAMPLES)
    seg = np.minimum(t.astype(int), max(num_points - 2, 0))
    u = t - seg
    basis = np.zeros((SAMPLES, num_points + 2))  # columns: phantom, p0..p_{n-1}, phantom
    rows = np.arange(SAMPLES)
    if smooth:
        weights = 0.5 * np.stack(
            [
                -(u**3) + 2 * u**2 - u,
                3 * u**3 - 5 * u**2 + 2,
                -3 * u**3 + 4 * u**2 + u,
                u**3 - u**2,
            ]
        )
        for j in range(4):
            basis[rows, seg + j] += weights[j]
    else:
        basis[rows, seg + 1] += 1 - u
        basis[rows, seg + 2] += u
    # Phantom end points are reflections: p_-1 = 2 p0 - p1, p_n = 2 p_{n-1} - p_{n-2}.
    basis[:, 1] += 2 * basis[:, 0]
    basis[:, 2] -= basis[:, 0]
    basis[:, num_points] += 2 * basis[:, -1]
    basis[:, num_points - 1] -= basis[:, -1]
    out = np.zeros((SAMPLES, MAX_POINTS))
    out[:, :num_points] = basis[:, 1 : num_points + 1]
    return out


_BASES = np.stack(
    [
        _basis(n, smooth) if n >= 2 else np.zeros((SAMPLES, MAX_POINTS))
        for smooth in (False, True)
        for n in range(MAX_POINTS + 1)
    ]
)  # [2 * (MAX_POINTS + 1), SAMPLES, MAX_POINTS], index = smooth * (MAX_POINTS + 1) + n


def _basis_index(num_points: np.ndarray, smooth: np.ndarray) -> np.ndarray:
    return smooth.astype(int) * (MAX_POINTS + 1) + num_points


# --------------------------------------------------------------------------- programs


@dataclass
class _Style:
    """An alphabet's drawing habits."""

    stroke_probs: np.ndarray  # [4] probability of 1..4 strokes
    smooth_prob: float  # a stroke is a curve (else a polyline with corners)
    loop_prob: float  # a stroke is an arc or loop
    angle_grid: float  # polyline headings snap to multiples of this (radians), 0 = free
    turn_std: float  # heading change between control points
    slant: float  # shear shared by the alphabet
    aspect: float  # width / height shared by the alphabet
    reuse_prob: float  # a stroke is copied from the alphabet's library
    library: list  # [(points [n, 2], smooth)] shapes the alphabet reuses


def _random_style(rng: np.random.Generator) -> _Style:
    mean_strokes = rng.uniform(1.3, 3.2)
    ks = np.arange(1, 5)
    probs = np.exp(-0.5 * ((ks - mean_strokes) / 0.9) ** 2)
    curvy = rng.uniform()  # 0 = angular alphabet, 1 = round alphabet
    style = _Style(
        stroke_probs=probs / probs.sum(),
        smooth_prob=float(np.clip(curvy * 1.2 - 0.1, 0.0, 1.0)),
        loop_prob=float(0.3 * curvy * rng.uniform()),
        angle_grid=float(rng.choice([np.pi / 2, np.pi / 4, 0.0], p=[0.35, 0.35, 0.3])),
        turn_std=float(rng.uniform(0.5, 1.3)),
        slant=float(rng.normal(0.0, 0.15)),
        aspect=float(np.exp(rng.normal(0.0, 0.12))),
        reuse_prob=float(rng.uniform(0.2, 0.6)),
        library=[],
    )
    style.library = [_fresh_stroke(rng, style) for _ in range(rng.integers(4, 10))]
    return style


def _fresh_stroke(
    rng: np.random.Generator, style: _Style, start: np.ndarray | None = None
) -> tuple[np.ndarray, bool]:
    """A new stroke: control points ``[n, 2]`` in the unit box, and whether it is smooth.

    ``start`` (``[2]``), if given, is where the pen comes down, so that strokes touch.
    """
    if start is None:
        start = rng.uniform(-0.7, 0.7, size=2)
    if rng.uniform() < style.loop_prob:
        n = int(rng.integers(4, MAX_POINTS + 1))
        sweep = rng.uniform(0.6, 1.9) * np.pi * rng.choice([-1, 1])
        angles = rng.uniform(0, 2 * np.pi) + np.linspace(0, sweep, n)
        radius = rng.uniform(0.3, 0.7) * np.array([1.0, np.exp(rng.normal(0, 0.3))])
        arc = radius * np.stack([np.cos(angles), np.sin(angles)], 1)
        return start + arc - arc[0], True
    smooth = bool(rng.uniform() < style.smooth_prob)
    n = int(rng.integers(2, 5 if not smooth else MAX_POINTS + 1))
    heading = rng.uniform(0, 2 * np.pi)
    points = [start]
    for _ in range(n - 1):
        h = heading
        if style.angle_grid > 0 and not smooth:
            h = np.round(h / style.angle_grid) * style.angle_grid
        step = rng.uniform(0.6, 1.3)
        points.append(points[-1] + step * np.array([np.cos(h), np.sin(h)]))
        heading += rng.normal(0, style.turn_std)
    return np.array(points), smooth


def _character(rng: np.random.Generator, style: _Style) -> list[tuple[np.ndarray, bool]]:
    """A character program: 1-4 strokes ``[(points [n, 2], smooth)]`` filling the unit box."""
    num = int(rng.choice(4, p=style.stroke_probs)) + 1
    strokes = []
    for _ in range(num):
        start = None
        if strokes and rng.uniform() < CONNECT_PROB:  # start on an earlier stroke
            points = strokes[rng.integers(len(strokes))][0]
            start = points[rng.integers(len(points))]
        if rng.uniform() < style.reuse_prob:
            points, smooth = style.library[rng.integers(len(style.library))]
            points = points * rng.uniform(0.7, 1.1) * rng.choice([-1, 1], size=2)
            points = points - points[0] + (start if start is not None else rng.normal(0, 0.3, 2))
        else:
            points, smooth = _fresh_stroke(rng, style, start)
        strokes.append((points, smooth))
    allp = np.concatenate([p for p, _ in strokes])
    lo, hi = allp.min(0), allp.max(0)
    centre, half = (lo + hi) / 2, np.maximum((hi - lo) / 2, 1e-3)
    # Stretch the short side up to MIN_ASPECT of the long one: real glyphs fill a squarish box.
    half = np.maximum(half, MIN_ASPECT * half.max())
    warp = np.array([[style.aspect, style.slant], [0.0, 1.0]])
    out = []
    for p, smooth in strokes:
        q = ((p - centre) / half) @ warp.T
        length = np.linalg.norm(np.diff(q, axis=0), axis=1).sum()
        if length < MIN_STROKE_LENGTH:  # no specks: grow short strokes about their middle
            mid = q.mean(0)
            q = mid + (q - mid) * MIN_STROKE_LENGTH / max(length, 1e-3)
        out.append((q, smooth))
    return out


# --------------------------------------------------------------------------- rendering


def _pack(programs: list[list[tuple[np.ndarray, bool]]]):
    """Flatten character programs into stroke arrays.

    Returns ``points [S, MAX_POINTS, 2]``, ``num_points [S]``, ``smooth [S]`` and
    ``stroke_class [S]`` (which program each stroke belongs to).
    """
    strokes = [(c, p, s) for c, prog in enumerate(programs) for p, s in prog]
    points = np.zeros((len(strokes), MAX_POINTS, 2))
    for i, (_, p, _) in enumerate(strokes):
        points[i, : len(p)] = p
    num_points = np.array([len(p) for _, p, _ in strokes])
    smooth = np.array([s for _, _, s in strokes])
    stroke_class = np.array([c for c, _, _ in strokes])
    return points, num_points, smooth, stroke_class


def _render(
    curves: np.ndarray, image_ids: np.ndarray, num_images: int, image_size: int, sigma: np.ndarray
) -> np.ndarray:
    """Splat strokes onto images.

    Args:
        curves: ``[S, SAMPLES, 2]`` curve points in pixel coordinates (x, y).
        image_ids: ``[S]`` which image each stroke is drawn into.
        sigma: ``[num_images]`` pen radius in pixels.

    Returns:
        ``uint8 [num_images, image_size, image_size]``.
    """
    # Each sample carries the arc length around it, so the summed splats form a ridge of
    # height ~1 whatever the curve's speed; overlapping strokes saturate at 1.
    seg = np.linalg.norm(np.diff(curves, axis=1), axis=-1)  # [S, SAMPLES-1]
    length = np.zeros(curves.shape[:2])
    length[:, 1:] += seg / 2
    length[:, :-1] += seg / 2
    s = sigma[image_ids][:, None]  # [S, 1]
    weight = length / (np.sqrt(2 * np.pi) * s)
    base = np.floor(curves).astype(np.int64) - 1  # a 4x4 neighbourhood around each sample
    total = np.zeros(num_images * image_size * image_size)
    for dy in range(4):
        for dx in range(4):
            px, py = base[..., 0] + dx, base[..., 1] + dy
            d2 = (px + 0.5 - curves[..., 0]) ** 2 + (py + 0.5 - curves[..., 1]) ** 2
            w = weight * np.exp(-d2 / (2 * s**2))
            inside = (px >= 0) & (px < image_size) & (py >= 0) & (py < image_size)
            flat = (image_ids[:, None] * image_size + py) * image_size + px
            total += np.bincount(flat[inside], w[inside], minlength=total.size)
    ink = np.clip(INK_GAIN * total, 0.0, 1.0)
    return np.round(ink * 255).astype(np.uint8).reshape(num_images, image_size, image_size)


def _draw(
    rng: np.random.Generator | None,
    points,
    num_points,
    smooth,
    stroke_class,
    num_classes: int,
    examples: int,
    image_size: int,
) -> np.ndarray:
    """Render ``examples`` renditions of each program: ``uint8 [classes, examples, H, W]``.

    ``rng=None`` draws the clean program (no jitter, no warp, mean pen width).
    """
    num_strokes = len(points)
    ctrl = np.broadcast_to(points[:, None], (num_strokes, examples, MAX_POINTS, 2)).copy()
    image_ids = stroke_class[:, None] * examples + np.arange(examples)  # [S, E]
    num_images = num_classes * examples
    scale = np.full(num_images, GLYPH_HALF_SIZE * image_size)
    linear = np.broadcast_to(np.eye(2), (num_images, 2, 2)).copy()
    shift = np.zeros((num_images, 2))
    sigma = np.full(num_images, PEN_SIGMA * image_size / 28)
    if rng is not None:
        ctrl += rng.normal(0, POINT_JITTER, ctrl.shape)
        ctrl += rng.normal(0, STROKE_SHIFT, (num_strokes, examples, 1, 2))
        angle = np.deg2rad(rng.normal(0, ROTATE_DEG, num_images))
        shear = rng.normal(0, SHEAR, num_images)
        cos, sin = np.cos(angle), np.sin(angle)
        linear = np.stack(
            [np.stack([cos, -sin + shear * cos], -1), np.stack([sin, cos + shear * sin], -1)], -2
        )
        scale *= np.exp(rng.normal(0, LOG_SCALE, num_images))
        shift = rng.normal(0, TRANSLATE * image_size, (num_images, 2))
        sigma *= np.exp(rng.normal(0, PEN_SIGMA_LOG_STD, num_images))
    bases = _BASES[_basis_index(num_points, smooth)]  # [S, SAMPLES, MAX_POINTS]
    curves = np.einsum("smp,sepd->semd", bases, ctrl)  # [S, E, SAMPLES, 2]
    ids = image_ids.reshape(-1)
    curves = curves.reshape(-1, SAMPLES, 2)
    curves = np.einsum("sij,smj->smi", linear[ids], curves) * scale[ids, None, None]
    curves += shift[ids, None] + image_size / 2
    images = _render(curves, ids, num_images, image_size, sigma)
    return images.reshape(num_classes, examples, image_size, image_size)


# --------------------------------------------------------------------------- the data set


def _class_counts(rng: np.random.Generator, num_alphabets: int) -> np.ndarray:
    """Classes per alphabet: between 14 and 55 like Omniglot, ~32.5 on average."""
    target = int(round(CLASSES_PER_ALPHABET * num_alphabets))
    counts = rng.integers(14, 56, num_alphabets)
    for _ in range(10_000):  # nudge random alphabets until the total is Omniglot's
        diff = target - counts.sum()
        if diff == 0:
            break
        i = rng.integers(num_alphabets)
        counts[i] = np.clip(counts[i] + np.sign(diff), 14, 55)
    return counts


def _distinct_programs(rng, style, count, accepted: list, image_size: int):
    """``count`` programs of one alphabet whose clean drawings differ from all others.

    A candidate is redrawn while its clean drawing (no jitter) lies within
    ``DUPLICATE_RMS`` root-mean-square intensity of an earlier class's, in this alphabet
    or an earlier one. ``accepted`` collects the clean drawings ``[n, H*W]`` so far.
    """
    programs = [_character(rng, style) for _ in range(count)]
    previous = np.concatenate(accepted) if accepted else np.zeros((0, image_size**2))
    for _ in range(20):
        clean = _draw(None, *_pack(programs), count, 1, image_size)
        flat = clean.reshape(count, -1).astype(np.float64) / 255
        ref = np.concatenate([previous, flat])
        d2 = (flat**2).sum(1)[:, None] - 2 * flat @ ref.T + (ref**2).sum(1)[None]
        col = np.arange(len(ref))[None] - len(previous)  # < 0: an earlier alphabet
        earlier = col < np.arange(count)[:, None]  # a class drawn before this one
        redo = np.flatnonzero(((d2 < DUPLICATE_RMS**2 * flat.shape[1]) & earlier).any(1))
        if len(redo) == 0:
            accepted.append(flat)
            return programs
        for i in redo:
            programs[i] = _character(rng, style)
    raise RuntimeError("could not draw distinct characters; lower DUPLICATE_RMS")


def generate_glyphs(
    seed: int = 0, num_alphabets: int = 50, examples_per_class: int = 20, image_size: int = 28
) -> dict[str, np.ndarray]:
    """Generate the whole glyph set (every alphabet, both splits).

    Returns a dict of numpy arrays (``C`` classes, ``A`` alphabets, ``E`` examples):
        ``images``: ``uint8 [C, E, 1, image_size, image_size]``, strokes 255 on 0.
        ``alphabet``: ``int64 [C]`` the alphabet index of each class (sorted).
        ``character``: ``int64 [C]`` the class's index inside its alphabet.
        ``background``: ``bool [A]`` whether each alphabet is in the background split
        (the first ``round(0.6 * A)`` alphabets).
        ``num_strokes``: ``int64 [C]`` strokes in each character program.
    """
    if num_alphabets < 2:
        raise ValueError(f"num_alphabets must be at least 2 (one per split), got {num_alphabets}")
    counts = _class_counts(np.random.default_rng([seed, 0]), num_alphabets)
    accepted: list = []
    images, alphabet, character, num_strokes = [], [], [], []
    for a, count in enumerate(counts):
        rng = np.random.default_rng([seed, 1, a])
        style = _random_style(rng)
        programs = _distinct_programs(rng, style, int(count), accepted, image_size)
        drawn = _draw(rng, *_pack(programs), int(count), examples_per_class, image_size)
        images.append(drawn[:, :, None])
        alphabet += [a] * int(count)
        character += list(range(int(count)))
        num_strokes += [len(p) for p in programs]
    background = np.arange(num_alphabets) < int(round(BACKGROUND_FRACTION * num_alphabets))
    return {
        "images": np.concatenate(images),
        "alphabet": np.array(alphabet, dtype=np.int64),
        "character": np.array(character, dtype=np.int64),
        "background": background,
        "num_strokes": np.array(num_strokes, dtype=np.int64),
    }


def load_glyphs(
    split: str = "background",
    seed: int = 0,
    image_size: int = 28,
    use_cache: bool = True,
    num_alphabets: int = 50,
) -> ClassDataset:
    """The generated glyphs of one split as a :class:`ClassDataset`.

    Args:
        split: ``"background"`` (30 alphabets, for training), ``"evaluation"`` (the other
            20, for testing) or ``"all"``.
        seed, image_size, num_alphabets: passed to :func:`generate_glyphs`.
        use_cache: read/write the generated arrays under ``$CS182META_CACHE`` (the first
            call generates them, ~10 s; later calls load them in well under a second).

    Returns:
        images ``uint8 [C, 20, 1, image_size, image_size]``, class names like
        ``"alphabet07/character12"``, alphabets like ``"alphabet07"`` (both numbered
        from 1, like Omniglot's characters).
    """
    if split not in SPLITS:
        raise ValueError(f"unknown glyphs split {split!r}; choose one of {', '.join(SPLITS)}")
    params = {
        "version": GLYPHS_VERSION,
        "seed": int(seed),
        "image_size": int(image_size),
        "num_alphabets": int(num_alphabets),
        "examples_per_class": 20,
    }
    data = load_or_build(
        "glyphs",
        params,
        lambda: generate_glyphs(seed, num_alphabets, 20, image_size),
        use_cache=use_cache,
    )
    in_background = data["background"][data["alphabet"]]
    keep = {
        "background": in_background,
        "evaluation": ~in_background,
        "all": np.ones_like(in_background),
    }[split]
    idx = np.flatnonzero(keep)
    alphabets = [f"alphabet{a + 1:02d}" for a in data["alphabet"][idx]]
    names = [
        f"{al}/character{c + 1:02d}"
        for al, c in zip(alphabets, data["character"][idx], strict=True)
    ]
    return ClassDataset(
        images=torch.from_numpy(np.ascontiguousarray(data["images"][idx])),
        class_names=names,
        alphabets=alphabets,
        name=f"glyphs/{split}",
        info={"seed": seed, "version": GLYPHS_VERSION, "generator": "cs182meta.data.glyphs"},
    )
