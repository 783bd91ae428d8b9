"""The argument checks of helpers.py: a clear error instead of a failure deep in torch.

Each function of helpers.py starts with one call into this module. A check
raises ``TypeError`` (not a tensor, not floating point) or ``ValueError``
(wrong shape, empty, mismatched batch, a pixel other than 0 or 1, an infinite
Gaussian parameter) with a message that names the argument and says what was
expected. NaN is let through (except in ``x``, which must be binary, and in
``probs``, which must lie in [0, 1]): that is
how a diverged training run reaches the training run's end of epoch
(vaekit/training.py), which stops it and names the epoch.
"""
import torch


def check_batch(name, t):
    """Raise unless ``t`` is a non-empty floating-point tensor of shape (B, D)."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if not t.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {t.dtype}")
    if t.dim() != 2:
        raise ValueError(f"{name} must have shape (B, D) (batch first), got shape {tuple(t.shape)}")
    if t.numel() == 0:
        raise ValueError(f"{name} must not be empty, got shape {tuple(t.shape)}")


def check_same_shape(name_a, a, name_b, b):
    """Raise unless ``a`` and ``b`` have the same shape."""
    if a.shape != b.shape:
        what = "batch sizes differ" if a.shape[1:] == b.shape[1:] else "shapes differ"
        raise ValueError(f"{name_a} and {name_b} must have the same shape ({what}): "
                         f"{tuple(a.shape)} vs {tuple(b.shape)}")


def check_binary(name, x):
    """Raise unless ``x`` is a (B, D) batch (check_batch) whose every entry is exactly 0 or 1."""
    check_batch(name, x)
    if not ((x == 0) | (x == 1)).all():
        raise ValueError(f"{name} must be binary (every entry 0 or 1); "
                         "binarize greyscale images with (x > 0.5).float()")


def check_finite_gaussian(mu, log_sigma):
    """Raise if any entry of ``mu`` or ``log_sigma`` is +inf or -inf (NaN is let through)."""
    for name, t in (("mu", mu), ("log_sigma", log_sigma)):
        if torch.isinf(t).any():
            raise ValueError(f"{name} must be finite, got inf: a Gaussian with an infinite mean or log "
                             "standard deviation has no density and no samples")


# ---------------------------------------------------------------------------
# One call for each function of helpers.py
# ---------------------------------------------------------------------------

def check_not_swapped(x, logits):
    """Raise if x is not binary where logits are, 0s and 1s both: x and logits passed the other way round."""
    if isinstance(x, torch.Tensor) and isinstance(logits, torch.Tensor) and not ((x == 0) | (x == 1)).all() \
            and ((logits == 0) | (logits == 1)).all() and (logits == 0).any() and (logits == 1).any():
        err = ValueError("x must be binary (every entry 0 or 1), and logits are: are x and logits swapped? "
                         "The call is bernoulli_log_density(x, logits)")
        err.cause = "arguments-swapped"
        raise err


def check_bernoulli_arguments(x, logits):
    """bernoulli_log_density(x, logits): x binary (B, D), logits (B, D)."""
    check_not_swapped(x, logits)
    check_binary("x", x)
    check_batch("logits", logits)
    check_same_shape("x", x, "logits", logits)


def check_table_arguments(x, logits):
    """bernoulli_log_likelihood_table(x, logits): x binary (B, D), logits (G, D) and finite."""
    check_not_swapped(x, logits)
    check_binary("x", x)
    check_batch("logits", logits)
    if x.shape[1] != logits.shape[1]:
        raise ValueError(f"x and logits must have the same number of pixels: "
                         f"{tuple(x.shape)} vs {tuple(logits.shape)}")
    if torch.isinf(logits).any():
        raise ValueError("logits must be finite for the table, got inf")


def check_codes(z):
    """std_normal_log_density(z): z (B, K)."""
    check_batch("z", z)


def check_gaussian_arguments(mu, log_sigma, z=None):
    """diag_gaussian_log_density(z, mu, log_sigma) and sample_diag_gaussian(mu, log_sigma):
    each (B, K), of one shape; mu and log_sigma not infinite."""
    if z is not None:
        check_batch("z", z)
    check_batch("mu", mu)
    check_batch("log_sigma", log_sigma)
    if z is not None:
        check_same_shape("z", z, "mu", mu)
    check_same_shape("mu", mu, "log_sigma", log_sigma)
    check_finite_gaussian(mu, log_sigma)


def check_probabilities(probs):
    """sample_bernoulli(probs): probs (B, D) in [0, 1]."""
    check_batch("probs", probs)
    if not ((probs >= 0) & (probs <= 1)).all():
        raise ValueError("probs must lie in [0, 1]; pass torch.sigmoid(logits) to sample from logits")


def check_log_mean_exp_arguments(a, dim):
    """log_mean_exp(a, dim): a floating tensor with at least one entry along dim."""
    if not isinstance(a, torch.Tensor) or not a.is_floating_point():
        got = f"a tensor of dtype {a.dtype}" if isinstance(a, torch.Tensor) else type(a).__name__
        raise TypeError(f"a must be a floating-point torch.Tensor, got {got}")
    if not -a.dim() <= dim < a.dim():
        raise ValueError(f"dim must index one of a's {a.dim()} dimensions, got {dim}")
    if a.shape[dim] == 0:
        raise ValueError(f"a must have at least one entry along dim {dim}")
