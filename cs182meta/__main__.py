"""Command line: ``python -m cs182meta info`` and ``python -m cs182meta episode``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def cmd_info(args: argparse.Namespace) -> int:
    from cs182meta import __version__
    from cs182meta.data import available_offline
    from cs182meta.device import describe
    from cs182meta.settings import effective

    try:
        settings = effective()
    except (ValueError, RuntimeError) as err:
        print(f"bad setting: {err}", file=sys.stderr)
        return 2
    print(f"cs182meta {__version__}")
    print(describe())
    print("settings:")
    for setting in settings:
        print(f"  {setting.variable:20s} {setting.value}  ({setting.source})")
    print("datasets available offline:")
    for name, status in available_offline().items():
        print(f"  {name:9s} {status}")
    return 0


def cmd_episode(args: argparse.Namespace) -> int:
    import matplotlib

    matplotlib.use("Agg")
    from cs182meta.data import load
    from cs182meta.episodes import EpisodeSampler
    from cs182meta.plotting import show_episode

    dataset = load(args.dataset, split=args.split)
    sampler = EpisodeSampler(dataset, args.n_way, args.k_shot, args.q_query, seed=args.seed)
    figure = show_episode(sampler[0], class_names=dataset.class_names)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out, dpi=120)
    print(f"{dataset!r}: saved one {args.n_way}-way {args.k_shot}-shot episode to {out}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cs182meta", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "info", help="the device, versions, settings (CS182META_*) and datasets available offline"
    )
    episode = commands.add_parser("episode", help="save a picture of one sampled episode")
    episode.add_argument("--dataset", default=None, help="glyphs (default) or omniglot")
    episode.add_argument("--split", default="evaluation")
    episode.add_argument("--n-way", type=int, default=5)
    episode.add_argument("--k-shot", type=int, default=1)
    episode.add_argument("--q-query", type=int, default=3)
    episode.add_argument("--seed", type=int, default=0)
    episode.add_argument("--out", default="build/episode.png")
    args = parser.parse_args(argv)
    handler = {"info": cmd_info, "episode": cmd_episode}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
