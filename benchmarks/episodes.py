"""Episode sampling speed: episodes per second from an in-memory dataset of 28x28 images.

Target: >= 2,000 episodes/s for 5-way 1-shot 15-query on one CPU core, so that sampling
never limits training. Run: `python benchmarks/episodes.py` (prints a markdown table).
"""

from __future__ import annotations

import argparse
import time

import torch

from cs182meta.device import describe
from cs182meta.episodes import EpisodeSampler

SETTINGS = [(5, 1, 15), (5, 5, 15), (20, 1, 5), (20, 5, 5)]


def episodes_per_second(images: torch.Tensor, n: int, k: int, q: int, seconds: float) -> float:
    sampler = EpisodeSampler(images, n, k, q, seed=0)
    for i in range(50):  # warm up
        sampler[i]
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        for _ in range(100):
            sampler[count]
            count += 1
    return count / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per setting")
    parser.add_argument("--classes", type=int, default=1623)
    args = parser.parse_args()
    torch.set_num_threads(1)  # the target is for one core
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (args.classes, 20, 1, 28, 28), dtype=torch.uint8,
                           generator=generator)
    print(f"machine: {describe('cpu')}")
    print(f"dataset: {args.classes} classes x 20 examples, uint8 28x28, in memory\n")
    print("| episode | episodes/s (1 thread) |")
    print("| --- | --- |")
    for n, k, q in SETTINGS:
        rate = episodes_per_second(images, n, k, q, args.seconds)
        print(f"| {n}-way {k}-shot {q}-query | {rate:,.0f} |")


if __name__ == "__main__":
    main()
