"""Speed of one second-order MAML meta-step, implementation by implementation.

The step (issue "Notebook 03"): Conv-4 with batch-statistics BatchNorm, 5-way 1-shot,
15 queries per class, one inner SGD step, a meta-batch of 32 tasks, second order; the
meta-gradient of the mean query loss with respect to θ. Every variant runs in its own
process (so each peak-memory figure is its own), in one run on one machine:

* ``notebook-loop``      notebook 03's ``maml_outer_loss`` (a Python loop over tasks), NCHW:
                         the students' exercise
* ``loop+channels_last`` the same function, images and weights in channels-last layout
* ``notebook-vmap``      notebook 03's ``maml_outer_loss_vmap`` (``torch.func.vmap`` over tasks)
* ``grouped``            notebook 03's ``maml_outer_loss`` run on all tasks at once through
                         ``cs182meta.grouped`` (grouped convolutions, channels-last): what
                         notebook 03 trains with
* ``higher``             facebookresearch/higher's ``innerloop_ctx`` in a loop over tasks
                         (``pip install higher``; skipped with a note when missing)

Also measured in the same run: the step's FLOPs (``torch.utils.flop_counter``) and this
machine's fp32 throughput on a large matrix product and on Conv-4's own convolution, so
each variant's GFLOP/s can be read as a share of what the machine can do. Each variant's
meta-gradient is compared with ``notebook-loop``'s (largest difference relative to the
gradient's norm; vmap's differs by ~1e-3 with BatchNorm, see notebook 03).

Run: ``python benchmarks/maml_speed.py [--tasks 32] [--repeats 5] [--device cpu]``;
``--profile VARIANT`` prints where that variant's time goes (``torch.profiler``, top ops).
Notebook 03's functions are taken from its source, ``notebooks/src/03_maml.py`` (its setup
and solution cells, by id), so the benchmark times exactly what the notebook teaches.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from cs182meta.grouped import TaskGroupedConv4, grouped_meta_loss
from cs182meta.models import Conv4

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from autograder import sources  # noqa: E402

FUNCTIONS = ("inner_adapt", "maml_outer_loss", "maml_outer_loss_vmap")
VARIANTS = ("notebook-loop", "loop+channels_last", "notebook-vmap", "grouped", "higher")
N_WAY, K_SHOT, Q_QUERY, INNER_STEPS, ALPHA = 5, 1, 15, 1, 0.4


def notebook_functions() -> dict:
    """Notebook 03's setup cell and the solution cells named in FUNCTIONS, executed."""
    with contextlib.redirect_stdout(io.StringIO()):  # the setup cell's banner
        return sources.cell_namespace("03_maml", ["setup", *FUNCTIONS])


def make_problem(num_tasks: int, device: torch.device, seed: int = 0):
    """Conv-4 (batch-statistics BN, 5-way head) and a meta-batch of random 28x28 tasks."""
    torch.manual_seed(seed)
    model = Conv4(num_classes=N_WAY, batch_stats_bn=True).to(device)
    labels = torch.arange(N_WAY, device=device)
    tasks = (
        torch.rand(num_tasks, N_WAY * K_SHOT, 1, 28, 28, device=device),  # (T, N*K, 1, 28, 28)
        labels.repeat_interleave(K_SHOT).expand(num_tasks, -1).contiguous(),  # (T, N*K)
        torch.rand(num_tasks, N_WAY * Q_QUERY, 1, 28, 28, device=device),  # (T, N*Q, 1, 28, 28)
        labels.repeat_interleave(Q_QUERY).expand(num_tasks, -1).contiguous(),  # (T, N*Q)
    )
    return model, tasks


def to_channels_last(model, tasks):
    model = model.to(memory_format=torch.channels_last)
    images = [x.flatten(0, 1).contiguous(memory_format=torch.channels_last).unflatten(0, x.shape[:2])
              for x in (tasks[0], tasks[2])]
    return model, (images[0], tasks[1], images[1], tasks[3])


def step_function(variant: str, model, tasks):
    """A zero-argument function computing one meta-gradient ``{name: tensor}``."""
    params = dict(model.named_parameters())
    ce = F.cross_entropy
    if variant == "higher":
        import higher  # only this variant needs it

        inner_opt = torch.optim.SGD(model.parameters(), lr=ALPHA)

        def step():
            total = 0
            for t in range(tasks[0].shape[0]):
                with higher.innerloop_ctx(model, inner_opt, copy_initial_weights=False) as (fmodel, diffopt):
                    for _ in range(INNER_STEPS):
                        diffopt.step(ce(fmodel(tasks[0][t]), tasks[1][t]))
                    total = total + ce(fmodel(tasks[2][t]), tasks[3][t])
            loss = total / tasks[0].shape[0]
            return dict(zip(params, torch.autograd.grad(loss, list(params.values()))))

        return step
    nb = notebook_functions()
    if variant == "grouped":
        grouped = TaskGroupedConv4(model)

        def step():
            loss = grouped_meta_loss(nb["maml_outer_loss"], grouped, params, tasks, INNER_STEPS, ALPHA)
            return dict(zip(params, torch.autograd.grad(loss, list(params.values()))))

        return step
    if variant in ("notebook-loop", "loop+channels_last", "notebook-vmap"):
        outer = nb["maml_outer_loss_vmap" if variant == "notebook-vmap" else "maml_outer_loss"]

        def step():
            loss = outer(model, params, tasks, INNER_STEPS, ALPHA, first_order=False, loss_fn=ce)
            return dict(zip(params, torch.autograd.grad(loss, list(params.values()))))

        return step
    raise SystemExit(f"unknown variant {variant!r}; choose from {VARIANTS}")


def _rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_variant(variant: str, num_tasks: int, repeats: int, device: torch.device, grad_file: str) -> dict:
    """Time one variant in this process; save its gradient for the parent to compare."""
    model, tasks = make_problem(num_tasks, device)
    if variant == "loop+channels_last" and device.type == "cpu":
        model, tasks = to_channels_last(model, tasks)
    step = step_function(variant, model, tasks)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rss_before = _rss_mb()
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    grads = step()  # warm-up (allocator, kernels)
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    torch.save({k: v.detach().float().cpu() for k, v in grads.items()}, grad_file)
    if device.type == "cuda":
        peak = torch.cuda.max_memory_allocated(device) / 2**20
    else:  # ru_maxrss is in KiB on Linux
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 - rss_before
    return {"median_s": statistics.median(times), "min_s": min(times), "peak_mb": peak}


def print_profile(variant: str, num_tasks: int, device: torch.device, rows: int = 12) -> None:
    """The variant's top operators by self time over one step (after a warm-up step)."""
    from torch.profiler import profile

    model, tasks = make_problem(num_tasks, device)
    step = step_function(variant, model, tasks)
    step()
    with profile() as prof:
        step()
    print(f"\nwhere {variant}'s step goes (torch.profiler, self time):")
    print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=rows))


def step_flops(num_tasks: int, device: torch.device) -> int:
    from torch.utils.flop_counter import FlopCounterMode

    model, tasks = make_problem(num_tasks, device)
    step = step_function("notebook-loop", model, tasks)
    with FlopCounterMode(display=False) as counter:
        step()
    return counter.get_total_flops()


def _best_seconds(fn, device, repeats: int) -> float:
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    fn()
    best = float("inf")
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        best = min(best, time.perf_counter() - start)
    return best


def machine_throughput(device: torch.device) -> dict:
    """fp32 GFLOP/s of a 2048² matrix product and of Conv-4's 64->64 3x3 convolution."""
    a, b = torch.randn(2048, 2048, device=device), torch.randn(2048, 2048, device=device)
    matmul = 2 * 2048**3 / _best_seconds(lambda: a @ b, device, 5) / 1e9
    x = torch.randn(75 * 4, 64, 14, 14, device=device)  # a few tasks' query activations
    w = torch.randn(64, 64, 3, 3, device=device)
    conv_flops = 2 * x.shape[0] * 64 * 14 * 14 * 64 * 9
    conv = conv_flops / _best_seconds(lambda: F.conv2d(x, w, padding=1), device, 5) / 1e9
    return {"matmul_gflops": matmul, "conv_gflops": conv}


def _gradient_gap(reference: dict, other: dict) -> float:
    """max |g - g_ref| / max |g_ref| over all parameters."""
    scale = max(v.abs().max().item() for v in reference.values())
    return max((other[k] - reference[k]).abs().max().item() for k in reference) / scale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tasks", type=int, default=32, help="meta-batch size (32)")
    parser.add_argument("--repeats", type=int, default=5, help="timed steps per variant")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--variants", nargs="*", default=list(VARIANTS))
    parser.add_argument("--profile", metavar="VARIANT", help="also print where VARIANT's step goes")
    parser.add_argument("--worker", help=argparse.SUPPRESS)  # internal: run one variant
    parser.add_argument("--grad-file", help=argparse.SUPPRESS)
    args = parser.parse_args()
    device = torch.device(args.device)

    if args.worker:
        result = run_variant(args.worker, args.tasks, args.repeats, device, args.grad_file)
        print(json.dumps(result))
        return

    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    print(f"step: Conv-4 (batch-stat BN), {N_WAY}-way {K_SHOT}-shot, {Q_QUERY} queries/class, "
          f"{INNER_STEPS} inner step, meta-batch {args.tasks}, second order")
    flops = step_flops(args.tasks, device)
    peak = machine_throughput(device)
    best = max(peak.values())
    print(f"step FLOPs: {flops / 1e9:.1f} GFLOP | machine fp32: matmul {peak['matmul_gflops']:.1f} "
          f"GFLOP/s, conv {peak['conv_gflops']:.1f} GFLOP/s (best {best:.1f})")
    print(f"{'variant':<20} {'s/step':>8} {'min':>7} {'GFLOP/s':>8} {'% best':>7} {'peak MB':>8} {'grad gap':>9}")
    grads = {}
    with tempfile.TemporaryDirectory() as tmp:
        for variant in args.variants:
            grad_file = str(Path(tmp) / f"{variant}.pt")
            cmd = [sys.executable, __file__, "--worker", variant, "--grad-file", grad_file,
                   "--tasks", str(args.tasks), "--repeats", str(args.repeats), "--device", args.device]
            proc = subprocess.run(cmd, capture_output=True, text=True)
            if proc.returncode != 0:
                reason = (proc.stderr.strip().splitlines() or ["failed"])[-1]
                print(f"{variant:<20} skipped: {reason}")
                continue
            result = json.loads(proc.stdout.strip().splitlines()[-1])
            grads[variant] = torch.load(grad_file)
            gap = _gradient_gap(grads["notebook-loop"], grads[variant]) if "notebook-loop" in grads else float("nan")
            rate = flops / result["median_s"] / 1e9
            print(f"{variant:<20} {result['median_s']:8.3f} {result['min_s']:7.3f} {rate:8.1f} "
                  f"{100 * rate / best:6.0f}% {result['peak_mb']:8.0f} {gap:9.1e}")
    if args.profile:
        print_profile(args.profile, args.tasks, device)


if __name__ == "__main__":
    main()
