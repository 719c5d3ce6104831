"""How hard and how learnable are the embedded glyphs, next to real Omniglot?

Parts (``--part``):

* ``timing``: generating the full glyph set on one CPU core, and loading it from cache.
* ``pixel``: pixel-space 1-nearest-neighbour accuracy (Euclidean) on 1,000 episodes per
  setting (5/20-way, 1/5-shot, 5 queries per class, classes drawn from the whole pool):
  real = every character of Omniglot's two small background splits (Greek and Latin,
  which both hold, counted once: 242 characters), resized to 28x28 with LANCZOS,
  inverted (strokes bright), each class turned by a random multiple of 90 degrees;
  embedded = the glyphs' evaluation split. This is the calibration target.
* ``learn``: a Conv4 trained by plain classification (cross-entropy, Adam, a few
  minutes on the CPU) on background classes; then 1-NN on its 64-d features over
  held-out classes. Glyphs: background -> evaluation split. Omniglot: trained on
  small1's alphabets (Balinese, Early_Aramaic, Korean, Greek, Latin; each rotation a
  class), tested on small2's others (Japanese_(katakana), Sanskrit, Tagalog).
* ``transfer``: the network trained on glyphs only, 1-NN on its features over all 242
  real characters (the ``pixel`` pool).

Usage::

    python benchmarks/datasets.py --part all --out /tmp/datasets.md  (then copy the tables into RESULTS.md)
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cs182meta.data.glyphs import load_glyphs  # noqa: E402
from cs182meta.episodes import EpisodeSampler  # noqa: E402
from cs182meta.evaluate import Interval, evaluate_episodes  # noqa: E402
from cs182meta.models import Conv4  # noqa: E402
from cs182meta.settings import CACHE_ENV  # noqa: E402

OMNIGLOT = REPO.parent / "shared" / "data" / "omniglot"
ZIPS = ("images_background_small1.zip", "images_background_small2.zip")
SETTINGS = ((5, 1), (5, 5), (20, 1), (20, 5))
QUERIES = 5
REAL_TRAIN = ("Balinese", "Early_Aramaic", "Korean", "Greek", "Latin")
REAL_TEST = ("Japanese_(katakana)", "Sanskrit", "Tagalog")
REAL_PIXEL_REFERENCE = (43.8, 65.6, 24.1, 44.6)  # the brief's measurement of the protocol


# --------------------------------------------------------------------------- data


def read_small_omniglot(root: Path = OMNIGLOT, size: int = 28):
    """Every character of the two small zips, Greek and Latin once.

    Returns ``images uint8 [C, 20, 1, size, size]`` (strokes 255 on 0), ``alphabets [C]``.
    """
    chars: dict[tuple[str, str], dict[str, np.ndarray]] = {}
    for name in ZIPS:
        with zipfile.ZipFile(root / name) as zf:
            for member in sorted(zf.namelist()):
                if not member.endswith(".png"):
                    continue
                _, alphabet, character, file = member.split("/")
                drawings = chars.setdefault((alphabet, character), {})
                if file in drawings:  # the second copy of Greek / Latin
                    continue
                image = Image.open(io.BytesIO(zf.read(member))).convert("L")
                image = image.resize((size, size), Image.LANCZOS)
                drawings[file] = 255 - np.asarray(image)
    keys = sorted(chars)
    images = np.stack([np.stack([chars[k][f] for f in sorted(chars[k])]) for k in keys])
    return images[:, :, None], [k[0] for k in keys]


def rotate_classes(images: np.ndarray, seed: int = 0) -> np.ndarray:
    """Turn each class ``[E, 1, H, W]`` by its own random multiple of 90 degrees."""
    turns = np.random.default_rng(seed).integers(0, 4, len(images))
    return np.stack(
        [np.rot90(c, k=int(k), axes=(-2, -1)) for c, k in zip(images, turns, strict=True)]
    )


def all_rotations(images: np.ndarray) -> np.ndarray:
    """``[C, E, 1, H, W]`` -> ``[4C, E, 1, H, W]``: each rotation of a class is a class."""
    return np.concatenate([np.rot90(images, k=k, axes=(-2, -1)) for k in range(4)])


# --------------------------------------------------------------------------- 1-NN


def nearest_neighbour(metric: str):
    """``predict(episode) -> logits [N*Q, N]``: minus the distance to the nearest shot."""

    def predict(episode):
        s = episode.support_x.flatten(1)  # (N*K, D)
        q = episode.query_x.flatten(1)  # (N*Q, D)
        if metric == "cosine":
            d = 1 - F.normalize(q, dim=1) @ F.normalize(s, dim=1).T
        else:
            d = torch.cdist(q, s)  # (N*Q, N*K)
        n = episode.n_way
        return -d.view(len(q), n, -1).amin(dim=2)  # support is class-major

    return predict


def few_shot_nn(
    vectors: torch.Tensor, episodes: int, metric: str = "euclidean", seed: int = 0
) -> list[Interval]:
    """1-NN accuracy (%) for each of ``SETTINGS`` on ``vectors [C, E, ...]``."""
    results = []
    for n, k in SETTINGS:
        sampler = EpisodeSampler(vectors, n, k, QUERIES, num_episodes=episodes, seed=seed)
        results.append(evaluate_episodes(nearest_neighbour(metric), sampler).as_percent())
    return results


def pixels(images: np.ndarray) -> torch.Tensor:
    """``uint8 [C, E, 1, H, W]`` -> ``float32 [C, E, H*W]`` in ``[0, 1]``."""
    return torch.from_numpy(np.ascontiguousarray(images)).flatten(2).float() / 255


# --------------------------------------------------------------------------- learning


def train_classifier(
    images: np.ndarray, seconds: float, steps: int = 1500, seed: int = 0, batch: int = 64
):
    """Conv4 + linear head, cross-entropy over all classes of ``images [C, E, 1, H, W]``.

    Adam for ``steps`` minibatches, or until ``seconds`` have passed if that comes first
    (on a busy machine). Returns the model and ``(steps, epochs, elapsed)``.
    """
    torch.manual_seed(seed)
    c, e = images.shape[:2]
    x = torch.from_numpy(np.ascontiguousarray(images)).flatten(0, 1)  # (C*E, 1, H, W) uint8
    y = torch.arange(c).repeat_interleave(e)
    model = Conv4(num_classes=c, image_size=images.shape[-1])
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    gen = torch.Generator().manual_seed(seed)
    start, done = time.perf_counter(), 0
    model.train()
    while done < steps and time.perf_counter() - start < seconds:
        for idx in torch.randperm(len(x), generator=gen).split(batch):
            loss = F.cross_entropy(model(x[idx].float() / 255), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            done += 1
            if done >= steps or time.perf_counter() - start > seconds:
                break
    elapsed = time.perf_counter() - start
    steps = done
    print(
        f"  trained {steps} steps ({steps * batch / len(x):.1f} epochs) in {elapsed:.0f} s, "
        f"last loss {loss.item():.2f}",
        flush=True,
    )
    return model.eval(), (steps, steps * batch / len(x), elapsed)


@torch.no_grad()
def embed(model: Conv4, images: np.ndarray) -> torch.Tensor:
    """Features ``[C, E, 64]`` of ``images uint8 [C, E, 1, H, W]`` (BN in eval mode)."""
    model.features.eval()
    x = torch.from_numpy(np.ascontiguousarray(images)).flatten(0, 1).float() / 255
    z = torch.cat([model.features(chunk).flatten(1) for chunk in x.split(512)])
    return z.view(*images.shape[:2], -1)


# --------------------------------------------------------------------------- parts


def part_timing() -> dict:
    """Generation on one core (a fresh process pinned to CPU 0) and cache load time."""
    code = (
        "import time, torch; torch.set_num_threads(1)\n"
        "from cs182meta.data.glyphs import generate_glyphs\n"
        "t = time.perf_counter(); generate_glyphs(0); print(time.perf_counter() - t)\n"
    )
    env = dict(
        os.environ,
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        PYTHONPATH=str(REPO),
    )
    cmd = [sys.executable, "-c", code]
    pinned = shutil.which("taskset") is not None
    if pinned:
        cmd = ["taskset", "-c", "0", *cmd]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, check=True)
    generate_s = float(out.stdout.strip().splitlines()[-1])
    with tempfile.TemporaryDirectory() as tmp:
        old = os.environ.get(CACHE_ENV)
        os.environ[CACHE_ENV] = tmp
        try:
            load_glyphs("all")
            t = time.perf_counter()
            ds = load_glyphs("all")
            load_s = time.perf_counter() - t
        finally:
            if old is None:
                del os.environ[CACHE_ENV]
            else:
                os.environ[CACHE_ENV] = old
    print(
        f"generate (1 core{', taskset' if pinned else ''}): {generate_s:.1f} s; "
        f"cache load of {ds}: {load_s:.2f} s",
        flush=True,
    )
    return {
        "generate_s": generate_s,
        "load_s": load_s,
        "pinned": pinned,
        "classes": len(ds),
        "alphabets": len(set(ds.alphabets)),
    }


def part_pixel(real, glyph_eval, episodes: int) -> dict:
    t = time.perf_counter()
    rows = {
        "Omniglot (small1+small2, 242 chars, rotated)": few_shot_nn(pixels(real), episodes),
        f"glyphs evaluation ({len(glyph_eval)} classes)": few_shot_nn(pixels(glyph_eval), episodes),
        "glyphs evaluation, rotated like Omniglot": few_shot_nn(
            pixels(rotate_classes(glyph_eval, seed=1)), episodes
        ),
    }
    for name, res in rows.items():
        print(f"  pixel 1-NN {name}: " + " | ".join(_fmt(r) for r in res), flush=True)
    return {"rows": rows, "seconds": time.perf_counter() - t}


def part_learn(
    real,
    real_alphabets,
    glyph_bg,
    glyph_eval,
    episodes,
    budget: tuple[float, int],
    learn: bool = True,
    transfer: bool = True,
) -> dict:
    """``learn``: glyphs -> glyphs and Omniglot -> Omniglot; ``transfer``: glyphs -> Omniglot.
    The glyph network is trained once and serves both."""
    out = {}
    print("  training Conv4 on glyphs/background ...", flush=True)
    model, stats = train_classifier(glyph_bg, *budget)
    if learn:
        out.update(
            _learn_within(
                model, stats, real, real_alphabets, glyph_bg, glyph_eval, episodes, budget
            )
        )
    if transfer:
        zt = embed(model, real)
        out["transfer"] = _nn_row(
            f"glyphs background: {len(glyph_bg)} classes",
            f"Omniglot, all {len(real)} chars, rotated",
            pixels(real), zt, episodes, stats,
        )
    for key, r in out.items():
        for m in ("pixel", "euclidean", "cosine"):
            print(f"  {key:9s} {m:9s}: " + " | ".join(_fmt(x) for x in r[m]), flush=True)
    return out


def _nn_row(train: str, test: str, pixel_vectors, features, episodes, stats) -> dict:
    """One table row: 1-NN on pixels, and on features by Euclidean and cosine distance."""
    return {
        "train": train,
        "test": test,
        "pixel": few_shot_nn(pixel_vectors, episodes),
        "euclidean": few_shot_nn(features, episodes),
        "cosine": few_shot_nn(features, episodes, "cosine"),
        "stats": stats,
    }


def _learn_within(
    model, stats, real, real_alphabets, glyph_bg, glyph_eval, episodes, budget
) -> dict:
    out = {}
    z = embed(model, glyph_eval)
    out["glyphs"] = _nn_row(
        f"glyphs background: {len(glyph_bg)} classes",
        f"glyphs evaluation: {len(glyph_eval)} classes",
        pixels(glyph_eval), z, episodes, stats,
    )
    train = np.array([a in REAL_TRAIN for a in real_alphabets])
    test = np.array([a in REAL_TEST for a in real_alphabets])
    print(
        f"  training Conv4 on Omniglot {', '.join(REAL_TRAIN)} "
        f"({train.sum()} chars x 4 rotations) ...",
        flush=True,
    )
    real_model, real_stats = train_classifier(all_rotations(real[train]), *budget)
    zr = embed(real_model, real[test])
    out["omniglot"] = _nn_row(
        f"Omniglot {', '.join(REAL_TRAIN)}: {train.sum()} chars x 4 rotations",
        f"Omniglot {', '.join(REAL_TEST)}: {test.sum()} chars, rotated",
        pixels(real[test]), zr, episodes, real_stats,
    )
    return out


# --------------------------------------------------------------------------- report


def _fmt(r: Interval) -> str:
    return f"{r.mean:.1f} ± {r.ci95:.1f}"


def markdown(results: dict, episodes: int) -> str:
    head = (
        "| | 5-way 1-shot | 5-way 5-shot | 20-way 1-shot | 20-way 5-shot |\n|---|---|---|---|---|\n"
    )
    lines = [
        "## Datasets: embedded glyphs vs real Omniglot",
        "",
        f"Machine: {os.cpu_count()}-core CPU ({platform.processor() or platform.machine()}), "
        f"torch {torch.__version__} with {torch.get_num_threads()} threads, numpy "
        f"{np.__version__}. Produced by `python benchmarks/datasets.py --part all`.",
        "",
    ]
    if "timing" in results:
        t = results["timing"]
        lines += [
            "### Generation",
            "",
            f"`generate_glyphs(seed=0)` ({t['classes']} classes in {t['alphabets']} "
            f"alphabets, 20 examples, 28x28): **{t['generate_s']:.1f} s** on one core "
            f"({'pinned with taskset -c 0, ' if t['pinned'] else ''}1 thread); "
            f"`load_glyphs('all')` from the cache: **{t['load_s']:.2f} s**.",
            "",
        ]
    if "pixel" in results:
        lines += [
            "### Calibration: pixel-space 1-NN (Euclidean)",
            "",
            f"{episodes} episodes per column, {QUERIES} queries per class, classes drawn from "
            "the whole pool; mean accuracy % ± 95% interval (1.96·std/√n). Target: glyphs "
            "within ±5 points of Omniglot in every column.",
            "",
            head.rstrip("\n"),
        ]
        lines[-1] += (
            "\n"
            + "| Omniglot, as measured in the brief | "
            + " | ".join(f"{v:.1f}" for v in REAL_PIXEL_REFERENCE)
            + " |"
        )
        real = None
        for name, res in results["pixel"]["rows"].items():
            lines.append(f"| {name} | " + " | ".join(_fmt(r) for r in res) + " |")
            real = real or res
        glyph = list(results["pixel"]["rows"].values())[1]
        diffs = [g.mean - r.mean for g, r in zip(glyph, real, strict=True)]
        lines += [
            "| glyphs − Omniglot (points) | " + " | ".join(f"{d:+.1f}" for d in diffs) + " |",
            "",
            "Omniglot: every character of `images_background_small1.zip` and `..._small2.zip` "
            "(Greek and Latin once), LANCZOS to 28×28, inverted, one random multiple of 90° "
            "per class. Glyphs: `load_glyphs('evaluation')`, not rotated (the rotated row "
            "is for reference).",
            "",
        ]
    if "learn" in results:
        r = results["learn"]
        lines += [
            "### Learnability and transfer: 1-NN on Conv4 features",
            "",
            "Conv4 (4×[conv3×3 64, BN, ReLU, maxpool]) + linear head trained by plain "
            "cross-entropy over all training classes (Adam, lr 2e-3, batch 64, no "
            "augmentation) for at most 1,500 steps or 175 s, whichever ends first; then "
            "1-NN on the 64-d features "
            "(BN in eval mode) of held-out classes. Same episodes as above.",
            "",
            "| data | train → test | method | 5-way 1-shot | 5-way 5-shot | 20-way 1-shot | "
            "20-way 5-shot |",
            "|---|---|---|---|---|---|---|",
        ]
        for key, label in (
            ("glyphs", "glyphs"),
            ("omniglot", "Omniglot"),
            ("transfer", "transfer"),
        ):
            if key not in r:
                continue
            e = r[key]
            steps, ep, sec = e["stats"]
            for m in ("pixel", "euclidean", "cosine"):
                what = "pixel 1-NN" if m == "pixel" else f"Conv4 features, {m} 1-NN"
                lines.append(
                    f"| {label} | {e['train']} ({steps} steps, {ep:.1f} epochs, "
                    f"{sec:.0f} s) → {e['test']} | {what} | "
                    + " | ".join(_fmt(x) for x in e[m])
                    + " |"
                )
        lines.append("")
        for key, label in (("glyphs", "glyphs"), ("omniglot", "Omniglot")):
            if key not in r:
                continue
            e = r[key]
            gain = max(e["euclidean"][0].mean, e["cosine"][0].mean) - e["pixel"][0].mean
            lines.append(
                f"- {label}: features beat pixel 1-NN at 5-way 1-shot by "
                f"**{gain:+.1f} points** (target ≥ +25)."
            )
        lines.append("")
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--part", choices=["timing", "pixel", "learn", "transfer", "all"], default="all")
    p.add_argument("--episodes", type=int, default=1000)
    p.add_argument("--train-steps", type=int, default=1500, help="minibatches of 64")
    p.add_argument(
        "--train-seconds", type=float, default=175.0, help="stop training earlier than this"
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--omniglot", type=Path, default=OMNIGLOT)
    p.add_argument("--out", type=Path, help="write the markdown report here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if not all((args.omniglot / z).exists() for z in ZIPS) and args.part != "timing":
        sys.exit(f"Omniglot's small zips are not in {args.omniglot}; pass --omniglot DIR")

    results = {}
    if args.part in ("timing", "all"):
        results["timing"] = part_timing()
    if args.part == "timing":
        print(markdown(results, args.episodes))
        return
    real_raw, real_alphabets = read_small_omniglot(args.omniglot)
    real = rotate_classes(real_raw, seed=0)
    glyph_eval = load_glyphs("evaluation").images.numpy()
    if args.part in ("pixel", "all"):
        results["pixel"] = part_pixel(real, glyph_eval, args.episodes)
    if args.part in ("learn", "transfer", "all"):
        glyph_bg = load_glyphs("background").images.numpy()
        results["learn"] = part_learn(
            real,
            real_alphabets,
            glyph_bg,
            glyph_eval,
            args.episodes,
            (args.train_seconds, args.train_steps),
            learn=args.part in ("learn", "all"),
            transfer=args.part in ("transfer", "all"),
        )
    report = markdown(results, args.episodes)
    print(report)
    if args.out:
        args.out.write_text(report + "\n")
        print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
