"""First-order vs second-order MAML at equal meta-steps and at (about) equal seconds.

Runs notebook 03's own cells (the source, with its solutions) in the ``quick`` profile,
skipping the sections it does not need, then meta-trains on the image tasks: MAML for
``IMAGE_STEPS`` meta-steps, and first-order MAML for 1×, 2× and 3× as many, and prints
each one's accuracy, seconds per meta-step and total training seconds.

Run: ``python benchmarks/first_order_budget.py [--dataset glyphs|omniglot] [--multiples 1 2 3]``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

NEEDED_CELLS = ("setup", "parameters", "threads", "functional-call", "inner_adapt",
                "maml_outer_loss", "image-loop")


def notebook_namespace() -> dict:
    """The namespace of notebook 03 after its ``NEEDED_CELLS`` ran (quick profile)."""
    from autograder import sources

    return sources.cell_namespace("03_maml", list(NEEDED_CELLS))


def train(ns: dict, first_order: bool, steps: int) -> tuple[str, float, float]:
    """Meta-train a fresh Conv-4 as the notebook does; (accuracy, s / step, s in all)."""
    net = ns["new_conv4"](seed=0)
    grouped = ns["TaskGroupedConv4"](net)
    optimizer = ns["torch"].optim.Adam(net.parameters(), lr=ns["IMAGE_LR"])
    start = time.perf_counter()
    per_step = ns["meta_train_images"](
        net,
        lambda params, tasks, step: ns["grouped_meta_loss"](
            ns["maml_outer_loss"], grouped, params, tasks, ns["TRAIN_INNER_STEPS"],
            ns["INNER_ALPHA"], first_order=first_order),
        steps, seed=1, optimizer=optimizer,
    )
    seconds = time.perf_counter() - start
    return str(ns["evaluate_images"](net, ns["INNER_ALPHA"])), per_step, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="glyphs")
    parser.add_argument("--multiples", type=int, nargs="+", default=[1, 2, 3],
                        help="first-order MAML's meta-steps, in multiples of IMAGE_STEPS")
    args = parser.parse_args()
    os.environ.update(CS182META_PROFILE="quick", CS182META_DATASET=args.dataset, MPLBACKEND="Agg")
    ns = notebook_namespace()
    steps = ns["IMAGE_STEPS"]
    print(f"{args.dataset}, quick profile: {steps} meta-steps of {ns['META_BATCH']} tasks")
    print(f"{'method':28s} {'accuracy (%)':>16s} {'s / step':>9s} {'s in all':>9s}", flush=True)
    runs = [("MAML", False, steps)] + [(f"first-order MAML, {m}x steps", True, m * steps)
                                        for m in args.multiples]
    for name, first_order, n in runs:
        accuracy, per_step, seconds = train(ns, first_order, n)
        print(f"{name:28s} {accuracy:>16s} {per_step:9.3f} {seconds:9.0f}", flush=True)


if __name__ == "__main__":
    main()
