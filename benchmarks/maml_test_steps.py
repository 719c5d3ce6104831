"""Why more test-time inner steps hurt notebook 04's MAML at its training step size.

Trains notebook 04's MAML exactly as its quick profile does (its own cells: the same
tasks, 30 s or 3,000 tasks), then adapts it to 100 evaluation tasks (5-way 1-shot) for
10 inner steps of α = 0.4 (the meta-trained size) and of α = 0.1, and prints the mean
support-set loss and query accuracy after each step. Figures in ``benchmarks/RESULTS.md``
(notebook 04).

    CS182META_PROFILE=quick python benchmarks/maml_test_steps.py [--dataset glyphs|omniglot]
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

CELLS = ["setup", "parameters", "data", "backbone", "siamese_logits", "siamese_class_scores",
         "siamese-learner", "fce_support", "fce_query", "families"]
TRAINING_STARTS = "learners, records = {}, {}"  # in the train cell: what comes before it defines meta_train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dataset", default="glyphs")
    parser.add_argument("--tasks", type=int, default=100)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args()
    os.environ.setdefault("CS182META_PROFILE", "quick")
    os.environ["CS182META_DATASET"] = args.dataset
    os.environ.setdefault("MPLBACKEND", "Agg")

    import torch
    import torch.nn.functional as F
    from torch.func import functional_call

    from autograder import sources

    namespace = sources.cell_namespace("04_families", CELLS)
    train_cell = next(c.source for c in sources.notebook("04_families").cells
                      if c.metadata.get("nbgrader", {}).get("grade_id") == "train")
    functions, found, _ = train_cell.partition(TRAINING_STARTS)
    if not found:
        raise SystemExit(f"04's train cell no longer has the line {TRAINING_STARTS!r}: update this script")
    exec(compile(functions, "04_families:train", "exec"), namespace)  # noqa: S102  (its functions only)

    torch.manual_seed(0)
    maml = namespace["MAML"]()
    record = namespace["meta_train"](maml)
    print(f"{args.dataset}: MAML meta-trained on {record['tasks']} tasks in {record['seconds']:.1f} s")
    sampler = namespace["EpisodeSampler"](namespace["evaluation"], 5, 1, 5, num_episodes=args.tasks, seed=5)
    for alpha in (namespace["MAML_ALPHA"], 0.1):
        support_loss = torch.zeros(args.steps + 1)
        query_accuracy = torch.zeros(args.steps + 1)
        for episode in sampler:
            phi = dict(maml.net.named_parameters())
            for step in range(args.steps + 1):
                with torch.no_grad():
                    support_loss[step] += F.cross_entropy(
                        functional_call(maml.net, phi, (episode.support_x,)), episode.support_y).item()
                    logits = functional_call(maml.net, phi, (episode.query_x,))
                    query_accuracy[step] += (logits.argmax(1) == episode.query_y).float().mean().item()
                phi = namespace["inner_adapt"](maml.net, phi, episode.support_x, episode.support_y, 1, alpha,
                                               create_graph=False, loss_fn=F.cross_entropy)
                phi = {name: p.detach().requires_grad_() for name, p in phi.items()}
        print(f"alpha={alpha}: support loss after 0..{args.steps} steps "
              + " ".join(f"{v:.2f}" for v in (support_loss / args.tasks).tolist()))
        print(f"alpha={alpha}: query accuracy after 0..{args.steps} steps "
              + " ".join(f"{v:.2f}" for v in (query_accuracy / args.tasks).tolist()))


if __name__ == "__main__":
    main()
