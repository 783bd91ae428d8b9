"""The checks of section 6, the evaluation: no points, properties of the given code's results."""
import math

import torch

from vaekit.checks.compare import expect
from vaekit.checks.part import report

# The bounds hold in expectation; their means over a few test digits may cross by Monte Carlo noise
# where they are close (a q near the posterior).
BOUNDS_NOISE = 0.05


def check_bounds(bounds, log_px):
    """ELBO <= IWAE_k <= exact on average, and IWAE_k rises with k, within BOUNDS_NOISE nats."""
    elbo_mean, exact_mean = bounds["elbo"].mean().item(), log_px.mean().item()
    ks = sorted(bounds["iwae"])
    iwae_means = [bounds["iwae"][k].mean().item() for k in ks]
    expect(elbo_mean <= iwae_means[-1] + BOUNDS_NOISE and iwae_means[-1] <= exact_mean + BOUNDS_NOISE,
           f"expected ELBO <= IWAE_{ks[-1]} <= exact log p(x) on average, found {elbo_mean:.2f}, "
           f"{iwae_means[-1]:.2f} and {exact_mean:.2f}", "bounds-out-of-order")
    expect(all(a < b + BOUNDS_NOISE for a, b in zip(iwae_means, iwae_means[1:])),
           f"expected IWAE_k to rise with k on average, found {[round(m, 2) for m in iwae_means]} for k = {ks}",
           "iwae-not-rising")
    report([f"ELBO <= IWAE_{ks[-1]} <= exact log p(x), on average: ok", "IWAE_k rises with k, on average: ok"])


def check_posterior(model, x, half_width):
    """The exact posterior of a few digits integrates to 1 on the grid (vaekit/evaluation.py's)."""
    from vaekit.evaluation import latent_grid, log_posterior_on_grid  # here: the checks import no helpers.py
    with torch.no_grad():
        z_grid, log_cell = latent_grid(half_width, 241, device=x.device)
        mass = (log_posterior_on_grid(model, x, z_grid, log_cell).exp().sum(1) * math.exp(log_cell)).cpu()
    expect(torch.allclose(mass, torch.ones(len(x), dtype=mass.dtype), atol=1e-4),
           f"expected posterior densities that integrate to 1 on the grid, found {mass.tolist()}",
           "posterior-not-normalised")
    report(["posterior densities integrate to 1 on the grid: ok"])
