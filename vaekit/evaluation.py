"""How well a trained VAE explains digits it has not seen: three numbers per image.

- the ELBO, the bound that training maximises, averaged over many draws of q;
- the importance-weighted bound IWAE_k (Burda, Grosse and Salakhutdinov, 2016),
  log of the mean of k importance weights p(x, z) / q(z | x), which rises
  towards log p(x) as k grows;
- the exact log p(x) = log of the integral of p(x | z) p(z) over z, by
  quadrature on a grid: affordable because z has only two dimensions.

On average ELBO <= IWAE_k <= IWAE_k' <= log p(x) for k <= k'. The model is the
notebook's own (a Model of the student's functions and decoder): this module
adds up its log densities, it writes none of them.
"""
import math
from typing import Callable, NamedTuple

import torch

from helpers import bernoulli_log_likelihood_table, log_mean_exp, sample_diag_gaussian
from vaekit.arguments import check_binary

IWAE_KS = (1, 10, 100, 1000, 5000)
ELBO_DRAWS = 100
# The grid the convergence study in the notebook settles on (section 6.1); an image
# whose posterior puts more than EDGE_SHARE of its mass on the grid's border is
# summed again on a wider square.
GRID_HALF_WIDTH = 6.0
GRID_POINTS = 241
EDGE_SHARE = 1e-7
# An image whose posterior is narrower than this many grid spacings is summed
# again on a finer grid. The rectangle rule's relative error on a Gaussian of
# width sigma is about 2 exp(-2 pi^2 sigma^2 / h^2) per direction: 0.014 at
# sigma = 0.5 h, 0.0016 at 0.6 h: 0.6 is more exact and costs more.
WIDTH_PER_SPACING = 0.5


class Model(NamedTuple):
    """The VAE that section 6 evaluates, as the notebook defines it.

    encode:         x (B, D) -> (mu, log_sigma), each (B, 2): the parameters of q(z | x)
    decoder:        the network that maps codes z (B, 2) to Bernoulli logits (B, D)
    log_likelihood: x (B, D), z (B, 2) -> log p(x | z) under that decoder, (B,)
    log_prior:      z (B, 2) -> log p(z), (B,)
    log_q:          z, mu, log_sigma (B, 2) -> log q(z | x), (B,)
    """
    encode: Callable
    decoder: torch.nn.Module
    log_likelihood: Callable
    log_prior: Callable
    log_q: Callable


def check_images(x, decoder):
    """Raise unless x is a non-empty (B, D) binary float tensor that fits the decoder."""
    check_binary("x", x)  # also a non-empty (B, D) float tensor
    with torch.no_grad():  # any module will do, so ask it rather than its layers
        out_features = decoder(torch.zeros(1, 2, device=x.device)).shape[-1]
    if x.shape[1] != out_features:
        raise ValueError(f"x must have {out_features} pixels per image to match the decoder, "
                         f"got shape {tuple(x.shape)}")


def check_count(name, value, minimum=1):
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value}")


# ---------------------------------------------------------------------------
# Bounds from draws of q
# ---------------------------------------------------------------------------

def log_weights(model, x, mu, log_sigma, n_draws, generator=None):
    """log p(x, z) - log q(z | x) for n_draws independent z ~ q(z | x) per image.

    x: (B, D) binary; mu, log_sigma: (B, 2), the parameters of each image's q
    returns (B, n_draws); differentiable in mu, log_sigma and the decoder
    """
    mu, log_sigma = mu.repeat_interleave(n_draws, 0), log_sigma.repeat_interleave(n_draws, 0)
    z = sample_diag_gaussian(mu, log_sigma, generator)
    if torch.is_grad_enabled():  # fitting q: few draws, one pass over all images at once
        log_likelihood = model.log_likelihood(x.repeat_interleave(n_draws, 0), z).view(len(x), n_draws)
    else:  # the bounds: many draws; each image against its own row of the likelihood table is
        # three times cheaper than repeating x n_draws times
        logits = model.decoder(z).view(len(x), n_draws, -1)
        log_likelihood = torch.cat([bernoulli_log_likelihood_table(x[i:i + 1], logits[i]) for i in range(len(x))])
    return log_likelihood + (model.log_prior(z) - model.log_q(z, mu, log_sigma)).view(len(x), n_draws)


@torch.no_grad()
def reduced_log_weights(model, x, mu, log_sigma, n_draws, reduce, generator=None, max_rows=20_000):
    """reduce(log_weights(...)) image chunk by image chunk, decoding at most max_rows codes at once.

    reduce maps (b, n_draws) to (b,); returns (B,)
    """
    check_count("n_draws", n_draws)
    per_chunk = max(1, max_rows // n_draws)
    return torch.cat([reduce(log_weights(model, x[i:i + per_chunk], mu[i:i + per_chunk],
                                         log_sigma[i:i + per_chunk], n_draws, generator))
                      for i in range(0, len(x), per_chunk)])


def importance_bounds(model, x, ks=IWAE_KS, elbo_draws=ELBO_DRAWS, seed=0, max_rows=20_000):
    """The ELBO and IWAE_k of every image; fresh, independent draws for each.

    x: (N, D) binary
    ks: the numbers of importance samples k
    elbo_draws: draws of q averaged for the ELBO
    seed: seeds the draws, so the numbers repeat
    max_rows: codes decoded at once (bounds the memory to about max_rows x D floats)
    returns {"elbo": (N,), "iwae": {k: (N,)}}
    """
    check_images(x, model.decoder)
    for k in ks:
        check_count("each k in ks", k)
    check_count("elbo_draws", elbo_draws)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    with torch.no_grad():
        mu, log_sigma = model.encode(x)

    def bound(n_draws, reduce):
        return reduced_log_weights(model, x, mu, log_sigma, n_draws, reduce, generator, max_rows)

    return {"elbo": bound(elbo_draws, lambda w: w.mean(dim=1)),
            "iwae": {k: bound(k, lambda w: log_mean_exp(w, dim=1)) for k in ks}}


# ---------------------------------------------------------------------------
# The exact log p(x) by quadrature
# ---------------------------------------------------------------------------

def latent_grid(half_width, n_points, device="cpu", center=(0.0, 0.0)):
    """An n_points x n_points grid over a square of side 2 * half_width.

    returns z: (n_points**2, 2), ordered row by row with z_2 falling and z_1
    rising (so .view(n, n) reads like an image), and the log area of one cell
    """
    if not half_width > 0:
        raise ValueError(f"half_width must be positive, got {half_width}")
    check_count("n_points", n_points, minimum=2)
    ticks = torch.linspace(-half_width, half_width, n_points, device=device)
    z2, z1 = torch.meshgrid(ticks.flip(0) + center[1], ticks + center[0], indexing="ij")
    spacing = 2 * half_width / (n_points - 1)
    return torch.stack([z1.reshape(-1), z2.reshape(-1)], dim=1), 2 * math.log(spacing)


@torch.no_grad()
def grid_log_joint(model, x, z_grid, grid_rows=2048):
    """log p(x, z) for every image and every grid point, one block at a time.

    Yields (start, block) with block: (N, rows) for grid rows start..start+rows.
    Each block of the grid is decoded once; its log likelihood for all images
    is one matrix product (helpers.bernoulli_log_likelihood_table).
    """
    for start in range(0, len(z_grid), grid_rows):
        z = z_grid[start:start + grid_rows]
        yield start, bernoulli_log_likelihood_table(x, model.decoder(z)).add_(model.log_prior(z))


@torch.no_grad()
def grid_log_marginal(model, x, half_width, n_points, grid_rows=2048, coarse=None):
    """log p(x) by the rectangle rule on one grid, and the share of it on the grid's border.

    The sum over grid points runs in linear space against a running maximum
    per image (cheaper than a logsumexp per block). Arguments of exp are
    clamped at -87: below that float32's exp takes a slow path, and such a
    term is under 1e-37 of the largest one anyway.

    x: (N, D) binary, already checked
    coarse: optional (k, log p(x) on the grid with k times the spacing), (int, (N,)):
            that grid's points are every k-th point of this one, so only the
            others are decoded and summed, and its sum is added to theirs
    returns log p(x): (N,); log(border sum / total sum): (N,), which tells
    whether an image's posterior is cut off by the edge of the square (not
    counting the coarse grid's points); and the grid point where log p(x, z)
    is largest: (N, 2) (among the points summed here)
    """
    z_grid, log_cell = latent_grid(half_width, n_points, device=x.device)
    index = torch.arange(len(z_grid), device=x.device)
    row, column = index // n_points, index % n_points
    on_border = (row == 0) | (row == n_points - 1) | (column == 0) | (column == n_points - 1)
    if coarse is not None:
        k, coarse_log_px = coarse
        new = (row % k != 0) | (column % k != 0)
        z_grid, on_border = z_grid[new], on_border[new]
    shift = torch.full((len(x),), -math.inf, device=x.device)
    mode = torch.zeros(len(x), dtype=torch.long, device=x.device)
    total = torch.zeros(len(x), dtype=torch.float64, device=x.device)
    border = torch.zeros_like(total)
    for start, block in grid_log_joint(model, x, z_grid, grid_rows):
        block_max, block_argmax = block.max(dim=1)
        mode = torch.where(block_max > shift, block_argmax + start, mode)
        new_shift = torch.maximum(shift, block_max)
        rescale = torch.exp((shift - new_shift).double())  # 0 before the first block
        total.mul_(rescale)
        border.mul_(rescale)
        shift = new_shift
        weights = block.sub_(shift[:, None]).clamp_(min=-87.0).exp_()
        total += weights.sum(dim=1, dtype=torch.float64)
        edge = on_border[start:start + block.shape[1]]
        if edge.any():
            border += weights[:, edge].sum(dim=1, dtype=torch.float64)
    log_px = total.log() + shift.double() + log_cell
    if coarse is not None:  # the coarse sum, in this grid's cells: k^2 of them make one of its
        log_px = torch.logaddexp(log_px, coarse_log_px.double() - 2 * math.log(k))
    return log_px.float(), (border.log() - total.log()).float(), z_grid[mode]


def narrowest_width(log_density, z_mode, step):
    """The smallest standard deviation of a 2-D density near its mode, from its curvature there.

    The Hessian of log_density at z_mode is taken by central differences over
    the 3 x 3 points step apart around it (exact for a Gaussian, whose log is
    quadratic); its largest eigenvalue lambda (in absolute value) gives the
    width 1 / sqrt(lambda) across the posterior's narrowest direction.

    log_density: maps points (N, 9, 2) to log densities (N, 9), one density per row
    z_mode: (N, 2) a point near each mode; step: the difference step
    returns (N,) widths; inf where the log density is not curved downwards
    """
    offsets = torch.tensor([[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1], [1, 1], [1, -1], [-1, 1], [-1, -1]],
                           dtype=z_mode.dtype, device=z_mode.device) * step
    f = log_density(z_mode[:, None, :] + offsets).double()
    h11 = (f[:, 1] - 2 * f[:, 0] + f[:, 2]) / step ** 2
    h22 = (f[:, 3] - 2 * f[:, 0] + f[:, 4]) / step ** 2
    h12 = (f[:, 5] - f[:, 6] - f[:, 7] + f[:, 8]) / (4 * step ** 2)
    # The largest eigenvalue of -H, the curvature across the narrowest direction.
    curvature = -(h11 + h22) / 2 + torch.sqrt(((h11 - h22) / 2) ** 2 + h12 ** 2)
    return torch.where(curvature > 0, curvature.clamp(min=1e-300).rsqrt(), torch.full_like(curvature, math.inf))


@torch.no_grad()
def log_joint_at(model, x):
    """log p(x, z) of each image at its own points: a function of z (N, P, 2) -> (N, P), for narrowest_width."""
    def log_density(z):
        n, p = z.shape[:2]
        flat = z.reshape(n * p, 2)
        return (model.log_likelihood(x.repeat_interleave(p, 0), flat) + model.log_prior(flat)).view(n, p)
    return log_density


def exact_log_marginal(model, x, half_width=GRID_HALF_WIDTH, n_points=GRID_POINTS,
                       max_half_width=48.0, width_per_spacing=WIDTH_PER_SPACING, min_spacing=0.0125):
    """log p(x) by quadrature, each image on a grid wide enough for its own posterior.

    All images are summed on the grid [-half_width, half_width]^2 with
    n_points a side; then each image is checked on its own, twice:

    - an image whose posterior puts more than EDGE_SHARE of its mass on the
      border of the square is cut off by it: it is summed again on a square
      1.5 times as wide with the same spacing, until its posterior lies inside;
    - an image whose posterior is narrower (across its narrowest direction,
      from the curvature at its mode) than width_per_spacing grid spacings is
      summed again on the same square with the spacing divided by the whole
      number that makes it wide enough, down to min_spacing (by default a
      quarter of the default spacing, which bounds the cost for a model with
      needle-thin posteriors); only the new points are decoded.
      width_per_spacing=0 turns this off.

    The rectangle rule on a smooth integrand that decays inside the square
    converges very fast once the spacing is below the posterior's width, so
    the default grid serves most images and the narrow ones pay for a finer
    one (see WIDTH_PER_SPACING for the accuracy bought).

    x: (N, D) binary; returns (N,)
    raises RuntimeError if a posterior reaches beyond max_half_width
    """
    check_images(x, model.decoder)
    if not width_per_spacing >= 0:
        raise ValueError(f"width_per_spacing must be 0 or more, got {width_per_spacing}")
    if not min_spacing > 0:
        raise ValueError(f"min_spacing must be positive, got {min_spacing}")
    log_px, log_edge_share, z_mode = grid_log_marginal(model, x, half_width, n_points)
    spacing = 2 * half_width / (n_points - 1)
    cut_off = log_edge_share > math.log(EDGE_SHARE)
    if cut_off.any():
        wider = 1.5 * half_width
        if wider > max_half_width:
            raise RuntimeError(f"the posterior of {int(cut_off.sum())} image(s) reaches beyond "
                               f"[-{max_half_width:g}, {max_half_width:g}]^2; is the decoder trained?")
        log_px[cut_off] = exact_log_marginal(model, x[cut_off], wider, round(2 * wider / spacing) + 1,
                                             max_half_width, width_per_spacing, min_spacing)
    inside = (~cut_off).nonzero().squeeze(1)
    if len(inside) == 0 or width_per_spacing == 0:
        return log_px
    width = torch.cat([narrowest_width(log_joint_at(model, x[chunk]), z_mode[chunk], spacing)
                       for chunk in inside.split(2048)])  # 9 codes per image: chunks bound the memory
    # The smallest whole k with spacing / k <= width / width_per_spacing, and spacing / k >= min_spacing.
    divisor = torch.ceil(width_per_spacing * spacing / width).clamp(1, max(1, int(spacing / min_spacing + 1e-9)))
    for k in divisor.unique().int().tolist():
        if k > 1:
            again = inside[divisor == k]
            log_px[again] = grid_log_marginal(model, x[again], half_width, k * (n_points - 1) + 1,
                                              coarse=(k, log_px[again]))[0]
    return log_px


def grid_convergence(model, x, half_width=3.0, spacing=0.1, tol=0.01, max_half_width=12.0,
                     min_spacing=0.005):
    """Widen, then refine, the grid until the mean log p(x) moves less than tol.

    First the square grows by 1 on each side, at a fixed spacing, until that
    changes the mean by less than tol: the integrand must have died out at the
    edges, or the rule converges only slowly. Then the spacing is halved until
    that, too, changes the mean by less than tol. Each grid here is summed as
    it is, without exact_log_marginal's widening for cut-off images.
    returns the grid settled on, (half_width, n_points): the narrowest and
    coarsest one whose widening and refining both moved the mean by less than
    tol; and the list of (half_width, n_points, mean log p(x)) tried, in order
    """
    tried = []

    def n_points(w, h):
        return round(2 * w / h) + 1

    def mean_at(w, h):
        log_px = grid_log_marginal(model, x, w, n_points(w, h))[0]
        tried.append((w, n_points(w, h), log_px.mean().item()))
        return tried[-1][2]

    current = mean_at(half_width, spacing)
    while True:  # widen
        if half_width + 1 > max_half_width:
            raise RuntimeError(f"the grid did not converge to {tol} nats within "
                               f"[-{max_half_width}, {max_half_width}]^2")
        wider = mean_at(half_width + 1, spacing)
        if abs(wider - current) < tol:
            break
        half_width, current = half_width + 1, wider
    while True:  # refine
        if spacing / 2 < min_spacing:
            raise RuntimeError(f"the grid did not converge to {tol} nats with spacings down to {min_spacing}")
        finer = mean_at(half_width, spacing / 2)
        if abs(finer - current) < tol:
            break
        spacing, current = spacing / 2, finer
    return (half_width, n_points(half_width, spacing)), tried


def log_posterior_on_grid(model, x, z_grid, log_cell):
    """The exact posterior log p(z | x) at each grid point, normalised on the grid.

    x: (B, D); z_grid: (G, 2); returns (B, G) log densities
    """
    check_images(x, model.decoder)
    log_joint = torch.cat([block for _, block in grid_log_joint(model, x, z_grid)], dim=1)
    return log_joint - torch.logsumexp(log_joint, dim=1, keepdim=True) - log_cell


# ---------------------------------------------------------------------------
# Splitting the gap: the best Gaussian q for each image
# ---------------------------------------------------------------------------

def fitted_gaussian_elbo(model, x, steps=200, draws=50, lr=0.05, final_draws=1000, seed=0):
    """The ELBO of the best factorized Gaussian q for each image, found without the encoder.

    Starting from the encoder's (mu, log_sigma), each image gets its own q,
    fitted by Adam on the reparameterized ELBO. The encoder can do no better
    than this (up to the optimizer), so
        exact - fitted ELBO   = approximation gap (the Gaussian family is too simple)
        fitted ELBO - ELBO    = amortization gap (one network serves all images).

    x: (B, D) binary; returns (B,), the fitted ELBO averaged over final_draws draws
    """
    check_images(x, model.decoder)
    for name, value in (("steps", steps), ("draws", draws), ("final_draws", final_draws)):
        check_count(name, value)
    generator = torch.Generator(device=x.device).manual_seed(seed)
    with torch.no_grad():
        mu, log_sigma = (t.clone() for t in model.encode(x))
    mu.requires_grad_(True)
    log_sigma.requires_grad_(True)
    optimizer = torch.optim.Adam([mu, log_sigma], lr=lr)
    frozen = [p.requires_grad_(False) for p in model.decoder.parameters()]  # only q moves
    try:
        for _ in range(steps):
            # Each image's ELBO depends on its own parameters only, so the sum
            # over images gives every image its own gradient.
            loss = -log_weights(model, x, mu, log_sigma, draws, generator).mean(dim=1).sum()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return reduced_log_weights(model, x, mu.detach(), log_sigma.detach(), final_draws,
                               lambda w: w.mean(dim=1), generator)
