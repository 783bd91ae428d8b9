"""vaekit/evaluation.py against closed forms, an independent quadrature and brute force."""
import itertools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vaekit.checkpoints import load_checkpoint
from instructor.reference_model import build_networks, networks_from_checkpoint, reference_model
from vaekit.evaluation import (EDGE_SHARE, GRID_HALF_WIDTH, GRID_POINTS, exact_log_marginal, fitted_gaussian_elbo,
                        grid_convergence, grid_log_marginal, importance_bounds, latent_grid,
                        log_posterior_on_grid, narrowest_width)
from vaekit.mnist import load_mnist

ROOT = Path(__file__).resolve().parents[1]
CHECKPOINT = ROOT / "models" / "vae_100epochs.pt"
SMALL = {"data_dim": 6, "hidden_dim": 8, "latent_dim": 2}


def model_of(decoder, encoder=None):
    """The evaluation's Model of the networks, with the solution's densities (the encoder only for the bounds)."""
    return reference_model(encoder, decoder)


def small_decoder(seed, scale):
    torch.manual_seed(seed)
    _, decoder = build_networks(SMALL)
    with torch.no_grad():
        for p in decoder.parameters():
            p.mul_(scale)
    return decoder


@pytest.fixture(scope="module")
def trained():
    encoder, decoder = networks_from_checkpoint(load_checkpoint(CHECKPOINT))
    return encoder, decoder, load_mnist(train=False)[0]


def test_constant_decoder_gives_the_closed_form():
    # Logits that ignore z: p(x) = prod_d Ber(x_d | sigmoid(c_d)) exactly.
    decoder = small_decoder(0, 1.0)
    c = torch.tensor([-3.0, -1.0, 0.0, 0.5, 2.0, 4.0])
    with torch.no_grad():
        decoder[-1].weight.zero_()
        decoder[-1].bias.copy_(c)
    x = torch.tensor([[1., 0., 1., 1., 0., 1.], [0., 0., 0., 0., 0., 0.]])
    closed_form = (x * c - torch.nn.functional.softplus(c)).sum(1)
    torch.testing.assert_close(exact_log_marginal(model_of(decoder), x, 6.0, 241), closed_form, atol=1e-3, rtol=0)


def test_quadrature_matches_gauss_hermite_and_sums_to_one_over_all_images():
    decoder = small_decoder(1, 1.5)
    all_images = torch.tensor(list(itertools.product([0.0, 1.0], repeat=6)))  # (64, 6)
    ours = exact_log_marginal(model_of(decoder), all_images, 7.0, 401).double()

    # Independent: the product Gauss-Hermite rule for E_{N(0, I)}[p(x | z)], in float64.
    nodes, weights = np.polynomial.hermite_e.hermegauss(80)
    z1, z2 = np.meshgrid(nodes, nodes, indexing="ij")
    z = torch.tensor(np.stack([z1.ravel(), z2.ravel()], 1))
    log_w = torch.tensor(np.log(np.outer(weights, weights).ravel() / (2 * math.pi)))
    logits = decoder.double()(z)  # (6400, 6)
    log_lik = all_images.double() @ logits.T - torch.nn.functional.softplus(logits).sum(1)
    reference = torch.logsumexp(log_lik + log_w, dim=1)
    decoder.float()

    assert (ours - reference).abs().max() < 1e-3
    assert abs(torch.logsumexp(ours, 0).item()) < 1e-3  # the 64 probabilities sum to 1


def test_posterior_on_grid_is_a_density():
    decoder = small_decoder(2, 2.0)
    x = torch.tensor([[1., 0., 0., 1., 1., 0.]])
    z, log_cell = latent_grid(6.0, 301)
    post = log_posterior_on_grid(model_of(decoder), x, z, log_cell).exp()
    assert post.shape == (1, 301 * 301)
    assert abs(post.sum().item() * math.exp(log_cell) - 1) < 1e-4


def test_grid_convergence_settles_and_reports_what_it_tried():
    decoder = small_decoder(3, 1.0)
    x = torch.tensor(list(itertools.product([0.0, 1.0], repeat=6)))
    (half_width, n_points), tried = grid_convergence(model_of(decoder), x, tol=0.01)
    means = {(w, n): mean for w, n, mean in tried}
    spacing = 2 * half_width / (n_points - 1)
    wider, finer = (half_width + 1, round(2 * (half_width + 1) / spacing) + 1), (half_width, 2 * n_points - 1)
    # the grid settled on is one whose widening and refining were both tried and moved the mean < tol
    assert abs(means[wider] - means[(half_width, n_points)]) < 0.01
    assert abs(means[finer] - means[(half_width, n_points)]) < 0.01
    assert abs(exact_log_marginal(model_of(decoder), x, half_width, n_points).mean()
               - exact_log_marginal(model_of(decoder), x, 9.0, 1801).mean()) < 0.01


@pytest.mark.parametrize("model", ["random", "trained"])
def test_elbo_below_iwae_below_exact_and_iwae_rises_with_k(model, trained):
    encoder, decoder, x_test = trained
    if model == "random":
        torch.manual_seed(4)
        encoder, decoder = build_networks({"data_dim": 784, "hidden_dim": 500, "latent_dim": 2})
    x = x_test[:100]
    ks = (1, 10, 100, 1000)
    bounds = importance_bounds(model_of(decoder, encoder), x, ks=ks, seed=1)
    exact = exact_log_marginal(model_of(decoder), x).mean().item()
    iwae = [bounds["iwae"][k].mean().item() for k in ks]
    assert bounds["elbo"].mean().item() <= iwae[1]
    # IWAE <= log p(x) in expectation; an untrained q is so close to the posterior
    # that the estimate can come within Monte Carlo noise of it.
    assert iwae[-1] <= exact + 0.01
    assert all(a < b for a, b in zip(iwae, iwae[1:])), iwae


def test_fitted_gaussian_lies_between_encoder_elbo_and_exact(trained):
    encoder, decoder, x_test = trained
    x = x_test[:40]
    fitted = fitted_gaussian_elbo(model_of(decoder, encoder), x, steps=100)
    elbo = importance_bounds(model_of(decoder, encoder), x, ks=(1,))["elbo"]
    assert elbo.mean() < fitted.mean() <= exact_log_marginal(model_of(decoder), x).mean()
    assert all(p.requires_grad for p in decoder.parameters()), "the decoder is left as it was"


def test_evaluate_tool_agrees_with_an_independent_grid_sum(trained):
    _, decoder, x_test = trained
    result = subprocess.run([sys.executable, "-m", "tools.evaluate", str(CHECKPOINT),
                             "--n", "100", "--json"], capture_output=True, text=True, check=True)
    report = json.loads(result.stdout)
    assert set(report) >= {"elbo", "iwae", "exact", "n"} and report["n"] == 100
    assert list(report["iwae"]) == ["1", "10", "100", "1000", "5000"]
    assert report["elbo"] <= report["iwae"]["5000"] <= report["exact"]

    # Independent: a plain float64 sum over a finer and wider grid, pixel by pixel.
    independent = float64_grid_sum(decoder, x_test[:100], 7.5, 0.03).mean().item()
    assert abs(report["exact"] - independent) < 0.01


def float64_grid_sum(decoder, x, half_width, spacing):
    """log p(x) as a plain float64 rectangle sum, with log mu = logsigmoid(y), log(1 - mu) = logsigmoid(-y)."""
    ticks = torch.arange(-half_width, half_width + 1e-9, spacing, dtype=torch.float64)
    z = torch.cartesian_prod(ticks, ticks)
    x = x.double()
    total = torch.full((len(x),), -math.inf, dtype=torch.float64)
    decoder = decoder.double()
    try:
        with torch.no_grad():
            for block in z.split(20_000):
                logits = decoder(block)
                log_lik = (x @ torch.nn.functional.logsigmoid(logits).T
                           + (1 - x) @ torch.nn.functional.logsigmoid(-logits).T)
                log_prior = -0.5 * (block ** 2).sum(1) - math.log(2 * math.pi)
                total = torch.logaddexp(total, torch.logsumexp(log_lik + log_prior, dim=1))
    finally:
        decoder.float()
    return total + 2 * math.log(spacing)


def test_a_posterior_cut_off_by_the_square_is_summed_on_a_wider_one(trained):
    _, decoder, x_test = trained
    x = x_test[:300]
    plain, log_share, _ = grid_log_marginal(model_of(decoder), x, GRID_HALF_WIDTH, GRID_POINTS)
    cut = (log_share > math.log(EDGE_SHARE)).nonzero().flatten()
    assert len(cut) >= 2, "the committed model has digits near the edge among the first 300"
    picked = torch.cat([cut, torch.arange(10)])
    exact = exact_log_marginal(model_of(decoder), x[picked], width_per_spacing=0)
    # The same spacing on a square wide enough for all of them: only the width differs.
    spacing = 2 * GRID_HALF_WIDTH / (GRID_POINTS - 1)
    independent = float64_grid_sum(decoder, x[picked], 12.0, spacing).float()
    assert (exact - independent).abs().max() < 0.01, (exact - independent).tolist()
    # the square alone misses part of those posteriors
    assert (independent[:len(cut)] - plain[cut]).max() > 0.1


def test_narrowest_width_of_a_gaussian_is_its_smallest_standard_deviation():
    # Rotated Gaussians with standard deviations 0.02 and 0.7: log density -0.5 d^T Sigma^-1 d,
    # quadratic, so central differences give its Hessian exactly, from any point near the mode.
    angle = torch.tensor(0.6, dtype=torch.float64)
    rotation = torch.stack([torch.stack([angle.cos(), -angle.sin()]), torch.stack([angle.sin(), angle.cos()])])
    precision = torch.linalg.inv(rotation @ torch.diag(torch.tensor([0.02, 0.7], dtype=torch.float64) ** 2)
                                 @ rotation.T)
    modes = torch.tensor([[0.3, -1.2], [2.0, 0.5]], dtype=torch.float64)

    def log_density(z):
        d = z - modes[:, None, :]
        return -0.5 * torch.einsum("npi,ij,npj->np", d, precision, d)

    width = narrowest_width(log_density, modes + 0.013, step=0.05)
    torch.testing.assert_close(width, torch.full((2,), 0.02, dtype=torch.float64), rtol=1e-6, atol=0)
    # A density that is not curved downwards has no width to resolve.
    flat = narrowest_width(lambda z: z[..., 0] ** 2, modes, step=0.05)
    assert torch.isinf(flat).all()


def test_a_narrow_posterior_is_summed_on_a_finer_grid(trained):
    _, decoder, x_test = trained
    x = x_test[:300]
    plain = exact_log_marginal(model_of(decoder), x, width_per_spacing=0)
    refined = exact_log_marginal(model_of(decoder), x)
    moved = (refined - plain).abs()
    picked = torch.cat([moved.argsort(descending=True)[:6], (moved == 0).nonzero().flatten()[:4]])
    assert (moved[picked[6:]] == 0).all() and (moved > 0).sum() < 150, "only narrow posteriors are summed again"
    # Reference: the same square, the spacing divided by 4, for every one of them.
    finest = grid_log_marginal(model_of(decoder), x[picked], GRID_HALF_WIDTH, 4 * (GRID_POINTS - 1) + 1)[0]
    assert (refined[picked] - finest).abs().max() < 0.04, (refined[picked] - finest).tolist()
    assert (plain[picked] - finest).abs().max() > 0.1, "the default spacing alone misses them"


@pytest.mark.parametrize("call, error, words", [
    (lambda d: exact_log_marginal(model_of(d), torch.full((2, 6), 0.5)), ValueError, "x must be binary"),
    (lambda d: exact_log_marginal(model_of(d), torch.zeros(2, 6), width_per_spacing=-1.0), ValueError, "width_per_spacing"),
    (lambda d: exact_log_marginal(model_of(d), torch.zeros(2, 6), min_spacing=0.0), ValueError, "min_spacing"),
    (lambda d: exact_log_marginal(model_of(d), torch.zeros(2, 5)), ValueError, "x must have 6 pixels"),
    (lambda d: exact_log_marginal(model_of(d), torch.zeros(0, 6)), ValueError, "x must not be empty"),
    (lambda d: exact_log_marginal(model_of(d), torch.zeros(2, 6), half_width=-1.0), ValueError, "half_width"),
    (lambda d: exact_log_marginal(model_of(d), torch.zeros(2, 6), n_points=1), ValueError, "n_points"),
    (lambda d: exact_log_marginal(model_of(d), torch.zeros(2, 6), n_points=2.5), TypeError, "n_points must be an int"),
    (lambda d: importance_bounds(model_of(d, build_networks(SMALL)[0]), torch.zeros(2, 6), ks=(0,)), ValueError,
     "each k in ks"),
    (lambda d: importance_bounds(model_of(d, build_networks(SMALL)[0]), torch.zeros(2, 6).long()), TypeError,
     "x must be a floating-point"),
])
def test_bad_input_is_named(call, error, words):
    with pytest.raises(error, match=words):
        call(small_decoder(0, 1.0))
