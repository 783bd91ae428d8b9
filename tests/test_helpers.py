"""helpers.py against closed forms, numerical integrals and Monte Carlo."""
import math

import pytest
import torch

from helpers import (bernoulli_log_density, bernoulli_log_likelihood_table, diag_gaussian_log_density,
                     log_mean_exp, sample_bernoulli, sample_diag_gaussian, std_normal_log_density)
from vaekit.arguments import check_binary


def grid_2d(lo, hi, n):
    """A square grid of n x n points over [lo, hi]^2: (n*n, 2) float64, and the cell area."""
    ticks = torch.linspace(lo, hi, n, dtype=torch.float64)
    a, b = torch.meshgrid(ticks, ticks, indexing="ij")
    return torch.stack([a.reshape(-1), b.reshape(-1)], dim=1), (ticks[1] - ticks[0]) ** 2


# --------------------------------------------------------------------------
# Bernoulli
# --------------------------------------------------------------------------

def test_bernoulli_matches_log_mu_where_that_is_safe():
    gen = torch.Generator().manual_seed(0)
    logits = torch.randn(8, 784, generator=gen, dtype=torch.float64) * 4
    x = (torch.rand(8, 784, generator=gen, dtype=torch.float64) < 0.3).double()
    mu = 1 / (1 + torch.exp(-logits))
    by_hand = x * torch.log(mu) + (1 - x) * torch.log(1 - mu)
    result = bernoulli_log_density(x, logits)
    assert result.shape == (8, 784)
    torch.testing.assert_close(result, by_hand, rtol=1e-10, atol=1e-10)


def test_bernoulli_probabilities_of_both_outcomes_sum_to_one():
    logits = torch.linspace(-30, 30, 61, dtype=torch.float64).view(1, -1)
    p1 = bernoulli_log_density(torch.ones_like(logits), logits).exp()
    p0 = bernoulli_log_density(torch.zeros_like(logits), logits).exp()
    torch.testing.assert_close(p0 + p1, torch.ones_like(logits))


def test_bernoulli_is_exact_and_differentiable_at_huge_logits():
    logits = torch.tensor([[1e4, 1e4, -1e4, -1e4, 0.0]], requires_grad=True)
    x = torch.tensor([[1.0, 0.0, 1.0, 0.0, 1.0]])
    value = bernoulli_log_density(x, logits)
    # Closed form: log sigmoid(y) = -softplus(-y); at |y| = 1e4 it is 0 or -1e4.
    expected = torch.tensor([[0.0, -1e4, -1e4, 0.0, -math.log(2)]])
    torch.testing.assert_close(value.detach(), expected)
    value.sum().backward()
    # d/dy = x - sigmoid(y): 0, -1, 1, 0, 0.5
    torch.testing.assert_close(logits.grad, torch.tensor([[0.0, -1.0, 1.0, 0.0, 0.5]]))


# --------------------------------------------------------------------------
# Gaussians
# --------------------------------------------------------------------------

def test_std_normal_matches_textbook_formula():
    z = torch.tensor([[0.0, 0.0], [1.0, -2.0], [3.5, 0.25]], dtype=torch.float64)
    by_hand = torch.tensor([
        -math.log(2 * math.pi),
        -math.log(2 * math.pi) - 0.5 * (1 + 4),
        -math.log(2 * math.pi) - 0.5 * (3.5 ** 2 + 0.25 ** 2),
    ], dtype=torch.float64)
    torch.testing.assert_close(std_normal_log_density(z), by_hand)


def test_std_normal_integrates_to_one_in_any_dimension():
    z, area = grid_2d(-8, 8, 401)
    assert abs(std_normal_log_density(z).exp().sum() * area - 1) < 1e-6
    # In one dimension the same function gives the 1-D density.
    ticks = torch.linspace(-8, 8, 2001, dtype=torch.float64).view(-1, 1)
    assert abs(std_normal_log_density(ticks).exp().sum() * (ticks[1, 0] - ticks[0, 0]) - 1) < 1e-6


def test_diag_gaussian_matches_textbook_formula():
    gen = torch.Generator().manual_seed(1)
    z, mu, log_sigma = (torch.randn(50, 2, generator=gen, dtype=torch.float64) for _ in range(3))
    sigma = torch.exp(log_sigma)
    by_hand = torch.log(torch.exp(-0.5 * ((z - mu) / sigma) ** 2) / (sigma * math.sqrt(2 * math.pi))).sum(1)
    torch.testing.assert_close(diag_gaussian_log_density(z, mu, log_sigma), by_hand)


def test_diag_gaussian_integrates_to_one_and_reduces_to_std_normal():
    z, area = grid_2d(-10, 10, 801)
    mu = torch.tensor([[1.5, -0.5]], dtype=torch.float64).expand_as(z)
    log_sigma = torch.tensor([[0.3, -0.4]], dtype=torch.float64).expand_as(z)
    density = diag_gaussian_log_density(z, mu, log_sigma).exp()
    assert abs(density.sum() * area - 1) < 1e-6
    # The mean of the density by quadrature is mu.
    torch.testing.assert_close((density[:, None] * z).sum(0) * area, mu[0], atol=1e-6, rtol=0)
    zeros = torch.zeros_like(z)
    torch.testing.assert_close(diag_gaussian_log_density(z, zeros, zeros), std_normal_log_density(z))


@pytest.mark.parametrize("log_sigma_value", [30.0, -30.0])
def test_diag_gaussian_finite_at_extreme_log_sigma(log_sigma_value):
    z = torch.tensor([[0.5, -0.5]])
    mu = torch.tensor([[0.0, 0.0]], requires_grad=True)
    log_sigma = torch.full((1, 2), log_sigma_value, requires_grad=True)
    value = diag_gaussian_log_density(z, mu, log_sigma)
    assert torch.isfinite(value).all()
    value.sum().backward()
    assert torch.isfinite(mu.grad).all() and torch.isfinite(log_sigma.grad).all()
    # The reparameterized sampler too: exp(30) is about 1e13, still a float32.
    mu.grad, log_sigma.grad = None, None
    z_drawn = sample_diag_gaussian(mu, log_sigma, generator=torch.Generator().manual_seed(0))
    z_drawn.sum().backward()
    assert torch.isfinite(z_drawn).all() and torch.isfinite(log_sigma.grad).all()


# --------------------------------------------------------------------------
# Samplers
# --------------------------------------------------------------------------

def test_gaussian_sampler_moments():
    n = 200_000
    mu = torch.tensor([[2.0, -1.0]]).expand(n, 2)
    log_sigma = torch.tensor([[math.log(0.5), math.log(3.0)]]).expand(n, 2)
    z = sample_diag_gaussian(mu, log_sigma, generator=torch.Generator().manual_seed(2))
    sigma = torch.tensor([0.5, 3.0])
    # Sample mean within 5 standard errors, sample std within 1 %.
    assert ((z.mean(0) - mu[0]).abs() < 5 * sigma / math.sqrt(n)).all()
    assert ((z.std(0) / sigma - 1).abs() < 0.01).all()
    # The two coordinates are independent.
    assert abs(torch.corrcoef(z.T)[0, 1]) < 5 / math.sqrt(n)


def test_gaussian_sampler_is_reparameterized():
    mu = torch.tensor([[0.3, -0.7]], requires_grad=True)
    log_sigma = torch.tensor([[0.2, -1.0]], requires_grad=True)
    z = sample_diag_gaussian(mu, log_sigma, generator=torch.Generator().manual_seed(3))
    z.sum().backward()
    # z = mu + exp(log_sigma) * eps, so dz/dmu = 1 and dz/dlog_sigma = z - mu.
    torch.testing.assert_close(mu.grad, torch.ones(1, 2))
    torch.testing.assert_close(log_sigma.grad, (z - mu).detach())


def test_gaussian_sampler_repeats_with_a_seeded_generator():
    mu, log_sigma = torch.zeros(4, 2), torch.zeros(4, 2)
    a = sample_diag_gaussian(mu, log_sigma, generator=torch.Generator().manual_seed(5))
    b = sample_diag_gaussian(mu, log_sigma, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_bernoulli_sampler_frequencies():
    n = 100_000
    probs = torch.tensor([[0.0, 0.02, 0.5, 0.9, 1.0]]).expand(n, 5)
    x = sample_bernoulli(probs, generator=torch.Generator().manual_seed(4))
    assert x.dtype == probs.dtype and set(x.unique().tolist()) <= {0.0, 1.0}
    p = probs[0]
    standard_error = torch.sqrt(p * (1 - p) / n)
    assert ((x.mean(0) - p).abs() <= 5 * standard_error + 1e-12).all()
    # p = 0 and p = 1 are never wrong, not just rarely.
    assert x[:, 0].sum() == 0 and x[:, 4].sum() == n


# --------------------------------------------------------------------------
# log-mean-exp
# --------------------------------------------------------------------------

def test_log_mean_exp_matches_direct_formula_and_survives_large_values():
    a = torch.tensor([[0.1, -2.0, 3.0], [1.0, 1.0, 1.0]], dtype=torch.float64)
    torch.testing.assert_close(log_mean_exp(a, dim=1), torch.log(torch.exp(a).mean(1)))
    big = torch.tensor([[1000.0, 1000.0], [-1000.0, -1000.0 + math.log(3)]])
    torch.testing.assert_close(log_mean_exp(big, dim=1),
                               torch.tensor([1000.0, -1000.0 + math.log(2)]))


# --------------------------------------------------------------------------
# Bad input: a clear error naming the argument
def values_near_0_and_1(dtype, steps=300):
    """Floats of dtype that are not 0 or 1 but as close as the format allows, plus random bit patterns."""
    values = []
    for start in (0.0, 1.0):
        for direction in (-math.inf, math.inf):
            v = torch.tensor(start, dtype=dtype)
            for _ in range(steps):
                v = torch.nextafter(v, torch.tensor(direction, dtype=dtype))
                values.append(v.item())
    bits = {torch.float32: torch.int32, torch.float64: torch.int64}[dtype]
    info = torch.iinfo(bits)
    random_bits = torch.randint(info.min, info.max, (2000,), dtype=bits, generator=torch.Generator().manual_seed(0))
    values += random_bits.view(dtype).tolist()
    values += [math.inf, -math.inf, math.nan, 0.5, 2.0, -1.0, torch.finfo(dtype).max, torch.finfo(dtype).tiny]
    return [v for v in values if v != 0 and v != 1]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_binary_check_refuses_every_value_but_0_and_1(dtype):
    # The check is a one-pass shortcut (x - x * x == 0); brute force over the floats
    # nearest to 0 and 1, subnormals included, and random bit patterns.
    logits = torch.zeros(1, 3, dtype=dtype)
    for value in values_near_0_and_1(dtype):
        x = torch.tensor([[0.0, value, 1.0]], dtype=dtype)
        with pytest.raises(ValueError, match="x must be binary"):
            bernoulli_log_density(x, logits)
    accepted = torch.tensor([[0.0, -0.0, 1.0]], dtype=dtype)
    assert bernoulli_log_density(accepted, logits).shape == (1, 3)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_binary_check_finds_one_bad_pixel_in_a_training_batch(dtype):
    # A batch is summed in vectorized chunks: one bad value anywhere in 200 x 784 binary
    # pixels must still be found, and the batch without it accepted.
    generator = torch.Generator().manual_seed(1)
    batch = (torch.rand(200, 784, generator=generator) > 0.5).to(dtype)
    logits = torch.zeros_like(batch)
    assert bernoulli_log_density(batch, logits).shape == (200, 784)
    values = values_near_0_and_1(dtype)
    positions = torch.randint(batch.numel(), (len(values),), generator=generator).tolist()
    for value, position in zip(values, positions):
        x = batch.clone()
        x.view(-1)[position] = value
        with pytest.raises(ValueError, match="x must be binary"):
            bernoulli_log_density(x, logits)


def test_binary_check_finds_a_bad_value_at_every_position():
    x = (torch.rand(9, 4, generator=torch.Generator().manual_seed(2)) > 0.5).float()
    check_binary("x_train", x)
    for position in range(x.numel()):
        for value in (0.5, math.nan, math.inf, -0.0 - 1e-30):
            bad = x.clone()
            bad.view(-1)[position] = value
            with pytest.raises(ValueError, match="x_train must be binary"):
                check_binary("x_train", bad)


# --------------------------------------------------------------------------

X = torch.zeros(3, 4)
Z = torch.zeros(3, 2)


@pytest.mark.parametrize("call, error, words", [
    (lambda: bernoulli_log_density(X[0], X[0]), ValueError, "x must have shape"),
    (lambda: bernoulli_log_density(X, torch.zeros(2, 4)), ValueError, "batch sizes differ"),
    (lambda: bernoulli_log_density(X, torch.zeros(3, 5)), ValueError, "shapes differ"),
    (lambda: bernoulli_log_density(X + 0.5, X), ValueError, "x must be binary"),
    (lambda: bernoulli_log_density(X * float("nan"), X), ValueError, "x must be binary"),
    (lambda: bernoulli_log_density(X.long(), X), TypeError, "x must be a floating-point"),
    (lambda: bernoulli_log_density(X, X.bool()), TypeError, "logits must be a floating-point"),
    (lambda: bernoulli_log_density(X.numpy(), X), TypeError, "x must be a torch.Tensor"),
    (lambda: bernoulli_log_density(torch.zeros(0, 4), torch.zeros(0, 4)), ValueError, "x must not be empty"),
    (lambda: std_normal_log_density(torch.zeros(2)), ValueError, "z must have shape"),
    (lambda: diag_gaussian_log_density(Z, torch.zeros(4, 2), Z), ValueError, "z and mu .*batch sizes differ"),
    (lambda: diag_gaussian_log_density(Z, Z, torch.zeros(3, 3)), ValueError, "mu and log_sigma"),
    (lambda: sample_diag_gaussian(Z, torch.zeros(3, 1)), ValueError, "mu and log_sigma"),
    (lambda: sample_bernoulli(torch.full((2, 2), 1.5)), ValueError, "probs must lie in"),
    (lambda: sample_bernoulli(torch.ones(2, 2, dtype=torch.int32)), TypeError, "probs must be a floating-point"),
    (lambda: log_mean_exp(torch.zeros(2, 0), dim=1), ValueError, "at least one entry"),
    (lambda: log_mean_exp(torch.zeros(2, 3), dim=2), ValueError, "dim must index"),
])
def test_bad_input_is_named(call, error, words):
    with pytest.raises(error, match=words):
        call()


# --------------------------------------------------------------------------
# Infinite Gaussian parameters and table logits: a clear error naming them
# --------------------------------------------------------------------------

INF = math.inf


@pytest.mark.parametrize("bad", [INF, -INF])
def test_gaussians_with_infinite_parameters_are_refused_by_name(bad):
    good = torch.zeros(1, 2)
    broken = torch.tensor([[0.0, bad]])
    for call, name in ((lambda: diag_gaussian_log_density(good, broken, good), "mu"),
                       (lambda: diag_gaussian_log_density(good, good, broken), "log_sigma"),
                       (lambda: sample_diag_gaussian(broken, good), "mu"),
                       (lambda: sample_diag_gaussian(good, broken), "log_sigma")):
        with pytest.raises(ValueError, match=f"^{name} must be finite, got inf"):
            call()
    with pytest.raises(ValueError, match="^logits must be finite for the table, got inf"):
        bernoulli_log_likelihood_table(torch.zeros(1, 2), broken)


@pytest.mark.parametrize("dtype", [torch.float16, torch.float32, torch.float64])
def test_the_inf_check_agrees_with_isinf_entry_by_entry(dtype):
    # The check takes a shortcut (a finite sum of mu + log_sigma means no inf); brute force
    # against the definition, with every pair of special values planted in mu and in log_sigma,
    # at the same entry (inf + -inf, max + max) and at different ones, among random bit patterns.
    finfo = torch.finfo(dtype)
    special = [INF, -INF, math.nan, finfo.max, -finfo.max, finfo.tiny, 0.0]
    rng = torch.Generator().manual_seed(0)
    bits = {torch.float16: torch.int16, torch.float32: torch.int32, torch.float64: torch.int64}[dtype]
    info = torch.iinfo(bits)

    def random_finite():
        t = torch.randint(info.min, info.max, (3, 2), dtype=bits, generator=rng).view(dtype)
        return torch.where(torch.isinf(t), torch.zeros_like(t), t)  # the planted values decide

    refused = {"mu": 0, "log_sigma": 0, None: 0}
    for first in special:
        for second in special:
            for trial in range(10):
                mu, log_sigma = random_finite(), random_finite()
                mu[trial % 3, 0] = first
                log_sigma[trial % 3 if trial < 5 else (trial + 1) % 3, trial % 2] = second
                expected = ("mu" if torch.isinf(mu).any() else
                            "log_sigma" if torch.isinf(log_sigma).any() else None)
                for call in (lambda: sample_diag_gaussian(mu, log_sigma),
                             lambda: diag_gaussian_log_density(torch.zeros_like(mu), mu, log_sigma)):
                    if expected is None:
                        call()
                    else:
                        with pytest.raises(ValueError, match=f"^{expected} must be finite, got inf"):
                            call()
                refused[expected] += 1
    assert refused == {"mu": 2 * 7 * 10, "log_sigma": 5 * 2 * 10, None: 5 * 5 * 10}


def test_nan_arguments_give_nan_so_that_training_can_name_the_epoch():
    nan = torch.tensor([[0.0, math.nan]])
    assert torch.isnan(std_normal_log_density(nan)).all()
    assert torch.isnan(diag_gaussian_log_density(torch.zeros(1, 2), nan, torch.zeros(1, 2))).all()
    assert torch.isnan(bernoulli_log_density(torch.zeros(1, 2), nan)[0, 1])
