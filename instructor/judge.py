"""The grader's references: what each part should give, computed in float64 from the formulas.

    python -m instructor.judge RESULTS_DIR FIGURES_DIR < SEED      (prints {part: {reason, diagnosis}} as JSON)
    python -m instructor.judge --write-expected                     (writes vaekit/checks_expected.pt)

When grading, the student's kernel only runs each part's run on inputs drawn from a
secret seed and saves the plain results (instructor/grading_probe.py); this module,
in the grader's own process, draws the same inputs from the seed, computes
what the results should be, and compares with the part's comparison (vaekit/checks/). A part
passes only if its reported numbers are right for inputs the student's code
could not know in advance; whatever the kernel does to itself cannot change
that. The results are read with torch.load(weights_only=True), which runs no
code.

The same references, on the public inputs (PUBLIC_SEED), are the expected values
that the notebook's own checks compare with (vaekit/checks_expected.pt). This module
is the answer to several TODOs, so the student edition does not ship it.
"""
import argparse
import json
import math
import secrets
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch

from instructor import grading_probe
from instructor.result import CREDIT, WITHHOLD, diagnosis_id, part_id
from vaekit.checks import PARTS
from vaekit.checks.compare import describe, expect, expect_tensor
from vaekit.checks.figures import LATTICE_LAYOUTS, lattice_codes, scatter_rows
from vaekit.checks.networks import TwoLayers
from vaekit.checks.part import (DATA_DIM, DECODER_SIZES, ENCODER_SIZES, EXPECTED_FILE, LATENT_DIM, PUBLIC_SEED,
                                inputs_for, seed_weights)
from vaekit.checks.training import BATCH_SIZE, LEARNING_RATE, NOISE_DRAWS, TRAIN_STEPS, closed_form_kl, elbo_codes

LOG_2PI = math.log(2 * math.pi)
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8
MAX_RESULT_BYTES = 50_000_000  # a part's results are a few MB at most; a larger file is not read


def bernoulli64(x, logits):
    """log Ber(x | sigmoid(y)) in float64, as log sigmoid(+-y) = -log(1 + exp(-+y))."""
    x, logits = x.double(), logits.double()
    zero = torch.zeros_like(logits)
    return -x * torch.logaddexp(zero, -logits) - (1 - x) * torch.logaddexp(zero, logits)


def std_normal64(z):
    return -0.5 * (z.double() ** 2).sum(1) - 0.5 * z.shape[1] * LOG_2PI


def gaussian64(z, mu, log_sigma):
    z, mu, log_sigma = z.double(), mu.double(), log_sigma.double()
    return (-0.5 * ((z - mu) / log_sigma.exp()) ** 2 - log_sigma - 0.5 * LOG_2PI).sum(1)


def forward64(weights, inputs, hidden=torch.tanh):
    """W2 hidden(W1 u + b1) + b2 in float64; weights [W1, b1, W2, b2] in Linear's layout."""
    w1, b1, w2, b2 = (w.double() for w in weights)
    return hidden(inputs.double() @ w1.T + b1) @ w2.T + b2


def network_expected(weights, inputs):
    """The outputs of the assignment's network, and of the mistakes vaekit.checks.model.NETWORK_MISTAKES names."""
    out = forward64(weights, inputs)
    return {"out": out, "sigmoid_output": torch.sigmoid(out),
            "relu": forward64(weights, inputs, torch.relu), "sigmoid_hidden": forward64(weights, inputs, torch.sigmoid),
            "no_hidden": forward64(weights, inputs, lambda h: h), "tanh_output": torch.tanh(out)}


@dataclass(frozen=True)
class Densities:
    """The log densities that the later parts reach through the student's earlier functions, in float64:
    the assignment's, or with the mistake an earlier part was diagnosed with (error carried forward)."""
    likelihood: Callable = bernoulli64  # (x, logits) -> log p(x_d | logits_d) of each pixel
    prior: Callable = std_normal64  # z (B, K) -> log N(z | 0, I) (B,)
    q: Callable = gaussian64  # (z, mu, log_sigma) -> log N(z | mu, diag sigma^2) (B,)


ASSIGNMENT = Densities()


def elbo64(x, z_drawn, enc_weights, dec_weights, densities=ASSIGNMENT):
    """The one-draw ELBO of each digit in float64, as a function of the weights (leaves of autograd).

    The noise is read off the codes the student's code decoded, eps = (z - mu) / sigma, and z is
    rebuilt as mu + sigma * eps so that gradients flow through it (the reparameterization).
    returns (ELBO of each digit (B,), eps (B, 2))
    """
    out = forward64(enc_weights, x)
    mu, log_sigma = out[:, :LATENT_DIM], out[:, LATENT_DIM:]
    eps = (z_drawn.double() - mu.detach()) / log_sigma.detach().exp()
    z = mu + log_sigma.exp() * eps
    log_joint = densities.likelihood(x, forward64(dec_weights, z)).sum(1) + densities.prior(z)
    return log_joint - densities.q(z, mu, log_sigma), eps


def leaves(weights):
    return [w.double().clone().requires_grad_() for w in weights]


def adam64(x_batches, z_batches, enc_weights, dec_weights, lr, densities=ASSIGNMENT):
    """Adam on the negative one-draw ELBO (of densities) in float64 (Kingma and Ba, with PyTorch's defaults).

    returns the weights after the steps (Linear's layout, encoder then decoder) and each step's loss
    """
    enc, dec = leaves(enc_weights), leaves(dec_weights)
    params = enc + dec
    first, second = [torch.zeros_like(p) for p in params], [torch.zeros_like(p) for p in params]
    (beta1, beta2), losses = ADAM_BETAS, []
    for step, (x, z) in enumerate(zip(x_batches, z_batches), start=1):
        batch_loss = -elbo64(x, z, enc, dec, densities)[0].mean()
        grads = torch.autograd.grad(batch_loss, params)
        losses.append(batch_loss.item())
        with torch.no_grad():
            for p, g, m, v in zip(params, grads, first, second):
                m.mul_(beta1).add_((1 - beta1) * g)
                v.mul_(beta2).add_((1 - beta2) * g * g)
                m_hat, v_hat = m / (1 - beta1 ** step), v / (1 - beta2 ** step)
                p.sub_(lr * m_hat / (v_hat.sqrt() + ADAM_EPS))
    return [p.detach() for p in params], losses


class Data:
    """The training digits, loaded once when a part needs them (the visualizations)."""

    def __init__(self):
        self.x = None

    def train(self):
        if self.x is None:
            from vaekit.mnist import load_mnist
            self.x = load_mnist(train=True)[0]
        return self.x


def expected_elbo(inputs, results, data, densities=ASSIGNMENT):
    x, enc, dec = inputs["x"], leaves(inputs["encoder"]), leaves(inputs["decoder"])
    z_drawn, loss_codes, noise_codes = elbo_codes(inputs, results)
    estimate = elbo64(x, z_drawn, enc, dec, densities)[0].mean()
    grads = torch.autograd.grad(estimate, enc + dec)
    with torch.no_grad():
        out = forward64(inputs["encoder"], x)
        mu, log_sigma = out[:, :LATENT_DIM], out[:, LATENT_DIM:]
        terms = [densities.likelihood(x, forward64(inputs["decoder"], z_drawn)).sum(1).mean().item(),
                 densities.prior(z_drawn).mean().item(), densities.q(z_drawn, mu, log_sigma).mean().item(),
                 closed_form_kl(mu, log_sigma), densities.q(mu, mu, log_sigma).mean().item(),
                 densities.prior(torch.zeros_like(mu[:1])).item()]
        loss = -elbo64(x, loss_codes, enc, dec, densities)[0].mean().item()
        noise = elbo64(x[:1].expand(NOISE_DRAWS, -1), noise_codes, enc, dec)[1]
    return {"estimate": estimate.item(), "grads": list(grads), "terms": terms, "loss": loss, "noise": noise}


def expected_train(inputs, results, data, densities=ASSIGNMENT):
    if len(results["batches"]) != TRAIN_STEPS or len(results["codes"]) != TRAIN_STEPS:
        return {"losses": [math.nan], "loss_tolerance": 0.0, "after": None}  # compare_train names the count
    x_batches = [b for b in results["batches"] if isinstance(b, torch.Tensor)]
    rows = {tuple(row.tolist()) for row in inputs["x"].bool()}
    expect(len(x_batches) == TRAIN_STEPS
           and all(tuple(b.shape) == (BATCH_SIZE, DATA_DIM) for b in x_batches)
           and all(tuple(row.tolist()) in rows for b in x_batches for row in b.bool()),
           f"train: expected {TRAIN_STEPS} mini-batches of {BATCH_SIZE} rows of x_train, "
           f"found batches of shapes {[describe(b) for b in results['batches']]}", "not-training-batches")
    after, losses = adam64(x_batches, results["codes"], inputs["encoder"], inputs["decoder"], LEARNING_RATE, densities)
    mean = sum(losses) / len(losses)
    return {"after": after, "losses": losses, "loss_tolerance": 1e-2 + 1e-4 * abs(mean),
            "variants": training_variants(x_batches, results["codes"], inputs, densities)}


def training_variants(x_batches, z_batches, inputs, densities):
    """The weights after the steps of training loops that students get wrong, for the diagnoses of
    compare_train: {(cause, text): weights}: a new Adam at every step (its moments lost), and a learning
    rate ten times too large or too small (not config['lr'])."""
    weights = inputs["encoder"] + inputs["decoder"]
    for x, z in zip(x_batches, z_batches):
        weights = adam64([x], [z], weights[:4], weights[4:], LEARNING_RATE, densities)[0]
    scaled = {(f"learning-rate-times-{factor:g}", f"Adam's steps with a learning rate {factor:g} times config['lr']: "
                                                  "is the learning rate hard-coded, or not the config's?"):
              adam64(x_batches, z_batches, inputs["encoder"], inputs["decoder"], factor * LEARNING_RATE, densities)[0]
              for factor in (10, 0.1)}
    return {("new-optimizer-each-step", "Adam's first step at every step: is a new optimizer made at every step, so "
                                        "that Adam's running moments are lost?"): weights, **scaled}


def expected_scatter(inputs, results, data):
    x = data.train()
    out = forward64(inputs["encoder"], x[scatter_rows(len(x))])
    return {"mu": out[:, :LATENT_DIM], "log_sigma": out[:, LATENT_DIM:]}


def expected_prior_samples(inputs, results, data):
    expect_tensor(results["z_prior"], "z_prior", (10, LATENT_DIM))
    logits = forward64(inputs["decoder"], results["z_prior"])
    return {"means": torch.sigmoid(logits), "logits": logits}


def expected_reconstructions(inputs, results, data):
    x_four, z_four = results["x_four"], results["z_four"]
    expect_tensor(x_four, "x_four", (4, DATA_DIM))
    expect_tensor(z_four, "z_four", (4, 2, LATENT_DIM))
    x_train = data.train()
    out = forward64(inputs["encoder"], x_four)
    means = torch.sigmoid(forward64(inputs["decoder"], z_four.reshape(8, LATENT_DIM))).view(4, 2, DATA_DIM)
    return {"in_train": [bool((x_train == row.float()).all(1).any()) for row in x_four],
            "mu": out[:, :LATENT_DIM], "sigma": out[:, LATENT_DIM:].exp(), "means": means}


def expected_lattice(inputs, results, data):
    return {**{layout: torch.sigmoid(forward64(inputs["decoder"], lattice_codes(layout))).view(-1, 28, 28)
               for layout in LATTICE_LAYOUTS}, "logits": forward64(inputs["decoder"], lattice_codes()).view(-1, 28, 28)}


def stored(reference):
    """An expected value that depends on the inputs alone."""
    return lambda inputs, results, data: reference(inputs)


def density_mistakes(i):
    """The diagnoses of a Gaussian log density of z, mu, log_sigma (diag_gaussian_log_density, log_q)."""
    z, mu, log_sigma = i["z"], i["mu"], i["log_sigma"]
    return {"mistakes": {("mu-log-sigma-swapped", "the density with mu and log_sigma swapped"):
                             gaussian64(z, log_sigma, mu),
                         ("sigma-as-variance", "exp(log_sigma) used as the variance, where it is the standard "
                                               "deviation"): gaussian64(z, mu, log_sigma / 2),
                         ("log-sigma-term-missing", "the density without its - log sigma term"):
                             gaussian64(z, mu, log_sigma) + log_sigma.double().sum(1),
                         ("standard-normal", "the standard normal density of z: mu and log_sigma unused?"):
                             std_normal64(z),
                         ("density-not-log", "the density itself, not its log"): gaussian64(z, mu, log_sigma).exp(),
                         ("sigma-multiplies", "the density with z - mu multiplied by sigma, where it is divided by it"):
                             gaussian64(z, mu, -log_sigma) - 2 * log_sigma.double().sum(1),
                         ("square-not-halved", "the log density with ((z - mu) / sigma)^2 not halved"):
                             gaussian64(z, mu, log_sigma) - 0.5 * (((z - mu) / log_sigma.exp()).double() ** 2).sum(1),
                         ("sigma-as-log-sigma", "the density of exp(log_sigma) passed as log_sigma: sigma where "
                                                "log_sigma belongs?"): gaussian64(z, mu, log_sigma.exp()),
                         ("log-variance-as-log-sigma", "the density of 2 log_sigma passed as log_sigma: the log of "
                                                       "the variance where the log of sigma belongs?"):
                             gaussian64(z, mu, 2 * log_sigma)},
            "offsets": constant_mistakes(z), **gaussian_terms(z, mu, log_sigma)}


def gaussian_terms(z, mu, log_sigma):
    """The terms of log N(z | mu, diag sigma^2), each summed over the K dimensions of a row, those students
    write in their place, and its normalising constant (compare.diagnosis)."""
    z, mu, log_sigma = z.double(), mu.double(), log_sigma.double()
    sigma = log_sigma.exp()
    return {"terms": {("square", "-1/2 sum ((z - mu) / sigma)^2"): -0.5 * (((z - mu) / sigma) ** 2).sum(1),
                      ("log-sigma", "- sum log sigma"): -log_sigma.sum(1),
                      **normal_constant(z)},
            "extras": {("square-over-sigma", "-1/2 sum (z - mu)^2 / sigma (divided by sigma where sigma^2 "
                                             "belongs?)"): -0.5 * ((z - mu) ** 2 / sigma).sum(1),
                       ("square-over-log-sigma", "-1/2 sum ((z - mu) / log_sigma)^2 (log_sigma used as sigma: exp "
                                                 "missing?)"): -0.5 * (((z - mu) / log_sigma) ** 2).sum(1),
                       ("square-of-z-plus-mu", "-1/2 sum ((z + mu) / sigma)^2 (z + mu where z - mu belongs?)"):
                           -0.5 * (((z + mu) / sigma) ** 2).sum(1),
                       ("square-not-divided", "-1/2 sum (z - mu)^2 (not divided by sigma^2?)"):
                           -0.5 * ((z - mu) ** 2).sum(1),
                       ("sigma", "- sum sigma (sigma where log sigma belongs?)"): -sigma.sum(1),
                       ("variance", "- sum sigma^2 (the variance where log sigma belongs?)"): -(sigma ** 2).sum(1)},
            "constant": constant_words(z)}


def normal_constant(z):
    """The normalising constant of a log density of z (B, K), as a term of each row."""
    return {("constant", "-K/2 log 2pi"): torch.full((len(z),), -0.5 * z.shape[1] * LOG_2PI, dtype=torch.float64)}


def constant_words(z):
    """The normalising constant of a log density of z (B, K) and the quantities a wrong one is written with."""
    batch, k = z.shape
    return {"text": "-K/2 log 2pi", "value": -0.5 * k * LOG_2PI,
            "atoms": {"log 2pi": LOG_2PI, "log pi": math.log(math.pi), "K": k, "log K": math.log(k),
                      "B": batch, "log B": math.log(batch)}}


def constant_mistakes(z):
    """What a wrong normalising constant adds to a log density of z (B, K): none, half of it, or one that
    counts the batch where the latent dimension belongs."""
    batch, k = z.shape
    return {**CONSTANT_MISSING,
            ("constant-counts-batch", "the normalising constant counts the batch size, z.shape[0], where the "
                                      "latent dimension, z.shape[1], belongs?"): (k - batch) / 2 * LOG_2PI}


def normal_mistakes(i):
    """The diagnoses of log N(z | 0, I) (std_normal_log_density, log_prior)."""
    z = i["z"].double()
    return {"mistakes": {("square-not-halved", "the log density with |z|^2 not halved"):
                             std_normal64(z) - 0.5 * (z ** 2).sum(1),
                         ("density-not-log", "the density itself, not its log"): std_normal64(z).exp(),
                         ("log-sigma-one", "the log density of N(0, e^2 I): log_sigma = 1 (ones) where 0 (zeros) "
                                           "belongs?"): gaussian64(z, torch.zeros_like(z), torch.ones_like(z))},
            "offsets": constant_mistakes(z),
            "terms": {("square", "-1/2 sum z^2"): -0.5 * (z ** 2).sum(1), **normal_constant(z)},
            "extras": {("square-of-sum", "-1/2 (sum z)^2 (the square of the sum where the sum of squares "
                                         "belongs?)"): -0.5 * z.sum(1) ** 2,
                       ("norm", "-1/2 |z| (the norm where its square belongs?)"): -0.5 * z.norm(dim=1),
                       ("absolute", "-1/2 sum |z| (|z| where z^2 belongs?)"): -0.5 * z.abs().sum(1)},
            "constant": constant_words(z)}


def likelihood_mistakes(x, logits):
    """The diagnoses of a log likelihood summed over pixels, log p(x | logits)."""
    return {("probabilities-as-logits", "the log likelihood of sigmoid(decoder(z)) as logits: probabilities "
                                        "passed where logits belong?"):
            bernoulli64(x, torch.sigmoid(logits.double())).sum(1),
            ("log-probabilities-as-logits", "the log likelihood of log sigmoid(decoder(z)) as logits: log "
                                            "probabilities passed where logits belong?"):
            bernoulli64(x, torch.nn.functional.logsigmoid(logits.double())).sum(1),
            ("x-swapped", "the log likelihood of 1 - x: x and 1 - x swapped?"): bernoulli64(1 - x, logits).sum(1)}


def bernoulli_terms(x, logits, reduce=lambda values: values):
    """The two terms of log Ber(x | sigmoid(y)) = x log sigmoid(y) + (1 - x) log sigmoid(-y), of each pixel or
    reduced (summed over the pixels of a row), and those students write in their place (compare.diagnosis)."""
    x, y = x.double(), logits.double()
    log_sigmoid = torch.nn.functional.logsigmoid
    return {"terms": {("x-term", "x log sigmoid(y)"): reduce(x * log_sigmoid(y)),
                      ("not-x-term", "(1 - x) log sigmoid(-y)"): reduce((1 - x) * log_sigmoid(-y))},
            "extras": {("not-x-log-sigmoid-y", "(1 - x) log sigmoid(y) (log sigmoid(y) where log(1 - "
                                                     "sigmoid(y)) = log sigmoid(-y) belongs?)"):
                           reduce((1 - x) * log_sigmoid(y)),
                       ("x-log-sigmoid-neg-y", "x log sigmoid(-y) (log(1 - sigmoid(y)) where log sigmoid(y) "
                                                 "belongs?)"): reduce(x * log_sigmoid(-y)),
                       ("not-x-log-sigmoid-1-minus-y", "(1 - x) log sigmoid(1 - y) (1 - y where -y "
                                                               "belongs?)"): reduce((1 - x) * log_sigmoid(1 - y)),
                       ("not-x-log-half", "(1 - x) log sigmoid(0) = -(1 - x) log 2 (log sigmoid(x y): the "
                                                "logits' sign 2x - 1 forgotten?)"): reduce(-(1 - x) * math.log(2)),
                       ("logits", "y (log sigmoid(y) where log sigmoid(-y) = log sigmoid(y) - y belongs, or the "
                                  "other way round?)"): reduce(y),
                       ("x-logits", "x y"): reduce(x * y),
                       ("softplus", "log(1 + e^y) = softplus(y)"): reduce(torch.nn.functional.softplus(y))}}


def joint_expected(i):
    logits = forward64(i["decoder"], i["z"])
    likelihood, prior = bernoulli64(i["x"], logits).sum(1), std_normal64(i["z"])
    return {"out": likelihood + prior, "terms": {("likelihood", "log p(x | z)"): likelihood, ("prior", "log p(z)"): prior},
            "mistakes": {("product", "log p(x | z) * log p(z): the product of the logs where their sum belongs"):
                             likelihood * prior,
                         ("prior-subtracted", "log p(x | z) - log p(z): the prior subtracted where the joint adds "
                                              "it?"): likelihood - prior,
                         ("prior-missing", "log p(x | z) alone: is log p(z) missing?"): likelihood,
                         ("mean-over-pixels", "log p(x | z) averaged over the 784 pixels, + log p(z): a mean where a "
                                              "sum belongs?"): likelihood / DATA_DIM + prior,
                         ("likelihood-missing", "log p(z) alone: is log p(x | z) missing?"): prior,
                         **{key: value + prior for key, value in likelihood_mistakes(i["x"], logits).items()}}}


def likelihood_expected(i):
    logits = forward64(i["decoder"], i["z"])
    return {"out": bernoulli64(i["x"], logits).sum(1), "mistakes": likelihood_mistakes(i["x"], logits),
            "entries": bernoulli64(i["x"], logits), **bernoulli_terms(i["x"], logits, lambda values: values.sum(1))}


def bernoulli_expected(i):
    x, y = i["x"].double(), i["logits"].double()
    return {"out": bernoulli64(x, y),
            "mistakes": {("probabilities-as-logits", "log Ber(x | sigmoid(y)) at y = sigmoid(logits): "
                                                     "probabilities passed where logits belong?"):
                             bernoulli64(x, torch.sigmoid(y)),
                         ("x-swapped", "the log density of 1 - x: x and 1 - x swapped?"): bernoulli64(1 - x, y),
                         ("one-minus-x-term-missing", "log sigmoid(y) where x = 1 and 0 where x = 0: is the (1 - x) "
                                                      "term missing?"): bernoulli64(x, y) * x,
                         ("density-not-log", "the probability itself, not its log"): bernoulli64(x, y).exp()},
            **bernoulli_terms(x, y)}


def table_expected(i):
    x, y = i["x"].double(), i["logits"].double()
    out = torch.stack([bernoulli64(row.expand_as(y), y).sum(1) for row in x])
    softplus = torch.nn.functional.softplus
    by_column = lambda values: values.expand(len(x), -1)  # noqa: E731  (a term of logits_j alone, in each row i)
    return {"out": out, "mistakes": {("term-missing", "the table without the part of the log density that does not "
                                                      "depend on x: is a term missing?"): x @ y.T},
            "terms": {("x-logits", "x_i . y_j"): x @ y.T, ("softplus", "- sum_d softplus(y_jd)"):
                      by_column(-softplus(y).sum(1))},
            "extras": {("softplus-of-minus-y", "- sum_d softplus(-y_jd) (softplus(-y) where softplus(y) belongs?)"):
                           by_column(-softplus(-y).sum(1)),
                       ("logits", "sum_d y_jd"): by_column(y.sum(1)),
                       ("x-softplus", "- x_i . softplus(y_j) (the softplus term weighted by x?)"): -x @ softplus(y).T}}


def log_mean_exp_expected(i):
    values = i["values"].double()
    n = values.shape[1]
    missing_log_n = {("log-n-missing", f"log({n}) = log(n): is the - log(n) missing (a log-sum-exp, not a "
                                        "log-mean-exp)?"): math.log(n)}
    return {"out": torch.logsumexp(values, 1) - math.log(n), "by_column": torch.logsumexp(values[:1], 1) - math.log(n),
            "mistakes": {("plain-mean", "the mean of a, not log(mean(exp(a)))"): values.mean(1),
                         ("divided-by-n", "log(sum(exp(a))) / n: divided by n where log(mean) = log(sum) - log(n) "
                                          "belongs?"): torch.logsumexp(values, 1) / n},
            "offsets": missing_log_n,
            "constant": {"text": "- log n", "value": -math.log(n),
                         "atoms": {"log n": math.log(n), "n": n, "log a.numel()": math.log(values.numel())}}}


# What -(K / 2) log(2 pi) adds to a log density of K = 2 dimensions, and its half.
CONSTANT_MISSING = {("missing-constant", "log(2 pi): is the normalising constant missing?"): LOG_2PI,
                    ("constant-of-one-dimension", "log(2 pi) / 2: the normalising constant of one dimension only?"):
                        LOG_2PI / 2}
EXPECTED = {
    "helpers.bernoulli_log_density": stored(bernoulli_expected),
    "helpers.std_normal_log_density": stored(lambda i: {"out": std_normal64(i["z"]), **normal_mistakes(i),
                                                        "at_zero": std_normal64(torch.zeros(1, 1))[0]}),
    "log_prior": stored(lambda i: {"out": std_normal64(i["z"]), **normal_mistakes(i)}),
    "decoder": stored(lambda i: network_expected(i["decoder"], i["z"])),
    "log_likelihood": stored(likelihood_expected),
    "joint_log_density": stored(joint_expected),
    "helpers.diag_gaussian_log_density": stored(lambda i: {"out": gaussian64(i["z"], i["mu"], i["log_sigma"]),
                                                           **density_mistakes(i)}),
    "helpers.sample_diag_gaussian": stored(lambda i: None),
    "encoder": stored(lambda i: {**network_expected(i["encoder"], i["x"]),
                                 "mu": forward64(i["encoder"], i["x"])[:, :LATENT_DIM],
                                 "log_sigma": forward64(i["encoder"], i["x"])[:, LATENT_DIM:]}),
    "log_q": stored(lambda i: {"out": gaussian64(i["z"], i["mu"], i["log_sigma"]), **density_mistakes(i)}),
    "elbo and loss": expected_elbo,
    "train": expected_train,
    "scatter (5.1)": expected_scatter,
    "helpers.sample_bernoulli": stored(lambda i: None),
    "prior samples (5.2)": expected_prior_samples,
    "reconstructions (5.3)": expected_reconstructions,
    "lattice (5.4)": expected_lattice,
    "helpers.bernoulli_log_likelihood_table": stored(table_expected),
    "helpers.log_mean_exp": stored(log_mean_exp_expected),
}


# Error carried forward. The later parts reach the log densities through the student's earlier functions:
# which densities each part uses, and which part defines each for the parts after it.
USES = {"log_prior": ("prior",), "log_likelihood": ("likelihood",), "joint_log_density": ("likelihood", "prior"),
        "log_q": ("q",), "elbo and loss": ("likelihood", "prior", "q"), "train": ("likelihood", "prior", "q")}
DEFINES = {"helpers.bernoulli_log_density": "likelihood", "log_likelihood": "likelihood",
           "helpers.std_normal_log_density": "prior", "log_prior": "prior",
           "helpers.diag_gaussian_log_density": "q", "log_q": "q"}
# The earlier parts whose functions a later part calls besides the densities (encode; the ELBO through loss):
# their failure is named in the later part's reason, but not emulated.
CALLS = {"elbo and loss": ("encoder",), "train": ("encoder", "elbo and loss")}
# A density as an earlier part's diagnosed mistake computes it: {(density, cause): the mistaken density}.
MISTAKEN = {
    ("likelihood", "probabilities-as-logits"): lambda x, y: bernoulli64(x, torch.sigmoid(y.double())),
    ("likelihood", "x-swapped"): lambda x, y: bernoulli64(1 - x, y),
    ("likelihood", "one-minus-x-term-missing"): lambda x, y: bernoulli64(x, y) * x.double(),
    ("likelihood", "mean-over-pixels"): lambda x, y: bernoulli64(x, y) / DATA_DIM,
    ("prior", "square-not-halved"): lambda z: std_normal64(z) - 0.5 * (z.double() ** 2).sum(1),
    ("prior", "missing-constant"): lambda z: std_normal64(z) + 0.5 * z.shape[1] * LOG_2PI,
    ("prior", "constant-of-one-dimension"): lambda z: std_normal64(z) + 0.5 * (z.shape[1] - 1) * LOG_2PI,
    ("prior", "half"): lambda z: std_normal64(z) / 2,
    ("q", "mu-log-sigma-swapped"): lambda z, mu, log_sigma: gaussian64(z, log_sigma, mu),
    ("q", "sigma-as-variance"): lambda z, mu, log_sigma: gaussian64(z, mu, log_sigma / 2),
    ("q", "log-sigma-term-missing"): lambda z, mu, log_sigma: gaussian64(z, mu, log_sigma) + log_sigma.double().sum(1),
    ("q", "missing-constant"): lambda z, mu, log_sigma: gaussian64(z, mu, log_sigma) + 0.5 * z.shape[1] * LOG_2PI,
    ("q", "constant-of-one-dimension"): lambda z, mu, log_sigma: (gaussian64(z, mu, log_sigma)
                                                                 + 0.5 * (z.shape[1] - 1) * LOG_2PI),
    ("q", "sigma-multiplies"): lambda z, mu, log_sigma: gaussian64(z, mu, -log_sigma) - 2 * log_sigma.double().sum(1),
    ("q", "square-not-halved"): lambda z, mu, log_sigma: (gaussian64(z, mu, log_sigma)
                                                         - 0.5 * (((z - mu) / log_sigma.exp()).double() ** 2).sum(1)),
    ("q", "half"): lambda z, mu, log_sigma: gaussian64(z, mu, log_sigma) / 2,
}
# What each later part should give with the densities as the student's earlier functions compute them.
CARRIED_EXPECTED = {
    "log_prior": lambda i, results, data, d: {"out": d.prior(i["z"])},
    "log_likelihood": lambda i, results, data, d: {"out": d.likelihood(i["x"], forward64(i["decoder"], i["z"])).sum(1)},
    "joint_log_density": lambda i, results, data, d: {
        "out": d.likelihood(i["x"], forward64(i["decoder"], i["z"])).sum(1) + d.prior(i["z"])},
    "log_q": lambda i, results, data, d: {"out": d.q(i["z"], i["mu"], i["log_sigma"])},
    "elbo and loss": expected_elbo,
    "train": expected_train,
}


def carried_forward(name, results, inputs, data, verdict, mistaken, failed, policy):
    """The verdict of the part called name, which failed with verdict, once the errors of the earlier parts it
    uses are carried forward.

    mistaken: {density: (the mistaken density, the part that failed with it)} of the earlier parts
    failed:   the earlier parts that failed
    policy:   CREDIT: a part right given the mistaken densities passes; WITHHOLD: it fails, and says why
    returns {"reason", "diagnosis", "inherits"}: inherits names the earlier parts whose error it carries; a
    part with a mistake of its own besides has that mistake named, found against the mistaken densities
    """
    used = {density: mistaken[density] for density in USES[name] if density in mistaken}
    sources = sorted({source for _, source in used.values()}, key=list(PARTS).index)
    inherits = " and ".join(sources)
    if used:
        densities = replace(ASSIGNMENT, **{density: function for density, (function, _) in used.items()})
        try:
            PARTS[name].compare(inputs, results, CARRIED_EXPECTED[name](inputs, results, data, densities), None)
        except AssertionError as err:  # a mistake of its own: named against the student's earlier parts
            if getattr(err, "cause", "no-diagnosis") != "no-diagnosis":
                return {"reason": f"{err} (taking {inherits} as written, which fails too)",
                        "diagnosis": diagnosis_id(name, err.cause), "inherits": ""}
        except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError):
            pass
        else:
            if policy == CREDIT:
                return {"reason": "", "diagnosis": "", "inherits": inherits}
            return {"reason": f"right given {inherits} as written, which fails: the error is carried forward "
                              "from there, and this course's policy gives this part no credit for it",
                    "diagnosis": diagnosis_id(name, f"inherits-{part_id(sources[0])}"),
                    "inherits": inherits}
    upstream = [part for part in failed if DEFINES.get(part) in USES[name] or part in CALLS.get(name, ())]
    hint = f" ({' and '.join(upstream)} fails too: if this part uses it, mend that first)" if upstream else ""
    return {**verdict, "reason": verdict["reason"] + hint}


def part_inputs(name, seed):
    """The inputs of a part; the visualizations' are the networks' weights that grading put in place."""
    return seed_weights(seed) if PARTS[name].visualization else inputs_for(PARTS[name], seed)


# What an error that the student's code raised most likely means: {words in its message: (cause, hint)}.
RAISED = {"must match the size of tensor": ("shapes-do-not-broadcast",
                                            "; two shapes that do not broadcast: a sum, mean or max with keepdim=True "
                                            "missing or misplaced, or over the wrong dimension?"),
          "does not require grad and does not have a grad_fn": ("loss-without-gradients",
                                                                "; the loss carries no gradients: computed under "
                                                                "torch.no_grad(), or detached?")}


def judge(name, results, inputs, figures, data=None):
    """Why the part called name fails, and the identifier of that cause (instructor/result.py's
    diagnosis_id), from the kernel's results on inputs; ("", "") if it passes."""
    if results.get("error"):
        cause, hint = next(((cause, hint) for words, (cause, hint) in RAISED.items()
                            if str(results.get("cause", "")).startswith("raised-") and words in str(results["error"])),
                           (results.get("cause"), ""))
        return str(results["error"]) + hint, diagnosis_id(name, cause)
    part = PARTS[name]
    try:
        expected = EXPECTED[name](inputs, results, data or Data())
        part.compare(inputs, results, expected, Path(figures) / part.figure if part.figure else None)
    except AssertionError as err:
        return str(err), diagnosis_id(name, getattr(err, "cause", None))
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, RuntimeError) as err:
        return (f"the results reported for this part are not what the check expects ({type(err).__name__}: {err})",
                diagnosis_id(name, "unexpected-results"))
    return "", ""


def judge_here(name, namespace):
    """nbgrader's hidden test of a part: run in the student's kernel (nbgrader's model), on inputs from a
    seed drawn now; the visualizations are judged on the networks' weights as they are. Raises
    AssertionError with the reason when the part fails; prints nothing."""
    if PARTS[name].visualization:
        layers = {network: TwoLayers(namespace.get(network), network, sizes)
                  for network, sizes in (("encoder", ENCODER_SIZES), ("decoder", DECODER_SIZES))}
        inputs = {network: [p.detach().cpu().double() for p in layers[network].as_linear(layers[network].params)]
                  for network in layers}
    else:
        inputs = inputs_for(PARTS[name], secrets.randbits(62))
    results = grading_probe.run_part(name, namespace, inputs)
    why, diagnosis = judge(name, results, inputs, namespace.get("FIGURES", "figures"))
    expect(not why, why, diagnosis.split("/", 1)[-1])


def read_results(path):
    """The results the kernel saved for a part, read without running any code; None if there are none."""
    path = Path(path)
    if not path.is_file():
        return None
    unreadable = "unreadable-results"
    if path.stat().st_size > MAX_RESULT_BYTES:
        return {"error": f"the results saved for this part are too large to read ({path.stat().st_size} bytes)",
                "cause": unreadable}
    try:
        results = torch.load(path, weights_only=True)
    except Exception as err:  # a damaged file, or one holding objects weights_only does not allow
        return {"error": f"the results saved for this part cannot be read ({type(err).__name__})", "cause": unreadable}
    return results if isinstance(results, dict) else {"error": "the results saved for this part are not a dict",
                                                      "cause": unreadable}


def judge_all(results_dir, figures, seed, policy=CREDIT):
    """{part: {"reason", "diagnosis", "inherits"}} for every part of PARTS whose results are in results_dir
    (a part with no results there is left out): judge's pair ("" and "" if it passed), and the earlier parts
    whose error it carries forward (carried_forward, with policy), or "".

    A part that fails with a diagnosed mistake of a density (DEFINES, MISTAKEN) passes that mistake on:
    the later parts that use the density are judged again with it.
    """
    data, verdicts, mistaken, failed = Data(), {}, {}, []
    for part in PARTS:
        results = read_results(grading_probe.result_file(results_dir, part))
        if results is None:
            continue
        inputs = part_inputs(part, seed)
        reason, diagnosis = judge(part, results, inputs, figures, data)
        verdict = {"reason": reason, "diagnosis": diagnosis, "inherits": ""}
        if reason and part in USES and results.get("error") is None:
            verdict = carried_forward(part, results, inputs, data, verdict, mistaken, failed, policy)
        if reason and not verdict["inherits"]:
            failed.append(part)
            density, cause = DEFINES.get(part), diagnosis.split("/", 1)[-1]
            if (density, cause) in MISTAKEN:
                mistaken.setdefault(density, (MISTAKEN[density, cause], part))
        verdicts[part] = verdict
    return verdicts


def public_expected():
    """{part: expected values} on the public inputs, for the parts whose notebook check reads them stored."""
    return {name: EXPECTED[name](inputs_for(part, PUBLIC_SEED), None, None) for name, part in PARTS.items()
            if part.stored}


def as_float32(values):
    """values (tensors, in dicts) in float32, as the file stores them."""
    if isinstance(values, dict):
        return {key: as_float32(value) for key, value in values.items()}
    return values.float() if isinstance(values, torch.Tensor) else values


def write_expected(path=EXPECTED_FILE):
    torch.save(as_float32(public_expected()), path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", nargs="?", type=Path, help="the folder of the kernel's results")
    parser.add_argument("figures", nargs="?", type=Path, help="the folder of the figures the notebook saved")
    parser.add_argument("--write-expected", action="store_true", help=f"write {EXPECTED_FILE.name}")
    parser.add_argument("--carry-forward", choices=(CREDIT, WITHHOLD), default=CREDIT,
                        help="a part right given the student's own failing earlier parts: credit it (default) "
                             "or withhold its points; either way its reason names them")
    args = parser.parse_args(argv)
    if args.write_expected:
        write_expected()
        print(f"wrote {EXPECTED_FILE}")
        return 0
    if args.results is None or args.figures is None:
        parser.error("give RESULTS_DIR and FIGURES_DIR, and the seed on standard input")
    torch.set_num_threads(1)
    seed = int(sys.stdin.read().strip())
    print(json.dumps(judge_all(args.results, args.figures, seed, args.carry_forward)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
