"""Command line: ``python -m cs182meta info``, ``episode`` and ``export`` (written answers
as a PDF to upload to Gradescope)."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Setting:
    """One variable's effective value, and whether it came from the environment or the
    default."""

    variable: str
    value: str
    source: str  # "environment", "default", or "nbgrader" (the profile under nbgrader)


def effective() -> list[Setting]:
    """Every ``CS182META_*`` variable's effective value (validated: a bad value raises).

    It lives here, not in :mod:`cs182meta.settings`, because it needs the device and the
    profile, whose modules read :mod:`cs182meta.settings` (which stays a leaf).
    """
    from cs182meta import settings
    from cs182meta.device import pick_device
    from cs182meta.profiles import current_profile

    def source(variable: str) -> str:
        return "environment" if settings.is_set(variable) else "default"

    omniglot = settings.omniglot_folder()
    cap, log = settings.max_steps(), settings.run_log()
    return [
        Setting(settings.PROFILE_ENV, current_profile(),
                "nbgrader" if settings.under_nbgrader() else source(settings.PROFILE_ENV)),
        Setting(settings.DATASET_ENV, settings.dataset(), source(settings.DATASET_ENV)),
        Setting(settings.DEVICE_ENV, str(pick_device()), source(settings.DEVICE_ENV)),
        Setting(settings.OMNIGLOT_ENV, str(omniglot) if omniglot else "(not set)",
                source(settings.OMNIGLOT_ENV)),
        Setting(settings.CACHE_ENV, str(settings.cache_folder()), source(settings.CACHE_ENV)),
        Setting(settings.PROGRESS_ENV, "on" if settings.progress() else "off",
                source(settings.PROGRESS_ENV)),
        Setting(settings.MAX_STEPS_ENV, str(cap) if cap else "(no cap)",
                source(settings.MAX_STEPS_ENV)),
        Setting(settings.RUN_LOG_ENV, str(log) if log else "(not set)",
                source(settings.RUN_LOG_ENV)),
    ]


def cmd_info(args: argparse.Namespace) -> int:
    from cs182meta import __version__
    from cs182meta.data import available_offline
    from cs182meta.device import describe

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


def cmd_export(args: argparse.Namespace) -> int:
    from cs182meta.pdf import RenderError, printer
    from cs182meta.written import NotebookError, read_notebook, written_answers

    notebook = Path(args.notebook)
    assignment = notebook.stem
    out = Path(args.out) if args.out else notebook.with_name(f"{assignment}-written.pdf")
    try:
        answers = written_answers(read_notebook(notebook))
        with printer() as pdf:
            pdf.print(answers, assignment, args.name or assignment, out)
    except (NotebookError, RenderError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    blank = sum(answer.blank for answer in answers)
    print(f"wrote {out}: {len(answers)} written answers, one per page"
          + (f" ({blank} blank)" if blank else "") + "; upload it to the written-answers assignment")
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
    export = commands.add_parser("export", help="your written answers as a PDF, one question a page, "
                                 "for Gradescope")
    export.add_argument("notebook", help="your notebook, e.g. 02_nonparametric.ipynb")
    export.add_argument("--out", help="the PDF (default: NN_name-written.pdf beside the notebook)")
    export.add_argument("--name", help="your name or id, printed on every page")
    args = parser.parse_args(argv)
    handler = {"info": cmd_info, "episode": cmd_episode, "export": cmd_export}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
