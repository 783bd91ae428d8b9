"""The checks of helpers.py: the densities, the samplers and log_mean_exp, one part after another.

The densities are compared with values the solution computed on the public
inputs (checks_expected.pt); the samplers with what a sampler must do: repeat
with a seeded generator, carry gradients (the Gaussian's), and draw with the
right mean, spread or frequency.
"""
import math

import torch

from vaekit.checks.compare import describe, expect, expect_close, expect_tensor
from vaekit.checks.networks import on
from vaekit.checks.part import DATA_DIM, LATENT_DIM, Part, binary_digits, plain, public_check


def normal(generator, *shape):
    return torch.randn(*shape, generator=generator)


# ---------------------------------------------------------------------------
# bernoulli_log_density
# ---------------------------------------------------------------------------

def bernoulli_inputs(g):
    return {"x": binary_digits(g, 8), "logits": 4 * normal(g, 8, DATA_DIM)}


def run_bernoulli(inputs, device, bernoulli_log_density):
    x, logits = on(device, (inputs["x"], inputs["logits"]))
    out = bernoulli_log_density(x, logits)
    huge = torch.tensor([[1e4, 1e4, -1e4, -1e4]], device=device, requires_grad=True)
    extreme = bernoulli_log_density(torch.tensor([[0., 1., 0., 1.]], device=device), huge)
    extreme.sum().backward()
    return {"out": plain(out), "extreme": plain(extreme), "extreme_grad": plain(huge.grad)}


def compare_bernoulli(inputs, results, expected, figure=None):
    found = results["out"]
    large = {("imprecise-at-large-logits", "where |logits| > 6: does the computation lose precision at large logits?"):
             inputs["logits"].abs() > 6}
    expect_close(found, expected["out"], "bernoulli_log_density(x, logits)", atol=1e-4,
                 hints={**expected, "where": large})
    extreme = results["extreme"]
    expect(isinstance(extreme, torch.Tensor) and torch.equal(extreme, torch.tensor([[-1e4, 0., 0., -1e4]])),
           "bernoulli_log_density at logits of +-1e4: expected exactly [-1e4, 0, 0, -1e4] for x = [0, 1, 0, 1], "
           f"found {extreme.tolist()[0] if isinstance(extreme, torch.Tensor) else describe(extreme)} "
           "(compute it from the logits, not from sigmoid then log)", "inexact-at-extreme-logits")
    grad = results["extreme_grad"]
    expect(isinstance(grad, torch.Tensor) and bool(torch.isfinite(grad).all()),
           "bernoulli_log_density at logits of +-1e4: expected finite gradients, found "
           f"{grad.tolist()[0] if isinstance(grad, torch.Tensor) else describe(grad)}", "gradient-not-finite")
    return [f"bernoulli_log_density: {tuple(found.shape)}, matches log(mu) and log(1 - mu)",
            "exact, with finite gradients, at large logits: ok"]


BERNOULLI_LOG_DENSITY = Part("helpers.bernoulli_log_density", ("bernoulli_log_density",), bernoulli_inputs,
                             run_bernoulli, compare_bernoulli, stored=True)


def check_bernoulli_log_density(bernoulli_log_density, device):
    public_check(BERNOULLI_LOG_DENSITY, device, bernoulli_log_density)


# ---------------------------------------------------------------------------
# std_normal_log_density
# ---------------------------------------------------------------------------

def codes_inputs(g):
    return {"z": normal(g, 5, LATENT_DIM)}


def run_std_normal(inputs, device, std_normal_log_density):
    return {"out": plain(std_normal_log_density(inputs["z"].to(device))),
            "at_zero": plain(std_normal_log_density(torch.zeros(1, 1, device=device)))}


def compare_std_normal(inputs, results, expected, figure=None):
    found = results["out"]
    expect_close(found, expected["out"], "std_normal_log_density(z)", atol=1e-4, hints=expected)
    at_zero, wanted = results["at_zero"], float(expected["at_zero"])
    expect(isinstance(at_zero, torch.Tensor) and at_zero.numel() == 1
           and math.isclose(at_zero.item(), wanted, abs_tol=1e-6),
           f"std_normal_log_density of a 1-D zero: expected log N(0 | 0, 1) = {wanted:.6f}, found "
           f"{at_zero.flatten()[0].item() if isinstance(at_zero, torch.Tensor) and at_zero.numel() else describe(at_zero)}",
           "constant-not-per-dimension")
    return [f"std_normal_log_density: {tuple(found.shape)}, matches log N(z | 0, I): ok"]


STD_NORMAL_LOG_DENSITY = Part("helpers.std_normal_log_density", ("std_normal_log_density",), codes_inputs,
                              run_std_normal, compare_std_normal, stored=True)


def check_std_normal_log_density(std_normal_log_density, device):
    public_check(STD_NORMAL_LOG_DENSITY, device, std_normal_log_density)


# ---------------------------------------------------------------------------
# diag_gaussian_log_density (and log_q, in the notebook, which compares the same way)
# ---------------------------------------------------------------------------

def gaussian_inputs(g):
    return {"z": normal(g, 5, LATENT_DIM), "mu": normal(g, 5, LATENT_DIM), "log_sigma": normal(g, 5, LATENT_DIM)}


def run_gaussian(inputs, device, density):
    return {"out": plain(density(*on(device, (inputs["z"], inputs["mu"], inputs["log_sigma"]))))}


def gaussian_comparison(name):
    def compare(inputs, results, expected, figure=None):
        # rtol: a code many sigmas from mu has a log density in the thousands, which float32 holds to ~1e-4
        expect_close(results["out"], expected["out"], f"{name}(z, mu, log_sigma)", atol=1e-4, rtol=1e-5,
                     hints=expected)
        return [f"{name}: {tuple(results['out'].shape)}, matches the Gaussian formula: ok"]
    return compare


DIAG_GAUSSIAN_LOG_DENSITY = Part("helpers.diag_gaussian_log_density", ("diag_gaussian_log_density",),
                                 gaussian_inputs, run_gaussian, gaussian_comparison("diag_gaussian_log_density"),
                                 stored=True)


def check_diag_gaussian_log_density(diag_gaussian_log_density, device):
    public_check(DIAG_GAUSSIAN_LOG_DENSITY, device, diag_gaussian_log_density)


# ---------------------------------------------------------------------------
# sample_diag_gaussian
# ---------------------------------------------------------------------------

def sample_gaussian_inputs(g):
    return {"mu": normal(g, 5, LATENT_DIM), "log_sigma": normal(g, 5, LATENT_DIM),
            "seed": int(torch.randint(2 ** 31, (), generator=g)),
            "many_mu": float(normal(g, ())), "many_log_sigma": float(-1 + 0.5 * normal(g, ()))}


def run_sample_diag_gaussian(inputs, device, sample_diag_gaussian):
    mu, log_sigma = (t.to(device).requires_grad_() for t in (inputs["mu"], inputs["log_sigma"]))
    z = sample_diag_gaussian(mu, log_sigma, generator=torch.Generator(device).manual_seed(inputs["seed"]))
    again = sample_diag_gaussian(mu, log_sigma, generator=torch.Generator(device).manual_seed(inputs["seed"]))
    requires_grad = isinstance(z, torch.Tensor) and z.requires_grad
    if requires_grad:
        z.sum().backward()
    n = 100_000
    many = sample_diag_gaussian(torch.full((n, 2), inputs["many_mu"], device=device),
                                torch.full((n, 2), inputs["many_log_sigma"], device=device))
    return {"z": plain(z), "again": plain(again), "requires_grad": requires_grad,
            "grad_mu": plain(mu.grad), "grad_log_sigma": plain(log_sigma.grad), "many": plain(many)}


def compare_sample_diag_gaussian(inputs, results, expected=None, figure=None):
    mu, z = inputs["mu"].double(), results["z"]
    expect(isinstance(z, torch.Tensor) and tuple(z.shape) == tuple(mu.shape),
           f"sample_diag_gaussian: expected z of shape {tuple(mu.shape)}, found {describe(z)}", "wrong-shape")
    expect(isinstance(results["again"], torch.Tensor) and torch.equal(z, results["again"]),
           "sample_diag_gaussian: expected the same draws from two generators with the same seed (draw the "
           "noise with the generator argument)", "generator-unused")
    expect(results["requires_grad"], "sample_diag_gaussian: expected z to carry gradients back to mu and "
                                     "log_sigma (a reparameterized draw, section 3); found a result detached from them",
           "not-reparameterized")
    grad_mu, grad_log_sigma = results["grad_mu"], results["grad_log_sigma"]
    scaled = isinstance(grad_mu, torch.Tensor) and torch.allclose(grad_mu.double(), inputs["log_sigma"].double().exp())
    expect(isinstance(grad_mu, torch.Tensor) and torch.allclose(grad_mu.double(), torch.ones_like(mu)),
           "sample_diag_gaussian: expected dz/dmu = 1 (a reparameterized draw, section 3), found "
           f"{grad_mu[0].tolist() if isinstance(grad_mu, torch.Tensor) else grad_mu} in the first row"
           + ("; it is sigma: mu scaled by sigma, as in (mu + eps) * sigma, where z = mu + sigma * eps?" if scaled else ""),
           "mu-scaled-by-sigma" if scaled else "not-reparameterized")
    expect(isinstance(grad_log_sigma, torch.Tensor)
           and torch.allclose(grad_log_sigma.double(), z.double() - mu, atol=1e-5, rtol=1e-4),
           "sample_diag_gaussian: expected dz/dlog_sigma = z - mu, found otherwise "
           "(is log_sigma used as the log of the standard deviation?)", "wrong-scale-gradient")
    many, want_mean, want_sd = results["many"], inputs["many_mu"], math.exp(inputs["many_log_sigma"])
    expect_tensor(many, "sample_diag_gaussian(mu, log_sigma) of 100000 x 2", (100_000, 2))
    mean, sd = many.double().mean(0), many.double().std(0)
    near = lambda found, value: bool((found / value - 1).abs().max() < 0.02)  # noqa: E731
    cause, named = (("variance-as-sd", "; it is exp(log_sigma) squared: the variance used as the standard deviation?")
                    if near(sd, want_sd ** 2) else
                    ("log-variance", "; it is exp(log_sigma / 2): log_sigma used as the log of the variance?")
                    if near(sd, want_sd ** 0.5) else
                    ("exp-missing", "; it is log_sigma itself: is exp missing?")
                    if near(sd, abs(inputs["many_log_sigma"])) else ("wrong-moments", ""))
    if not (near(mean, want_mean) or abs(want_mean) < 0.05):
        cause, named = "wrong-moments", ""
    if bool((sd == 0).all()):
        cause, named = "noise-shared", "; every row is the same draw: one noise shared by the whole batch (noise of " \
                                       "shape (K,) or (1,)) where one per entry of mu belongs?"
    expect(bool((mean - want_mean).abs().max() < 0.02 * max(1.0, want_sd) and (sd / want_sd - 1).abs().max() < 0.02),
           f"sample_diag_gaussian(mu={want_mean:.3f}, log_sigma={inputs['many_log_sigma']:.3f}), {len(many)} draws: "
           f"expected mean {want_mean:.3f} and standard deviation exp(log_sigma) = {want_sd:.3f} within 2 %, found "
           f"mean {[round(v, 3) for v in mean.tolist()]} and sd {[round(v, 3) for v in sd.tolist()]}" + named, cause)
    return ["sample_diag_gaussian: reparameterized, gradients reach mu and log_sigma as they should: ok",
            "repeats with a seeded generator; mean and standard deviation within 2 %: ok"]


SAMPLE_DIAG_GAUSSIAN = Part("helpers.sample_diag_gaussian", ("sample_diag_gaussian",), sample_gaussian_inputs,
                            run_sample_diag_gaussian, compare_sample_diag_gaussian)


def check_sample_diag_gaussian(sample_diag_gaussian, device):
    public_check(SAMPLE_DIAG_GAUSSIAN, device, sample_diag_gaussian)


# ---------------------------------------------------------------------------
# sample_bernoulli
# ---------------------------------------------------------------------------

def sample_bernoulli_inputs(g):
    inside = (0.05 + 0.9 * torch.rand(3, generator=g)).sort().values
    return {"probs": torch.cat([torch.zeros(1), inside, torch.ones(1)]),
            "seed": int(torch.randint(2 ** 31, (), generator=g))}


def run_sample_bernoulli(inputs, device, sample_bernoulli):
    probs = inputs["probs"].to(device).expand(20_000, len(inputs["probs"]))
    return {"draws": plain(sample_bernoulli(probs, generator=torch.Generator(device).manual_seed(inputs["seed"]))),
            "again": plain(sample_bernoulli(probs, generator=torch.Generator(device).manual_seed(inputs["seed"])))}


def compare_sample_bernoulli(inputs, results, expected=None, figure=None):
    probs, draws = inputs["probs"], results["draws"]
    shape = (20_000, len(probs))
    expect(isinstance(draws, torch.Tensor) and tuple(draws.shape) == shape and draws.dtype == probs.dtype,
           f"sample_bernoulli: expected a {probs.dtype} tensor of shape {shape}, found {describe(draws)}",
           "wrong-shape-or-dtype")
    expect(bool(((draws == 0) | (draws == 1)).all()), "sample_bernoulli: expected every draw to be 0 or 1", "not-binary")
    expect(isinstance(results["again"], torch.Tensor) and torch.equal(draws, results["again"]),
           "sample_bernoulli: expected the same draws from two generators with the same seed (draw the uniforms "
           "with the generator argument)", "generator-unused")
    # A correct sampler's frequency is within 5 standard errors of p but once in millions of gradings.
    frequencies, probs64 = draws.double().mean(0), probs.double()

    def like(values):  # within 5 standard errors of the frequencies values, exact at 0 and 1
        return bool(((frequencies - values).abs() < 5 * (values * (1 - values) / len(draws)).sqrt() + 1e-12).all())

    cause, named = next(((cause, text) for cause, text, values in (
        ("comparison-reversed", "; they are 1 - p: is the comparison with the uniform draws the wrong way round?",
         1 - probs64),
        ("thresholded", "; they are 1 where p > 1/2 and 0 elsewhere: p thresholded rather than drawn from?",
         (probs64 > 0.5).double()),
        ("normal-not-uniform", "; they are P(N(0, 1) < p): normal draws (randn) where uniform ones (rand) belong?",
         0.5 * (1 + torch.erf(probs64 / math.sqrt(2))))) if like(values)), ("wrong-frequency", ""))
    expect(like(probs64),
           f"sample_bernoulli: expected P(x = 1) = p for p = {[round(p, 3) for p in probs.tolist()]}, found "
           f"frequencies {[round(f, 3) for f in frequencies.tolist()]}" + named, cause)
    return [f"sample_bernoulli: {shape} {draws.dtype}, binary, repeats with a seeded generator",
            "frequencies within 5 standard errors of p, for p = 0, three between, and 1: ok"]


SAMPLE_BERNOULLI = Part("helpers.sample_bernoulli", ("sample_bernoulli",), sample_bernoulli_inputs,
                        run_sample_bernoulli, compare_sample_bernoulli)


def check_sample_bernoulli(sample_bernoulli, device):
    public_check(SAMPLE_BERNOULLI, device, sample_bernoulli)


# ---------------------------------------------------------------------------
# bernoulli_log_likelihood_table
# ---------------------------------------------------------------------------

def table_inputs(g):
    return {"x": binary_digits(g, 4), "logits": 4 * normal(g, 6, DATA_DIM)}


def run_table(inputs, device, bernoulli_log_likelihood_table):
    return {"out": plain(bernoulli_log_likelihood_table(*on(device, (inputs["x"], inputs["logits"]))))}


def compare_table(inputs, results, expected, figure=None):
    expect_close(results["out"], expected["out"], "bernoulli_log_likelihood_table(x, logits)", atol=1e-3,
                 hints=expected)
    return [f"bernoulli_log_likelihood_table: {tuple(results['out'].shape)}, entry (i, j) = log p(x_i | logits_j): ok"]


LIKELIHOOD_TABLE = Part("helpers.bernoulli_log_likelihood_table", ("bernoulli_log_likelihood_table",),
                        table_inputs, run_table, compare_table, stored=True)


def check_likelihood_table(bernoulli_log_likelihood_table, device):
    public_check(LIKELIHOOD_TABLE, device, bernoulli_log_likelihood_table)


# ---------------------------------------------------------------------------
# log_mean_exp
# ---------------------------------------------------------------------------

def log_mean_exp_inputs(g):
    values = 2 * normal(g, 2, 3)
    values[1] += 1000  # no overflow: exp(1000) is inf in float32 and float64
    return {"values": values}


def run_log_mean_exp(inputs, device, log_mean_exp):
    values = inputs["values"].to(device)
    return {"out": plain(log_mean_exp(values, dim=1)), "by_column": plain(log_mean_exp(values[:1].T, dim=0))}


def compare_log_mean_exp(inputs, results, expected, figure=None):
    expect_close(results["out"], expected["out"], "log_mean_exp(a, dim=1)", atol=1e-3, hints=expected)
    fixed_axis = {("n-from-fixed-axis", "log(n) missing at dim=0 alone: n taken from a fixed axis (a.shape[1] or "
                                        "a.shape[-1]) where a.shape[dim] belongs?"): math.log(inputs["values"].shape[1])}
    expect_close(results["by_column"], expected["by_column"], "log_mean_exp(a, dim=0)", atol=1e-3,
                 hints={"offsets": fixed_axis})
    return [f"log_mean_exp: {tuple(results['out'].shape)}, matches log(mean(exp(a))), no overflow at 1000: ok"]


LOG_MEAN_EXP = Part("helpers.log_mean_exp", ("log_mean_exp",), log_mean_exp_inputs, run_log_mean_exp,
                    compare_log_mean_exp, stored=True)


def check_log_mean_exp(log_mean_exp, device="cpu"):
    public_check(LOG_MEAN_EXP, device, log_mean_exp)
