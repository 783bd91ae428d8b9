"""Evaluate a trained VAE on the MNIST test set: ELBO, IWAE_k and the exact log p(x).

    python -m tools.evaluate CHECKPOINT [--n N] [--json]

Prints the mean over the first N test images (default: all 10 000) of the ELBO
(100 draws per image), the importance-weighted bound for k in 1, 10, 100, 1000
and 5000, and the exact log p(x) by quadrature, with the time each took. With
--json, prints one JSON object instead: {"elbo": float, "iwae": {"k": float},
"exact": float, "n": int, "seconds": {...}, "grid": {...}}.
"""
import argparse
import json
import time
from pathlib import Path

import torch

from instructor.reference_model import networks_from_checkpoint, reference_model
from vaekit.checkpoints import CheckpointError, load_checkpoint
from vaekit.evaluation import (GRID_HALF_WIDTH, GRID_POINTS, IWAE_KS, WIDTH_PER_SPACING,
                        exact_log_marginal, importance_bounds)
from vaekit.mnist import load_mnist


def evaluate(checkpoint_path, n_images, device):
    """The three figures for the first n_images test images, as a dict (see the module doc)."""
    model = reference_model(*networks_from_checkpoint(load_checkpoint(checkpoint_path), device))
    x = load_mnist(train=False, device=device)[0][:n_images]
    start = time.perf_counter()
    bounds = importance_bounds(model, x, ks=IWAE_KS)
    bounds_seconds = time.perf_counter() - start
    start = time.perf_counter()
    exact = exact_log_marginal(model, x, GRID_HALF_WIDTH, GRID_POINTS)
    exact_seconds = time.perf_counter() - start
    return {
        "elbo": bounds["elbo"].mean().item(),
        "iwae": {str(k): v.mean().item() for k, v in bounds["iwae"].items()},
        "exact": exact.mean().item(),
        "n": len(x),
        "seconds": {"elbo_and_iwae": round(bounds_seconds, 2), "exact": round(exact_seconds, 2)},
        "grid": {"half_width": GRID_HALF_WIDTH, "points_per_side": GRID_POINTS,
                 "width_per_spacing": WIDTH_PER_SPACING},
        "device": str(device),
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("checkpoint", type=Path, help="a checkpoint written by the notebook")
    parser.add_argument("--n", type=int, default=10_000, help="first N test images (1 to 10000)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    args = parser.parse_args(argv)
    if not 1 <= args.n <= 10_000:
        parser.error(f"--n must be between 1 and 10000, got {args.n}")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        result = evaluate(args.checkpoint, args.n, device)
    except (FileNotFoundError, CheckpointError) as err:
        parser.exit(2, f"{parser.prog}: error: {err}\n")

    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(f"mean over the first {result['n']} test images ({result['device']}), in nats")
    print(f"  ELBO (100 draws)   {result['elbo']:9.3f}")
    for k, value in result["iwae"].items():
        print(f"  IWAE, k = {k:<8} {value:9.3f}")
    print(f"  exact log p(x)     {result['exact']:9.3f}   "
          f"(grid [-{GRID_HALF_WIDTH:g}, {GRID_HALF_WIDTH:g}]^2, {GRID_POINTS} points a side, "
          "wider or finer for the digits that need it)")
    print(f"time: ELBO and IWAE {result['seconds']['elbo_and_iwae']:.1f} s, "
          f"exact {result['seconds']['exact']:.1f} s")


if __name__ == "__main__":
    main()
