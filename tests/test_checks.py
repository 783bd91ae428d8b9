"""The checks judge what code does, not how it is written.

Correct solutions in other styles (a module class, parameters stored the
other way round, another formula, another order of operations) must pass;
mistakes that still run must fail with a message that says what was expected.
The checks are called here in-process, on the notebook's own namespace with
one part swapped; tests/test_grading.py grades a few of these end to end.
"""
import json
import math

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import checks
from tools.notebook_code import DEFINITION_CELLS, NOTEBOOK, notebook_namespace


@pytest.fixture(scope="module")
def base():
    return notebook_namespace()


@pytest.fixture
def nb(base, tmp_path, monkeypatch):
    """A fresh copy of the notebook's namespace: its definitions re-run (so new, seeded networks),
    the data shared, and figures written to tmp_path."""
    monkeypatch.setenv("MPLBACKEND", "Agg")
    namespace = dict(base)
    for cell_id in DEFINITION_CELLS[2:]:  # all but setup and data
        run(namespace, cell_source(cell_id))
    namespace["FIGURES"] = tmp_path
    return namespace


def run(namespace, source):
    exec(compile(source, "<variant>", "exec"), namespace)


def cell_source(cell_id):
    cells = {c["id"]: c for c in json.loads(NOTEBOOK.read_text())["cells"]}
    return "".join(cells[cell_id]["source"])


# --------------------------------------------------------------------------
# Networks in other styles
# --------------------------------------------------------------------------

class Decoder(nn.Module):
    """The pytorch/examples idiom: named layers and a forward method."""

    def __init__(self, hidden_activation=torch.tanh, output=lambda y: y, hidden=500):
        super().__init__()
        self.fc1, self.fc2 = nn.Linear(2, hidden), nn.Linear(hidden, 784)
        self.hidden_activation, self.output = hidden_activation, output

    def forward(self, z):
        return self.output(self.fc2(self.hidden_activation(self.fc1(z))))


class RawEncoder(nn.Module):
    """Parameters stored as (in, out) and used as x @ W + b."""

    def __init__(self, hidden=500):
        super().__init__()
        self.w1 = nn.Parameter(torch.randn(784, hidden) * 0.03)
        self.b1 = nn.Parameter(torch.zeros(hidden))
        self.w2 = nn.Parameter(torch.randn(hidden, 4) * 0.05)
        self.b2 = nn.Parameter(torch.zeros(4))

    def forward(self, x):
        return torch.tanh(x @ self.w1 + self.b1) @ self.w2 + self.b2


def test_networks_as_module_classes_pass_every_check_that_uses_them(nb):
    nb["decoder"], nb["encoder"] = Decoder(), RawEncoder()
    x = nb["x_small"]
    checks.check_decoder(nb["decoder"], "cpu")
    checks.check_encoder(nb["encoder"], nb["encode"], x)
    checks.check_log_likelihood(nb["log_likelihood"], nb["decoder"], x)
    checks.check_elbo(nb["elbo"], nb["loss"], nb["encoder"], nb["decoder"], x)
    checks.check_train(nb["train"], nb["encoder"], nb["decoder"], nb["x_train"], nb["CONFIG"])


@pytest.mark.parametrize("network, words", [
    (Decoder(output=torch.sigmoid), "applies a sigmoid to its outputs"),
    (Decoder(hidden_activation=torch.relu), "uses ReLU where tanh is expected"),
    (Decoder(hidden_activation=lambda h: h), "has no tanh"),
    (Decoder(hidden=400), r"expected Linear\(2, 500\), tanh, Linear\(500, 784\).*found parameters of shapes"),
    (nn.Sequential(nn.Linear(2, 500), nn.Tanh(), nn.Linear(500, 784, bias=False)), "4 parameters"),
])
def test_a_wrong_decoder_fails_and_says_what_was_expected(network, words):
    with pytest.raises(AssertionError, match=words):
        checks.check_decoder(network, "cpu")


def test_a_wrong_encoder_fails(nb):
    with pytest.raises(AssertionError, match="weights of 500x784"):
        checks.check_encoder(RawEncoder(hidden=400), nb["encode"], nb["x_small"])
    run(nb, "def encode(x):\n    out = encoder(x)\n    return out[:, 2:], out[:, :2]\n")
    with pytest.raises(AssertionError, match="mu"):
        checks.check_encoder(nb["encoder"], nb["encode"], nb["x_small"])


# --------------------------------------------------------------------------
# The densities and samplers of helpers.py, in other formulas
# --------------------------------------------------------------------------

GOOD_BERNOULLI = [
    lambda x, y: -x * F.softplus(-y) - (1 - x) * F.softplus(y),
    lambda x, y: x * y - torch.logaddexp(torch.zeros_like(y), y),
    lambda x, y: torch.where(x == 1, -F.softplus(-y), -F.softplus(y)),
    lambda x, y: -F.softplus((1 - 2 * x) * y),
]
BAD_BERNOULLI = [
    (lambda x, y: x * torch.log(torch.sigmoid(y)) + (1 - x) * torch.log(1 - torch.sigmoid(y)),
     "bernoulli_log_density"),
    (lambda x, y: x * y - torch.log1p(torch.exp(y)), "1e4"),
    (lambda x, y: (1 - x) * y - F.softplus(y), "expected the values of an independent computation"),
]


@pytest.mark.parametrize("density", GOOD_BERNOULLI)
def test_other_bernoulli_formulas_pass(nb, density):
    checks.check_bernoulli_log_density(density, nb["x_small"], "cpu")


@pytest.mark.parametrize("density, words", BAD_BERNOULLI)
def test_wrong_bernoulli_densities_fail(nb, density, words):
    with pytest.raises(AssertionError, match=words):
        checks.check_bernoulli_log_density(density, nb["x_small"], "cpu")


def test_gaussian_densities_in_other_forms(nb):
    checks.check_std_normal_log_density(lambda z: -0.5 * (z * z).sum(-1) - z.shape[-1] * math.log(2 * math.pi) / 2,
                                        "cpu")
    checks.check_diag_gaussian_log_density(
        lambda z, mu, ls: (-((z - mu) ** 2) / (2 * torch.exp(2 * ls)) - ls).sum(1) - math.log(2 * math.pi), "cpu")
    with pytest.raises(AssertionError, match="std_normal_log_density"):
        checks.check_std_normal_log_density(lambda z: -0.5 * (z ** 2).sum(1), "cpu")
    with pytest.raises(AssertionError, match="diag_gaussian_log_density"):
        checks.check_diag_gaussian_log_density(
            lambda z, mu, ls: (-0.5 * ((z - mu) / ls.exp()) ** 2 - 0.5 * math.log(2 * math.pi)).sum(1), "cpu")


def good_sampler(mu, log_sigma, generator=None):
    noise = torch.randn(mu.size(), generator=generator, device=mu.device)
    return noise * log_sigma.exp() + mu


@pytest.mark.parametrize("sampler, words", [
    (lambda mu, ls, generator=None: good_sampler(mu, ls, generator).detach(), "detached"),
    (lambda mu, ls, generator=None: mu + ls * torch.randn(mu.shape, generator=generator), "dz/dlog_sigma"),
    (lambda mu, ls, generator=None: mu + ls.exp() * torch.randn_like(mu), "same seed"),
    (lambda mu, ls, generator=None: mu + ls.exp() * torch.rand(mu.shape, generator=generator), "mean 1"),
])
def test_sample_diag_gaussian(sampler, words):
    checks.check_sample_diag_gaussian(good_sampler, "cpu")
    with pytest.raises(AssertionError, match=words):
        checks.check_sample_diag_gaussian(sampler, "cpu")


def test_sample_bernoulli():
    checks.check_sample_bernoulli(lambda p, generator=None: (torch.rand(p.shape, generator=generator) <= p).float(),
                                  "cpu")
    checks.check_sample_bernoulli(lambda p, generator=None: 1.0 - (torch.rand(p.shape, generator=generator) >= p).float(),
                                  "cpu")
    with pytest.raises(AssertionError, match="frequencies"):
        checks.check_sample_bernoulli(lambda p, generator=None: (torch.rand(p.shape, generator=generator) > p).float(),
                                      "cpu")
    with pytest.raises(AssertionError, match="0 or 1"):
        checks.check_sample_bernoulli(lambda p, generator=None: p.clone(), "cpu")


def test_log_mean_exp():
    checks.check_log_mean_exp(lambda a, dim: torch.logsumexp(a - math.log(a.shape[dim]), dim=dim))
    with pytest.raises(AssertionError, match="log_mean_exp"):
        checks.check_log_mean_exp(lambda a, dim: torch.logsumexp(a, dim=dim))
    with pytest.raises(AssertionError, match="finite"):
        checks.check_log_mean_exp(lambda a, dim: a.exp().mean(dim).log())


# --------------------------------------------------------------------------
# The ELBO and the training step
# --------------------------------------------------------------------------

ELBO_STYLES = {
    "inline noise, another order": """
def elbo(x):
    out = encoder(x)
    mu, log_sigma = out[:, :2], out[:, 2:]
    z = mu + torch.randn_like(mu) * torch.exp(log_sigma)
    return torch.mean(log_likelihood(x, z) - log_q(z, mu, log_sigma) + log_prior(z))
""",
    "sum then divide": """
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return (joint_log_density(x, z) - log_q(z, mu, log_sigma)).sum() / x.shape[0]
""",
}
ELBO_MISTAKES = {
    "detached draw (value right, gradients wrong)": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma).detach()
    return (joint_log_density(x, z) - log_q(z, mu, log_sigma)).mean()
""", "gradient with respect to the encoder"),
    "draw from detached parameters": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu.detach(), log_sigma.detach())
    return (joint_log_density(x, z) - log_q(z, mu, log_sigma)).mean()
""", "gradient with respect to the encoder"),
    "uniform noise": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = mu + log_sigma.exp() * torch.rand_like(mu)
    return (joint_log_density(x, z) - log_q(z, mu, log_sigma)).mean()
""", "standard normal|N\\(0, I\\)"),
    "summed over the batch": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return (joint_log_density(x, z) - log_q(z, mu, log_sigma)).sum()
""", "elbo\\(x\\): expected"),
    "the prior in place of q": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return (joint_log_density(x, z) - log_prior(z)).mean()
""", "elbo\\(x\\): expected"),
    "per-digit values": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return joint_log_density(x, z) - log_q(z, mu, log_sigma)
""", "one number"),
    "loss with the wrong sign": ("""
def loss(x):
    return elbo(x)
""", "loss\\(x\\): expected"),
}


@pytest.mark.parametrize("style", list(ELBO_STYLES))
def test_elbo_in_other_styles_passes(nb, style):
    run(nb, ELBO_STYLES[style])
    checks.check_elbo(nb["elbo"], nb["loss"], nb["encoder"], nb["decoder"], nb["x_small"])


@pytest.mark.parametrize("mistake", list(ELBO_MISTAKES))
def test_elbo_mistakes_fail(nb, mistake):
    source, words = ELBO_MISTAKES[mistake]
    run(nb, source)
    with pytest.raises(AssertionError, match=words):
        checks.check_elbo(nb["elbo"], nb["loss"], nb["encoder"], nb["decoder"], nb["x_small"])
    for net in (nb["encoder"], nb["decoder"]):
        assert all(p.grad is None for p in net.parameters()), "the check must leave no gradients behind"


SOLUTION_STEP = """                batch_loss = loss(batch)
                optimizer.zero_grad()
                batch_loss.backward()
                optimizer.step()
"""
TRAIN_STYLES = {
    "zero_grad after the step": """                batch_loss = loss(batch)
                batch_loss.backward()
                optimizer.step()
                optimizer.zero_grad(set_to_none=True)
""",
    "gradients by autograd.grad": """                params = [*encoder.parameters(), *decoder.parameters()]
                batch_loss = loss(batch)
                for p, g in zip(params, torch.autograd.grad(batch_loss, params)):
                    p.grad = g
                optimizer.step()
""",
}
TRAIN_MISTAKES = {
    "wrong sign": """                batch_loss = loss(batch)
                optimizer.zero_grad()
                (-batch_loss).backward()
                optimizer.step()
""",
    "gradients pile up": """                batch_loss = loss(batch)
                batch_loss.backward()
                optimizer.step()
""",
    "no update": """                batch_loss = loss(batch)
                optimizer.zero_grad()
                batch_loss.backward()
""",
    "step before backward": """                batch_loss = loss(batch)
                optimizer.zero_grad()
                optimizer.step()
                batch_loss.backward()
""",
    "loss computed twice": """                batch_loss = loss(batch)
                optimizer.zero_grad()
                loss(batch).backward()
                optimizer.step()
""",
}


def train_with_step(nb, step):
    source = cell_source("train-def")
    assert SOLUTION_STEP in source
    run(nb, source.replace(SOLUTION_STEP, step))


@pytest.mark.parametrize("style", list(TRAIN_STYLES))
def test_training_steps_in_other_styles_pass(nb, style):
    train_with_step(nb, TRAIN_STYLES[style])
    checks.check_train(nb["train"], nb["encoder"], nb["decoder"], nb["x_train"], nb["CONFIG"])


@pytest.mark.parametrize("mistake", list(TRAIN_MISTAKES))
def test_training_mistakes_fail_and_the_weights_are_put_back(nb, mistake):
    before = [p.detach().clone() for net in (nb["encoder"], nb["decoder"]) for p in net.parameters()]
    train_with_step(nb, TRAIN_MISTAKES[mistake])
    with pytest.raises(AssertionError, match="train: "):
        checks.check_train(nb["train"], nb["encoder"], nb["decoder"], nb["x_train"], nb["CONFIG"])
    after = [p.detach() for net in (nb["encoder"], nb["decoder"]) for p in net.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after))


# --------------------------------------------------------------------------
# The four visualizations
# --------------------------------------------------------------------------

VIZ_CHECKS = {
    "scatter": lambda nb: checks.check_scatter(nb["mu_train"], nb["encoder"], nb["x_train"],
                                               nb["FIGURES"] / "latent_scatter.png"),
    "prior-samples": lambda nb: checks.check_prior_samples(nb["z_prior"], nb["prior_means"], nb["prior_samples"],
                                                           nb["decoder"], nb["FIGURES"] / "prior_samples.png"),
    "reconstructions": lambda nb: checks.check_reconstructions(
        nb["x_four"], nb["z_four"], nb["recon_means"], nb["recon_samples"], nb["encoder"], nb["decoder"],
        nb["x_train"], nb["FIGURES"] / "reconstructions.png"),
    "lattice": lambda nb: checks.check_lattice(nb["lattice_image"], nb["decoder"],
                                               nb["FIGURES"] / "latent_lattice.png"),
}
VIZ_STYLES = {
    "prior-samples": ("""
with torch.no_grad():
    z_prior = torch.randn(10, 2)
    prior_means = decoder(z_prior).sigmoid()
    prior_samples = (torch.rand(10, 3, 784) < prior_means[:, None, :]).float()
import matplotlib.pyplot as plt
plt.imsave(FIGURES / "prior_samples.png", prior_means.view(-1, 28), cmap="gray")
"""),
    "lattice": ("""
import numpy as np
from PIL import Image
size, ticks = 50, torch.linspace(-3, 3, 50)
tiles = []
with torch.no_grad():
    for r in range(size):
        codes = torch.stack([ticks, ticks[size - 1 - r].expand(size)], dim=1)
        tiles.append(torch.cat(list(torch.sigmoid(decoder(codes)).view(size, 28, 28)), dim=1))
lattice_image = torch.cat(tiles, dim=0)
import matplotlib.pyplot as plt
plt.imsave(FIGURES / "latent_lattice.png", lattice_image.numpy(), cmap="gray", vmin=0, vmax=1)
"""),
}
VIZ_MISTAKES = {
    "scatter of log sigma": ("scatter", "mu_train, _ = encode(x_train)", "_, mu_train = encode(x_train)",
                             "mu_train"),
    "prior means at the wrong temperature": ("prior-samples", "prior_means = torch.sigmoid(decoder(z_prior))",
                                             "prior_means = torch.sigmoid(decoder(z_prior) / 2)", "prior_means"),
    "samples of one code repeated": ("prior-samples",
                                     "torch.stack([sample_bernoulli(prior_means) for _ in range(3)], dim=1)",
                                     "sample_bernoulli(prior_means).unsqueeze(1).repeat(1, 3, 1)", "independent"),
    "samples thresholded, not drawn": ("prior-samples",
                                       "torch.stack([sample_bernoulli(prior_means) for _ in range(3)], dim=1)",
                                       "(prior_means > 0.5).float().unsqueeze(1).repeat(1, 3, 1)", "prior_samples"),
    "codes are the means, not draws": ("reconstructions",
                                       "torch.stack([sample_diag_gaussian(mu_four, log_sigma_four) for _ in range(2)], dim=1)",
                                       "torch.stack([mu_four, mu_four], dim=1)", "z_four"),
    "means decoded from other codes": ("reconstructions", "recon_means = torch.sigmoid(decoder(z_four.view(8, LATENT_DIM)))",
                                       "recon_means = torch.sigmoid(decoder(torch.randn(8, LATENT_DIM)))", "recon_means"),
    "lattice upside down": ("lattice", "ticks.flip(0), ticks", "ticks, ticks", "lattice_image"),
    "lattice transposed": ("lattice", ".permute(0, 2, 1, 3)", ".permute(1, 2, 0, 3)", "lattice_image"),
    "lattice PNG of 8 x 8 inches": ("lattice", 'save_image(Image.fromarray((lattice_image * 255).round().byte().numpy()), '
                                    'FIGURES / "latent_lattice.png")',
                                    'plt.imsave(FIGURES / "latent_lattice.png", lattice_image[::2, ::2], cmap="gray")',
                                    "1400 x 1400"),
}


def run_viz(nb, cells, replace=None, source=None):
    """Run the helper image_grid and the given visualization cells, one of them edited or replaced."""
    for cell_id in ("image-grid", *cells):
        text = cell_source(cell_id)
        if source is not None and cell_id == cells[0]:
            text = source
        elif replace and cell_id == replace[0]:
            assert replace[1] in text, replace[1]
            text = text.replace(replace[1], replace[2])
        run(nb, text.replace("plt.show()", "plt.close('all')"))


def test_the_solution_visualizations_pass(nb):
    run_viz(nb, list(VIZ_CHECKS))
    for check in VIZ_CHECKS.values():
        check(nb)


@pytest.mark.parametrize("cell", list(VIZ_STYLES))
def test_visualizations_in_other_styles_pass(nb, cell):
    run_viz(nb, [cell], source=VIZ_STYLES[cell])
    VIZ_CHECKS[cell](nb)


@pytest.mark.parametrize("mistake", list(VIZ_MISTAKES))
def test_visualization_mistakes_fail(nb, mistake):
    cell, old, new, words = VIZ_MISTAKES[mistake]
    run_viz(nb, [cell], replace=(cell, old, new))
    with pytest.raises(AssertionError, match=words):
        VIZ_CHECKS[cell](nb)
