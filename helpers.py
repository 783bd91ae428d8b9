"""Densities and samplers for the VAE, written out from elementary tensor operations.

The assignment forbids probabilistic-modelling libraries (torch's
distributions module, its binary cross-entropy losses, its Bernoulli and
normal samplers), so every log density and every sampler lives here.

Conventions: batch first. ``x`` is ``(B, D)`` with pixels in {0, 1}, ``z`` is
``(B, K)`` (K = 2 in the notebook). Densities return one value per example,
shape ``(B,)``, except :func:`bernoulli_log_density`, which is per pixel so
that the caller decides what to sum over.

Each function first checks its arguments (vaekit/arguments.py): bad input
raises ``TypeError`` or ``ValueError`` naming the argument. Infinite
arguments never give NaN: where a density has an exact limit it is returned,
where it has none the call raises ``ValueError``. A NaN argument (other than
``x``) gives NaN.
"""
import math

import torch
import torch.nn.functional as F

from vaekit.arguments import (check_bernoulli_arguments, check_codes, check_gaussian_arguments,
                              check_log_mean_exp_arguments, check_probabilities, check_table_arguments)

LOG_2PI = math.log(2.0 * math.pi)


# ---------------------------------------------------------------------------
# Log densities
# ---------------------------------------------------------------------------

def bernoulli_log_density(x, logits):
    """Log Ber(x | sigmoid(logits)), element by element.

    Computed from the logits y = log(mu / (1 - mu)), never from mu, so that
    value and gradient are exact for every finite y. Infinite logits give the
    exact limits: 0 for the certain outcome, -inf for the impossible one
    (never NaN).

    x:      (B, D) binary pixels (0. or 1.)
    logits: (B, D) Bernoulli logits, finite or +-inf
    returns (B, D) log probabilities
    """
    check_bernoulli_arguments(x, logits)
    ### BEGIN SOLUTION
    # log p = x * y - log(1 + exp(y)) = log sigmoid((2x - 1) * y): log sigmoid(y) for x = 1 and
    # log sigmoid(-y) for x = 0, which logsigmoid computes exactly at any y.
    sign = 2 * x - 1  # +1 where x = 1, -1 where x = 0
    return F.logsigmoid(sign * logits)
    ### END SOLUTION


def bernoulli_log_likelihood_table(x, logits):
    """log p(x_i | logits_j) summed over pixels, for every image i and every row j.

    Summed over pixels, the log density is linear in x, so one matrix product
    can give the log likelihood of every image under every logit vector, e.g.
    under every point of a latent grid decoded once.

    The matrix product needs finite logits (inf - inf has no value), so
    infinite logits are refused; bernoulli_log_density takes them.

    x:      (B, D) binary pixels
    logits: (G, D) finite Bernoulli logits
    returns (B, G)
    """
    check_table_arguments(x, logits)
    ### BEGIN SOLUTION
    # Summed over pixels, x * y - softplus(y) is x @ y.T - softplus(y).sum(1).
    return x @ logits.T - F.softplus(logits).sum(dim=1)
    ### END SOLUTION


def std_normal_log_density(z):
    """Log N(z | 0, I), summed over the latent dimensions.

    z: (B, K), finite or +-inf (a point at infinity has log density -inf)
    returns (B,)
    """
    check_codes(z)
    ### BEGIN SOLUTION
    return -0.5 * (z ** 2).sum(dim=1) - 0.5 * z.shape[1] * LOG_2PI
    ### END SOLUTION


def diag_gaussian_log_density(z, mu, log_sigma):
    """Log N(z | mu, diag(exp(log_sigma))^2), summed over latent dimensions.

    z:             (B, K), finite or +-inf (log density -inf there)
    mu, log_sigma: (B, K), not infinite (ValueError otherwise)
    returns (B,)
    """
    check_gaussian_arguments(mu, log_sigma, z)
    ### BEGIN SOLUTION
    # (z - mu) * exp(-log_sigma) rather than divided by sigma: a tiny sigma does not give inf / inf.
    standardised = (z - mu) * torch.exp(-log_sigma)
    return (-0.5 * standardised ** 2 - log_sigma - 0.5 * LOG_2PI).sum(dim=1)
    ### END SOLUTION


# ---------------------------------------------------------------------------
# Samplers
# ---------------------------------------------------------------------------

def sample_diag_gaussian(mu, log_sigma, generator=None):
    """Draw z ~ N(mu, diag(exp(log_sigma))^2) by reparameterization.

    z = mu + exp(log_sigma) * eps with eps ~ N(0, I) drawn independently of
    the parameters, so gradients flow from z back to mu and log_sigma.

    mu, log_sigma: (B, K), not infinite (ValueError otherwise)
    generator: optional torch.Generator on the same device, for fixed noise
    returns z: (B, K)
    """
    check_gaussian_arguments(mu, log_sigma)
    ### BEGIN SOLUTION
    eps = torch.randn(mu.shape, generator=generator, device=mu.device, dtype=mu.dtype)
    return mu + torch.exp(log_sigma) * eps
    ### END SOLUTION


def sample_bernoulli(probs, generator=None):
    """Draw binary x with P(x = 1) = probs, from uniform draws of the generator.

    probs: (B, D) in [0, 1]
    generator: optional torch.Generator on the same device
    returns x: (B, D) of 0. and 1., same dtype as probs
    """
    check_probabilities(probs)
    ### BEGIN SOLUTION
    # x = 1 exactly when u < probs for u ~ U[0, 1), which has probability probs.
    u = torch.rand(probs.shape, generator=generator, device=probs.device, dtype=probs.dtype)
    return (u < probs).to(probs.dtype)
    ### END SOLUTION


# ---------------------------------------------------------------------------
# Numerics
# ---------------------------------------------------------------------------

def log_mean_exp(a, dim):
    """log(mean(exp(a), dim)), also where exp(a) overflows.

    a: any floating tensor with at least one entry along ``dim``
    returns a with ``dim`` removed
    """
    check_log_mean_exp_arguments(a, dim)
    ### BEGIN SOLUTION
    # logsumexp(a) - log(n): logsumexp takes the largest entry out before exp.
    return torch.logsumexp(a, dim=dim) - math.log(a.shape[dim])
    ### END SOLUTION
