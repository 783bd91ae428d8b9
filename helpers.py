"""Densities and samplers for the VAE, written out from elementary tensor operations.

The rules (the assignment's): no probabilistic-modelling library. Every log
density and every sampler is written here from tensor operations.

    Allowed:  tensor arithmetic and reductions (torch.exp, torch.log, torch.sigmoid,
              .sum(), @, ...) and shape operations (view, reshape, permute, stack, flip,
              linspace, meshgrid, ...); torch.randn and torch.rand for the random
              draws, torch.randint and torch.randperm to pick digits; F.softplus,
              F.logsigmoid, torch.logaddexp and torch.logsumexp; layers, the
              optimizer, NumPy and PIL for images, matplotlib and torchvision for
              pictures; in the notebook's TODO cells, your own functions, and of
              vaekit only what the cells already use (save_figure, save_image, and
              the TrainingRun in train).
    Not allowed: torch.distributions; F.binary_cross_entropy,
              F.binary_cross_entropy_with_logits and nn.BCELoss / nn.BCEWithLogitsLoss;
              F.gaussian_nll_loss, nn.GaussianNLLLoss, F.kl_div and nn.KLDivLoss;
              torch.bernoulli, torch.normal, torch.multinomial and torch.poisson
              (and the tensor methods .bernoulli_(), .normal_() and .uniform_());
              any other library's density or sampler (scipy.stats, numpy.random).

Conventions: batch first. ``x`` is ``(B, D)`` with pixels in {0, 1}, ``z`` is
``(B, K)`` (K = 2 in the notebook). Densities return one value per example,
shape ``(B,)``, except :func:`bernoulli_log_density`, which is per pixel so
that the caller decides what to sum over, and the table, ``(B, G)``.

Each function first checks its arguments (vaekit/arguments.py): a wrong type,
shape or value that its docstring says it refuses raises ``TypeError`` or
``ValueError`` naming the argument. Each docstring has a worked example; run
them all with ``python -m pytest --doctest-modules helpers.py``. After editing
this file, restart the notebook's kernel: Python imports a module once.
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

    Computed from the logits y = log(mu / (1 - mu)), never from mu (question 1
    in the notebook asks why).

    x:      (B, D) binary pixels (0. or 1.)
    logits: (B, D) Bernoulli logits, finite and of any size
    returns (B, D) log probabilities, accurate and with finite gradients at every finite logit

    >>> bernoulli_log_density(torch.tensor([[1., 0., 1., 0.]]), torch.tensor([[0., 0., 2., 2.]]))
    tensor([[-0.6931, -0.6931, -0.1269, -2.1269]])
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

    The log likelihood of every image under every logit vector at once, e.g.
    under every point of a latent grid decoded once.

    x:      (B, D) binary pixels
    logits: (G, D) finite Bernoulli logits (infinite ones are refused)
    returns (B, G)

    >>> bernoulli_log_likelihood_table(torch.tensor([[1., 0.], [0., 1.]]),
    ...                                torch.tensor([[0., 0.], [2., -2.], [1., 1.]]))
    tensor([[-1.3863, -0.2539, -1.6265],
            [-1.3863, -4.2539, -1.6265]])

    Hints:
        Summed over pixels, the log density is linear in x. Which matrix product
        of a (B, D) and a (D, G) tensor gives a (B, G) table? What is left of the
        density that does not depend on x, and what shape should its sum take?
    """
    check_table_arguments(x, logits)
    ### BEGIN SOLUTION
    # Summed over pixels, x * y - softplus(y) is x @ y.T - softplus(y).sum(1).
    return x @ logits.T - F.softplus(logits).sum(dim=1)
    ### END SOLUTION


def std_normal_log_density(z):
    """Log N(z | 0, I), summed over the latent dimensions.

    z: (B, K) finite
    returns (B,)

    >>> std_normal_log_density(torch.tensor([[0., 0.], [1., 0.]]))
    tensor([-1.8379, -2.3379])
    """
    check_codes(z)
    ### BEGIN SOLUTION
    return -0.5 * (z ** 2).sum(dim=1) - 0.5 * z.shape[1] * LOG_2PI
    ### END SOLUTION


def diag_gaussian_log_density(z, mu, log_sigma):
    """Log N(z | mu, diag(exp(log_sigma))^2), summed over latent dimensions.

    z:             (B, K) finite
    mu, log_sigma: (B, K), not infinite (ValueError otherwise)
    returns (B,)

    >>> diag_gaussian_log_density(torch.tensor([[1., 0.], [2., 0.]]), torch.tensor([[1., 0.], [0., 0.]]),
    ...                           torch.tensor([[0., 0.], [0.6931, 0.]]))
    tensor([-1.8379, -3.0310])
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
    """Draw z ~ N(mu, diag(exp(log_sigma))^2) by reparameterization (section 3 of the notebook).

    z is a differentiable function of mu, log_sigma and noise eps ~ N(0, I)
    drawn independently of them, so gradients flow from z back to mu and
    log_sigma.

    mu, log_sigma: (B, K), not infinite (ValueError otherwise)
    generator: optional torch.Generator on the same device, for fixed noise
    returns z: (B, K)

    With a tiny standard deviation, z is mu; with the same seed, the same draw:

    >>> sample_diag_gaussian(torch.tensor([[5., -5.]]), torch.tensor([[-20., -20.]]))
    tensor([[ 5., -5.]])
    >>> mu, log_sigma = torch.zeros(3, 2), torch.zeros(3, 2)
    >>> first = sample_diag_gaussian(mu, log_sigma, generator=torch.Generator().manual_seed(7))
    >>> again = sample_diag_gaussian(mu, log_sigma, generator=torch.Generator().manual_seed(7))
    >>> first.shape, bool(torch.equal(first, again))
    (torch.Size([3, 2]), True)
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

    Where the probability is 0 or 1, the draw is certain:

    >>> sample_bernoulli(torch.tensor([[0., 1., 0., 1.]]))
    tensor([[0., 1., 0., 1.]])
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
    """log(mean(exp(a), dim)), also where exp(a) overflows (exp(1000) is inf in float32).

    a: any floating tensor with at least one entry along ``dim``
    returns a with ``dim`` removed

    >>> log_mean_exp(torch.tensor([[0., 2., 4.], [1000., 1000., 1000.]]), dim=1)
    tensor([   3.0443, 1000.0000])

    Hints:
        torch.logsumexp computes log(sum(exp(a))) without overflow. How far is
        the log of a mean from the log of a sum?
    """
    check_log_mean_exp_arguments(a, dim)
    ### BEGIN SOLUTION
    # logsumexp(a) - log(n): logsumexp takes the largest entry out before exp.
    return torch.logsumexp(a, dim=dim) - math.log(a.shape[dim])
    ### END SOLUTION
