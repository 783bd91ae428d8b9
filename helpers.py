"""Densities and samplers for the VAE, written out from elementary tensor ops.

The assignment forbids probabilistic-modelling libraries (torch's
distributions module, its binary cross-entropy losses, its Bernoulli and
normal samplers), so every log density and every sampler lives here, built
from elementary tensor operations.

Conventions: batch first. ``x`` is ``(B, D)`` with pixels in {0, 1}, ``z`` is
``(B, K)`` (K = 2 in the notebook). Densities return one value per example,
shape ``(B,)``, except :func:`bernoulli_log_density`, which is per pixel so
that the caller decides what to sum over.

Every public function checks its arguments and raises ``TypeError`` (not a
tensor, not floating point) or ``ValueError`` (wrong shape, empty, mismatched
batch, non-binary ``x``) naming the argument, instead of failing deep in torch.
The checks are a few Python comparisons and, for values (binary pixels,
infinite Gaussian parameters), one pass over the tensor: cheap beside the
densities themselves, so they run on every call.

Infinite arguments never give NaN. Where a density has an exact limit it is
returned (logits of +-inf, a point z at infinity: log densities of 0 or
-inf); where it has none (a Gaussian whose mu or log_sigma is infinite), the
call raises ``ValueError`` naming the argument. A NaN argument (other than
``x``, which must be binary) gives NaN: that is how a diverged training run
reaches train(), which stops it and names the epoch.

Each formula is a solution block in nbgrader's markers: the student edition
(instructor/make_student.py) has a stub in its place.
"""
import math

import torch
import torch.nn.functional as F

LOG_2PI = math.log(2.0 * math.pi)
BINARY_CHECK_BLOCK = 400_000  # entries: 1.6 MB of float32, with its temporary within a core's cache


# ---------------------------------------------------------------------------
# Argument checks
# ---------------------------------------------------------------------------

def check_batch(name, t, ndim=2):
    """Raise unless ``t`` is a non-empty floating tensor with ``ndim`` dims."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if t.dim() != ndim:
        shape = "(B, D)" if ndim == 2 else f"{ndim} dimensions"
        raise ValueError(f"{name} must have shape {shape} (batch first), "
                         f"got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")


def check_same_shape(name_a, a, name_b, b):
    """Raise unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        what = ("batch sizes differ" if a.shape[1:] == b.shape[1:]
                else "shapes differ")
        raise ValueError(f"{name_a} and {name_b} must have the same shape ({what}): "
                         f"{tuple(a.shape)} vs {tuple(b.shape)}")


def check_gaussian_parameters(mu, log_sigma):
    """Raise if any entry of ``mu`` or ``log_sigma`` is +inf or -inf (NaN is let through).

    It runs in every call of the Gaussian density and sampler, on tensors of a
    few hundred entries, where the cost is the number of tensor ops. A sum is
    finite only if no term is infinite, so one finite sum of mu + log_sigma
    settles almost every call; only an inf, a NaN (which hides an inf) or an
    overflow takes the exact test.
    Call it after check_same_shape(mu, log_sigma).
    """
    if math.isfinite(torch.sum(mu.detach() + log_sigma.detach())):
        return
    for name, t in (("mu", mu), ("log_sigma", log_sigma)):
        if torch.isinf(t).any():
            raise ValueError(f"{name} must be finite, got inf: a Gaussian with an infinite mean or log "
                             "standard deviation has no density and no samples")


def check_binary(name, x):
    """Raise unless ``x`` is a (N, D) batch (check_batch) whose every entry is exactly 0 or 1.

    x - x * x (one fused addcmul) is exactly zero only at 0 and 1: elsewhere
    |x (1 - x)| is larger than the rounding of x * x (and NaN or inf give
    NaN). A sum of absolute values is at least its largest term (or NaN), so
    it is zero only if every entry is: three cheap passes, fewer than
    (x == 0) | (x == 1) needs. A large x (all of x_train) goes in blocks of
    about BINARY_CHECK_BLOCK entries, whose temporaries stay in the cache.
    """
    check_batch(name, x)
    for block in x.split(max(1, BINARY_CHECK_BLOCK // x.shape[1])):
        if torch.addcmul(block, block, block, value=-1).abs_().sum():
            raise ValueError(f"{name} must be binary (every entry 0 or 1); "
                             "binarize greyscale images with (x > 0.5).float()")


# ---------------------------------------------------------------------------
# Log densities
# ---------------------------------------------------------------------------

def bernoulli_log_density(x, logits):
    """Log Ber(x | sigmoid(logits)), element by element.

    Works on the logits y = log(mu / (1 - mu)) directly, never on mu: it stays
    exact, value and gradient, for every finite y, where log(sigmoid(y))
    would give log(0) = -inf once sigmoid rounds to 0 or 1. Infinite logits
    give the exact limits: 0 for the certain outcome, -inf for the impossible
    one (never inf - inf = NaN).

    x:      (B, D) binary pixels (0. or 1.)
    logits: (B, D) Bernoulli logits, finite or +-inf
    returns (B, D) log probabilities
    """
    check_binary("x", x)
    check_batch("logits", logits)
    check_same_shape("x", x, "logits", logits)
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
    check_binary("x", x)
    check_batch("logits", logits)
    if x.shape[1] != logits.shape[1]:
        raise ValueError(f"x and logits must have the same number of pixels: "
                         f"{tuple(x.shape)} vs {tuple(logits.shape)}")
    if torch.isinf(logits).any():
        raise ValueError("logits must be finite for the table, got inf (bernoulli_log_density "
                         "takes infinite logits)")
    ### BEGIN SOLUTION
    # Summed over pixels, x * y - softplus(y) is x @ y.T - softplus(y).sum(1).
    return x @ logits.T - F.softplus(logits).sum(dim=1)
    ### END SOLUTION


def std_normal_log_density(z):
    """Log N(z | 0, I), summed over the latent dimensions.

    z: (B, K), finite or +-inf (a point at infinity has log density -inf)
    returns (B,)
    """
    check_batch("z", z)
    ### BEGIN SOLUTION
    return -0.5 * (z ** 2).sum(dim=1) - 0.5 * z.shape[1] * LOG_2PI
    ### END SOLUTION


def diag_gaussian_log_density(z, mu, log_sigma):
    """Log N(z | mu, diag(exp(log_sigma))^2), summed over latent dimensions.

    z:             (B, K), finite or +-inf (log density -inf there)
    mu, log_sigma: (B, K), not infinite (ValueError otherwise)
    returns (B,)
    """
    check_batch("z", z)
    check_batch("mu", mu)
    check_batch("log_sigma", log_sigma)
    check_same_shape("z", z, "mu", mu)
    check_same_shape("mu", mu, "log_sigma", log_sigma)
    check_gaussian_parameters(mu, log_sigma)
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
    check_batch("mu", mu)
    check_batch("log_sigma", log_sigma)
    check_same_shape("mu", mu, "log_sigma", log_sigma)
    check_gaussian_parameters(mu, log_sigma)
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
    check_batch("probs", probs)
    if not ((probs >= 0) & (probs <= 1)).all():
        raise ValueError("probs must lie in [0, 1]; pass torch.sigmoid(logits) "
                         "to sample from logits")
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
    if not isinstance(a, torch.Tensor) or not a.is_floating_point():
        raise TypeError(f"a must be a floating-point torch.Tensor, got {type(a).__name__}")
    if not -a.dim() <= dim < a.dim():
        raise ValueError(f"dim must index one of a's {a.dim()} dimensions, got {dim}")
    if a.shape[dim] == 0:
        raise ValueError(f"a must have at least one entry along dim {dim}")
    ### BEGIN SOLUTION
    # logsumexp(a) - log(n): logsumexp takes the largest entry out before exp.
    return torch.logsumexp(a, dim=dim) - math.log(a.shape[dim])
    ### END SOLUTION
