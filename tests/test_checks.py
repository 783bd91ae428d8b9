"""The checks judge what code does, not how it is written.

Correct solutions in other styles (a module class, parameters stored the
other way round, another formula, another order of operations) must pass;
mistakes that still run must fail with a message that says what was expected.
Each is tried twice, in-process, on the notebook's own namespace with one part
swapped: by the notebook's check (public inputs, stored expected values or the
student's own functions) and as grading judges it (the probe's run on a
secret seed's inputs, its results saved and read back as grading does, judged
by instructor/judge.py). tests/test_grading.py grades a few of these end to end.
"""
import json
import math
import re

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vaekit import checks
from vaekit.checks.part import EXPECTED_FILE, PUBLIC_SEED, inputs_for
from instructor import judge
from instructor.result import CREDIT, WITHHOLD, part_id
from instructor import grading_probe
from tools.notebook_code import DEFINITION_CELLS, NOTEBOOK, ROOT, notebook_namespace

SEED = 20261202  # any seed but the public one


def graded(nb, part, folder, diagnosis=False, seed=SEED):
    """Why grading fails the part of the namespace nb ("" if it passes): the probe's run on the seed's inputs,
    saved in folder and read back as grading does, then judged. diagnosis: the pair (reason, its identifier)."""
    try:
        results = grading_probe.run_part(part, nb, inputs_for(checks.PARTS[part], seed))
    except Exception as err:
        results = grading_probe.failed(err)
    torch.save(results, folder / "results.pt")
    verdict = judge.judge(part, judge.read_results(folder / "results.pt"), judge.part_inputs(part, seed),
                          nb.get("FIGURES", folder))
    return verdict if diagnosis else verdict[0]


def both_pass(nb, part, public, folder):
    public()
    assert graded(nb, part, folder) == ""


def both_fail(nb, part, public, words, folder):
    with pytest.raises(AssertionError, match=words):
        public()
    why = graded(nb, part, folder)
    assert re.search(words, why), why


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


def test_networks_as_module_classes_pass_every_check_that_uses_them(nb, tmp_path):
    nb["decoder"], nb["encoder"] = Decoder(), RawEncoder()
    parts = {
        "decoder": lambda: checks.check_decoder(nb["decoder"], "cpu"),
        "encoder": lambda: checks.check_encoder(nb["encoder"], nb["encode"], "cpu"),
        "log_likelihood": lambda: checks.check_log_likelihood(nb["log_likelihood"], nb["decoder"], "cpu"),
        "elbo and loss": lambda: checks.check_elbo(nb["elbo"], nb["loss"], nb["encode"], nb["joint_log_density"],
                                                   nb["log_q"], nb["log_prior"], nb["encoder"], nb["decoder"], "cpu"),
        "train": lambda: checks.check_train(nb["train"], nb["loss"], nb["encoder"], nb["decoder"], nb["CONFIG"],
                                            "cpu"),
    }
    for part, public in parts.items():
        both_pass(nb, part, public, tmp_path)


@pytest.mark.parametrize("network, words", [
    (Decoder(output=torch.sigmoid), "applies a sigmoid to its outputs"),
    (Decoder(hidden_activation=torch.relu), "uses ReLU where tanh is expected"),
    (Decoder(hidden_activation=lambda h: h), "has no tanh"),
    (Decoder(hidden=400), r"expected Linear\(2, 500\), tanh, Linear\(500, 784\).*found parameters of shapes"),
    (nn.Sequential(nn.Linear(2, 500), nn.Tanh(), nn.Linear(500, 784, bias=False)), "4 parameters"),
])
def test_a_wrong_decoder_fails_and_says_what_was_expected(network, words, tmp_path):
    both_fail({"decoder": network}, "decoder", lambda: checks.check_decoder(network, "cpu"), words, tmp_path)


def test_a_wrong_encoder_fails(nb, tmp_path):
    nb["encoder"] = RawEncoder(hidden=400)
    both_fail(nb, "encoder", lambda: checks.check_encoder(nb["encoder"], nb["encode"], "cpu"), "weights of 500x784",
              tmp_path)
    nb["encoder"] = RawEncoder()
    run(nb, "def encode(x):\n    out = encoder(x)\n    return out[:, 2:], out[:, :2]\n")
    both_fail(nb, "encoder", lambda: checks.check_encoder(nb["encoder"], nb["encode"], "cpu"), "mu", tmp_path)


def test_functions_of_the_decoder_are_graded_apart_from_the_decoder(nb, tmp_path):
    """A wrong decoder costs the decoder's points, not those of log_likelihood: grading runs the functions that
    use the networks with the assignment's networks in place."""
    nb["decoder"] = Decoder(output=torch.sigmoid)
    assert "sigmoid" in graded(nb, "decoder", tmp_path)
    assert graded(nb, "log_likelihood", tmp_path) == graded(nb, "joint_log_density", tmp_path) == ""
    assert isinstance(nb["decoder"], Decoder), "the notebook's own decoder is put back"


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


def helper(part, name, function, public, tmp_path, words=None):
    """The public check and grading agree on a helper: both pass, or both fail with words."""
    nb = {name: function, "device": "cpu"}
    if words is None:
        both_pass(nb, part, lambda: public(function, "cpu"), tmp_path)
    else:
        both_fail(nb, part, lambda: public(function, "cpu"), words, tmp_path)


@pytest.mark.parametrize("density", GOOD_BERNOULLI)
def test_other_bernoulli_formulas_pass(density, tmp_path):
    helper("helpers.bernoulli_log_density", "bernoulli_log_density", density, checks.check_bernoulli_log_density,
           tmp_path)


def test_infinite_logits_are_outside_the_contract(tmp_path):
    # bernoulli_log_density promises exact values and gradients for every finite logit (the checks try
    # +-1e4), not at +-inf: the lesson's own x y - log(1 + e^y) is NaN at y = +inf, and it passes both.
    lesson_formula = GOOD_BERNOULLI[1]
    assert torch.isnan(lesson_formula(torch.ones(1, 1), torch.full((1, 1), math.inf))).all()
    helper("helpers.bernoulli_log_density", "bernoulli_log_density", lesson_formula,
           checks.check_bernoulli_log_density, tmp_path)


@pytest.mark.parametrize("density, words", BAD_BERNOULLI)
def test_wrong_bernoulli_densities_fail(density, words, tmp_path):
    helper("helpers.bernoulli_log_density", "bernoulli_log_density", density, checks.check_bernoulli_log_density,
           tmp_path, words)


def test_gaussian_densities_in_other_forms(tmp_path):
    std = ("helpers.std_normal_log_density", "std_normal_log_density")
    diag = ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density")
    helper(*std, lambda z: -0.5 * (z * z).sum(-1) - z.shape[-1] * math.log(2 * math.pi) / 2,
           checks.check_std_normal_log_density, tmp_path)
    helper(*diag, lambda z, mu, ls: (-((z - mu) ** 2) / (2 * torch.exp(2 * ls)) - ls).sum(1) - math.log(2 * math.pi),
           checks.check_diag_gaussian_log_density, tmp_path)
    helper(*std, lambda z: -0.5 * (z ** 2).sum(1), checks.check_std_normal_log_density, tmp_path,
           "std_normal_log_density")
    helper(*diag, lambda z, mu, ls: (-0.5 * ((z - mu) / ls.exp()) ** 2 - 0.5 * math.log(2 * math.pi)).sum(1),
           checks.check_diag_gaussian_log_density, tmp_path, "diag_gaussian_log_density")


def good_sampler(mu, log_sigma, generator=None):
    noise = torch.randn(mu.size(), generator=generator, device=mu.device)
    return noise * log_sigma.exp() + mu


@pytest.mark.parametrize("sampler, words", [
    (lambda mu, ls, generator=None: good_sampler(mu, ls, generator).detach(), "detached"),
    (lambda mu, ls, generator=None: mu + ls * torch.randn(mu.shape, generator=generator), "dz/dlog_sigma"),
    (lambda mu, ls, generator=None: mu + ls.exp() * torch.randn_like(mu), "same seed"),
    (lambda mu, ls, generator=None: mu + ls.exp() * torch.rand(mu.shape, generator=generator), "expected mean"),
])
def test_sample_diag_gaussian(sampler, words, tmp_path):
    part = ("helpers.sample_diag_gaussian", "sample_diag_gaussian")
    helper(*part, good_sampler, checks.check_sample_diag_gaussian, tmp_path)
    helper(*part, sampler, checks.check_sample_diag_gaussian, tmp_path, words)


def test_sample_bernoulli(tmp_path):
    part = ("helpers.sample_bernoulli", "sample_bernoulli", )
    for good in (lambda p, generator=None: (torch.rand(p.shape, generator=generator) <= p).float(),
                 lambda p, generator=None: 1.0 - (torch.rand(p.shape, generator=generator) >= p).float()):
        helper(*part, good, checks.check_sample_bernoulli, tmp_path)
    helper(*part, lambda p, generator=None: (torch.rand(p.shape, generator=generator) > p).float(),
           checks.check_sample_bernoulli, tmp_path, "frequencies")
    helper(*part, lambda p, generator=None: p.clone(), checks.check_sample_bernoulli, tmp_path, "0 or 1")


def test_a_correct_sampler_passes_on_every_secret_seed_and_a_slightly_biased_one_fails():
    # Grading draws new probabilities and a new seed every time: a statistical check must not fail a
    # correct sampler on some of them (a tolerance of 0.01, under 3 standard errors at p = 1/2, failed
    # it on 4 of these 400 seeds). A sampler off by 0.03 between 0 and 1 is caught on each.
    part = "helpers.sample_bernoulli"

    def correct(p, generator=None):
        return (torch.rand(p.shape, generator=generator) < p).float()

    def biased(p, generator=None):
        return (torch.rand(p.shape, generator=generator) < p + 0.03 * ((p > 0) & (p < 1))).float()

    failed = {"correct": 0, "biased": 0}
    for seed in range(400):
        inputs = inputs_for(checks.PARTS[part], seed)
        for name, sampler in (("correct", correct), ("biased", biased)):
            results = checks.PARTS[part].run(inputs, "cpu", sampler)
            failed[name] += bool(judge.judge(part, results, inputs, None)[0])
    assert failed == {"correct": 0, "biased": 400}


def test_log_mean_exp(tmp_path):
    part = ("helpers.log_mean_exp", "log_mean_exp")
    helper(*part, lambda a, dim: torch.logsumexp(a - math.log(a.shape[dim]), dim=dim), checks.check_log_mean_exp,
           tmp_path)
    helper(*part, lambda a, dim: torch.logsumexp(a, dim=dim), checks.check_log_mean_exp, tmp_path, "log_mean_exp")
    helper(*part, lambda a, dim: a.exp().mean(dim).log(), checks.check_log_mean_exp, tmp_path, "finite")


def test_the_stored_expected_values_are_the_references_on_the_public_inputs():
    stored = torch.load(EXPECTED_FILE, weights_only=True)
    fresh = judge.public_expected()
    assert set(stored) == set(fresh) == {name for name, part in checks.PARTS.items() if part.stored}

    def same(a, b, where):
        if isinstance(b, dict):
            assert set(a) == set(b), where
            for key in b:
                same(a[key], b[key], f"{where}/{key}")
        elif isinstance(b, torch.Tensor):
            assert torch.allclose(a.double(), b.double(), atol=1e-5, rtol=1e-6), where
        else:
            assert a == b, where

    same(stored, fresh, "vaekit/checks_expected.pt")


def test_a_secret_seed_draws_other_inputs():
    for name, part in checks.PARTS.items():
        public, secret = inputs_for(part, PUBLIC_SEED), inputs_for(part, SEED)
        assert str(public) == str(inputs_for(part, PUBLIC_SEED)), "the same seed, the same inputs"
        assert not public or str(public) != str(secret), name


# Mistakes students make, each with the words of its diagnosis: the notebook's check and grading's judge
# both say it.
DIAGNOSED = {
    "no normalising constant": ("helpers.std_normal_log_density", "std_normal_log_density",
                                lambda z: -0.5 * (z ** 2).sum(1), "normalising constant"),
    "the batch size in the constant": ("helpers.std_normal_log_density", "std_normal_log_density",
                                       lambda z: -0.5 * (z ** 2).sum(1) - 0.5 * z.shape[0] * math.log(2 * math.pi),
                                       "counts the batch size"),
    "log of sigmoid": ("helpers.bernoulli_log_density", "bernoulli_log_density",
                       lambda x, y: x * torch.log(torch.sigmoid(y)) + (1 - x) * torch.log(1 - torch.sigmoid(y)),
                       r"values are off, all where \|logits\| > 6"),
    "a mean over the latent dimensions": ("helpers.std_normal_log_density", "std_normal_log_density",
                                          lambda z: (-0.5 * z ** 2 - 0.5 * math.log(2 * math.pi)).mean(1),
                                          "mean over the 2 latent dimensions"),
    "mu and log_sigma swapped": ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density",
                                 lambda z, mu, ls: GOOD_GAUSSIAN(z, ls, mu), "mu and log_sigma swapped"),
    "sigma as the variance": ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density",
                              lambda z, mu, ls: GOOD_GAUSSIAN(z, mu, ls / 2), "used as the variance"),
    "sigma multiplying": ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density",
                          lambda z, mu, ls: (-0.5 * ((z - mu) * ls.exp()) ** 2 - ls - 0.5 * math.log(2 * math.pi)).sum(1),
                          "multiplied by sigma"),
    "the square not halved": ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density",
                              lambda z, mu, ls: (-((z - mu) / ls.exp()) ** 2 - ls - 0.5 * math.log(2 * math.pi)).sum(1),
                              r"\(\(z - mu\) / sigma\)\^2 not halved"),
    "no - log sigma": ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density",
                       lambda z, mu, ls: GOOD_GAUSSIAN(z, mu, ls) + ls.sum(1), "log sigma term"),
    "probabilities as logits": ("helpers.bernoulli_log_density", "bernoulli_log_density",
                                lambda x, y: GOOD_BERNOULLI[0](x, torch.sigmoid(y)), "probabilities passed"),
    "x flipped": ("helpers.bernoulli_log_density", "bernoulli_log_density",
                  lambda x, y: GOOD_BERNOULLI[0](1 - x, y), "x and 1 - x swapped"),
    "no softplus in the table": ("helpers.bernoulli_log_likelihood_table", "bernoulli_log_likelihood_table",
                                 lambda x, y: x @ y.T, "does not depend on x"),
    "log-sum-exp for log-mean-exp": ("helpers.log_mean_exp", "log_mean_exp", lambda a, dim: torch.logsumexp(a, dim),
                                     r"- log\(n\) missing"),
    "log-mean-exp that overflows": ("helpers.log_mean_exp", "log_mean_exp",
                                    lambda a, dim: torch.log(torch.mean(torch.exp(a), dim)), "did exp overflow"),
    "not summed over the dimensions": ("helpers.std_normal_log_density", "std_normal_log_density",
                                       lambda z: -0.5 * z ** 2 - 0.5 * math.log(2 * math.pi), "a sum over it missing"),
    "the table transposed": ("helpers.bernoulli_log_likelihood_table", "bernoulli_log_likelihood_table",
                             lambda x, y: (y @ x.T - F.softplus(y).sum(1, keepdim=True)), "the transpose"),
    "the (1 - x) term left out": ("helpers.bernoulli_log_density", "bernoulli_log_density",
                                  lambda x, y: -x * F.softplus(-y), r"\(1 - x\) term missing"),
    "the probability, not its log": ("helpers.bernoulli_log_density", "bernoulli_log_density",
                                     lambda x, y: GOOD_BERNOULLI[0](x, y).exp(), "the probability itself"),
    "the density, not its log": ("helpers.std_normal_log_density", "std_normal_log_density",
                                 lambda z: (-0.5 * (z ** 2).sum(1) - math.log(2 * math.pi)).exp(), "the density itself"),
    "mu and log_sigma unused": ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density",
                                lambda z, mu, ls: GOOD_GAUSSIAN(z, torch.zeros_like(mu), torch.zeros_like(ls)),
                                "mu and log_sigma unused"),
    "the uniforms compared the wrong way": ("helpers.sample_bernoulli", "sample_bernoulli",
                                            lambda p, generator=None: (torch.rand(p.shape, generator=generator) > p).float(),
                                            "1 - p"),
    # Diagnosed by the terms of the formula (compare.fitted_terms), by the constant (named_constant), by the
    # shape (misshapen), or by what a draw says.
    "the sign of the (1 - x) term": ("helpers.bernoulli_log_density", "bernoulli_log_density",
                                     lambda x, y: -x * F.softplus(-y) + (1 - x) * F.softplus(y),
                                     r"the term \(1 - x\) log sigmoid\(-y\) with its sign flipped"),
    "log sigmoid(y) in both terms": ("helpers.bernoulli_log_density", "bernoulli_log_density",
                                     lambda x, y: F.logsigmoid(y),
                                     r"\(1 - x\) log sigmoid\(y\) .* where \(1 - x\) log sigmoid\(-y\) belongs"),
    "the sign 2x - 1 of the logits forgotten": ("helpers.bernoulli_log_density", "bernoulli_log_density",
                                                lambda x, y: -F.softplus(-x * y), "sign 2x - 1 forgotten"),
    "log sigmoid(y) for log(1 - sigmoid(y))": ("helpers.bernoulli_log_density", "bernoulli_log_density",
                                               lambda x, y: x * y + F.logsigmoid(y), "an extra term y"),
    "a helper summed over its pixels": ("helpers.bernoulli_log_density", "bernoulli_log_density",
                                        lambda x, y: (x * y - F.softplus(y)).sum(-1), "sum over dimension 1"),
    "the constant not halved": ("helpers.std_normal_log_density", "std_normal_log_density",
                                lambda z: -(z ** 2).sum(1) / 2 - z.shape[1] * math.log(2 * math.pi),
                                "its constant is -2 log 2pi where -K/2 log 2pi belongs"),
    "the constant of K times 2 pi": ("helpers.std_normal_log_density", "std_normal_log_density",
                                     lambda z: -0.5 * (z ** 2).sum(1) - 0.5 * math.log(2 * math.pi * z.shape[1]),
                                     "its constant is -1/2 log 2pi - 1/2 log K"),
    "the square of the sum": ("helpers.std_normal_log_density", "std_normal_log_density",
                              lambda z: -0.5 * z.sum(1) ** 2 - math.log(2 * math.pi), "square of the sum"),
    "a table of every row with every row": ("helpers.std_normal_log_density", "std_normal_log_density",
                                            lambda z: -0.5 * z @ z.T - math.log(2 * math.pi), "diagonal is right"),
    "the log of the variance": ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density",
                                lambda z, mu, ls: GOOD_GAUSSIAN(z, mu, ls) - ls.sum(1), "- sum log sigma doubled"),
    "divided by sigma": ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density",
                         lambda z, mu, ls: (-(z - mu) ** 2 / (2 * ls.exp()) - ls).sum(1) - math.log(2 * math.pi),
                         r"divided by sigma where sigma\^2 belongs"),
    "sigma for log sigma": ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density",
                            lambda z, mu, ls: GOOD_GAUSSIAN(z, mu, ls) + ls.sum(1) - ls.exp().sum(1),
                            "sigma where log sigma belongs"),
    "exp missing in the square": ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density",
                                  lambda z, mu, ls: (-0.5 * ((z - mu) / ls) ** 2 - ls).sum(1) - math.log(2 * math.pi),
                                  "exp missing"),
    "z + mu": ("helpers.diag_gaussian_log_density", "diag_gaussian_log_density",
               lambda z, mu, ls: GOOD_GAUSSIAN(z, -mu, ls), "z \\+ mu where z - mu belongs"),
    "softplus(-y) in the table": ("helpers.bernoulli_log_likelihood_table", "bernoulli_log_likelihood_table",
                                  lambda x, y: x @ y.T + F.logsigmoid(y).sum(1),
                                  r"softplus\(-y\) where softplus\(y\) belongs"),
    "n for log n": ("helpers.log_mean_exp", "log_mean_exp", lambda a, dim: torch.logsumexp(a, dim) - a.shape[dim],
                    "its constant is -n where - log n belongs"),
    "log of every entry's count": ("helpers.log_mean_exp", "log_mean_exp",
                                   lambda a, dim: torch.logsumexp(a, dim) - math.log(a.numel()), r"a\.numel\(\)"),
    "divided by n": ("helpers.log_mean_exp", "log_mean_exp", lambda a, dim: torch.logsumexp(a, dim) / a.shape[dim],
                     "divided by n"),
    "keepdim where it does not belong": ("helpers.log_mean_exp", "log_mean_exp",
                                         lambda a, dim: torch.logsumexp(a, dim, keepdim=True) - math.log(a.shape[dim]),
                                         "extra dimension of size 1"),
    "n of the last axis": ("helpers.log_mean_exp", "log_mean_exp",
                           lambda a, dim: torch.logsumexp(a, dim) - math.log(a.shape[-1]), "fixed axis"),
    "shifted by the largest of all": ("helpers.log_mean_exp", "log_mean_exp",
                                      lambda a, dim: (a - a.max()).exp().mean(dim).log() + a.max(), "underflow"),
    "one noise for the whole batch": ("helpers.sample_diag_gaussian", "sample_diag_gaussian",
                                      lambda mu, ls, generator=None: mu + ls.exp() * torch.randn(
                                          mu.shape[-1], generator=generator), "one noise shared"),
    "mu scaled by sigma": ("helpers.sample_diag_gaussian", "sample_diag_gaussian",
                           lambda mu, ls, generator=None: (mu + torch.randn(mu.shape, generator=generator)) * ls.exp(),
                           "mu scaled by sigma"),
    "probabilities thresholded": ("helpers.sample_bernoulli", "sample_bernoulli",
                                  lambda p, generator=None: (p > 0.5).float(), "thresholded rather than drawn"),
    "normal draws for uniform ones": ("helpers.sample_bernoulli", "sample_bernoulli",
                                      lambda p, generator=None: (torch.randn(p.shape, generator=generator) < p).float(),
                                      r"normal draws \(randn\)"),
}


def test_a_wrong_result_is_named_by_the_terms_of_its_formula():
    # The fit knows no formula: any terms and extras, any names. It names simple coefficients only, exactly.
    from vaekit.checks.compare import fitted_terms, named_constant
    g = torch.Generator().manual_seed(1)
    a, b, c = (torch.randn(12, generator=g, dtype=torch.float64) for _ in range(3))
    terms, extras = {("a", "A"): a, ("b", "B"): b}, {("c", "C"): c}
    assert fitted_terms(2 * a + b, terms, extras, 1e-6) == ("a-doubled", "it is the formula with the term A doubled")
    assert fitted_terms(a + c, terms, extras, 1e-6) == ("c-for-b", "it is the formula with C where B belongs")
    assert fitted_terms(a + b - 0.5 * c, terms, extras, 1e-6)[0] == "extra-c"
    assert fitted_terms(a + 1.3 * b, terms, extras, 1e-6) is None
    assert fitted_terms(a[:2] + b[:2], {k: v[:2] for k, v in terms.items()}, {}, 1e-6) is None, "as many terms as entries"
    atoms = {"log n": math.log(5), "n": 5}
    assert named_constant(-5, atoms) == "-n" and named_constant(-0.5 * math.log(5) - 5, atoms) == "-1/2 log n - n"
    assert named_constant(-1.2345, atoms) is None


def GOOD_GAUSSIAN(z, mu, log_sigma):
    return (-0.5 * ((z - mu) / log_sigma.exp()) ** 2 - log_sigma - 0.5 * math.log(2 * math.pi)).sum(1)


@pytest.mark.parametrize("mistake", list(DIAGNOSED))
def test_a_mistake_in_a_helper_is_diagnosed(mistake, tmp_path):
    part, name, function, words = DIAGNOSED[mistake]
    public = {"helpers.std_normal_log_density": checks.check_std_normal_log_density,
              "helpers.diag_gaussian_log_density": checks.check_diag_gaussian_log_density,
              "helpers.bernoulli_log_density": checks.check_bernoulli_log_density,
              "helpers.bernoulli_log_likelihood_table": checks.check_likelihood_table,
              "helpers.log_mean_exp": checks.check_log_mean_exp,
              "helpers.sample_bernoulli": checks.check_sample_bernoulli,
              "helpers.sample_diag_gaussian": checks.check_sample_diag_gaussian}[part]
    helper(part, name, function, public, tmp_path, words)


NOTEBOOK_DIAGNOSED = {
    "a mean over pixels": ("log_likelihood", "def log_likelihood(x, z):\n    return bernoulli_log_density(x, decoder(z)).mean(1)",
                           "mean over the 784 pixels"),
    "probabilities as logits": ("log_likelihood", "def log_likelihood(x, z):\n"
                                "    return bernoulli_log_density(x, torch.sigmoid(decoder(z))).sum(1)",
                                "probabilities passed"),
    "the prior subtracted": ("joint_log_density", "def joint_log_density(x, z):\n"
                             "    return log_likelihood(x, z) - log_prior(z)", "prior subtracted"),
    "no prior": ("joint_log_density", "def joint_log_density(x, z):\n    return log_likelihood(x, z)",
                 r"log p\(z\) missing"),
    "no likelihood": ("joint_log_density", "def joint_log_density(x, z):\n    return log_prior(z)",
                      r"log p\(x \| z\) missing"),
    "a mean over pixels in the joint": ("joint_log_density", "def joint_log_density(x, z):\n"
                                        "    return bernoulli_log_density(x, decoder(z)).mean(1) + log_prior(z)",
                                        "averaged over the 784 pixels"),
    "log_prior without the 1/2": ("log_prior", "def log_prior(z):\n    return -(z ** 2).sum(1) - math.log(2 * math.pi)",
                                  "with |z|\\^2 not halved"),
    "log_q's constant left out": ("log_q", "def log_q(z, mu, log_sigma):\n"
                                  "    return (-0.5 * ((z - mu) / log_sigma.exp()) ** 2 - log_sigma).sum(1)",
                                  "normalising constant"),
    "mu and log_sigma swapped in encode": ("encoder", "def encode(x):\n    out = encoder(x)\n    return out[:, 2:], out[:, :2]",
                                           "matches log_sigma, the last two outputs"),
    "every other output in encode": ("encoder", "def encode(x):\n    out = encoder(x)\n    return out[:, ::2], out[:, 1::2]",
                                     "every other output"),
    "the batch size in log_q's constant": ("log_q", "def log_q(z, mu, log_sigma):\n"
                                           "    return (-0.5 * ((z - mu) / log_sigma.exp()) ** 2 - log_sigma).sum(1) "
                                           "- 0.5 * z.shape[0] * math.log(2 * math.pi)", "counts the batch size"),
    "log_prior of N(0, e^2)": ("log_prior", "def log_prior(z):\n"
                               "    return diag_gaussian_log_density(z, torch.zeros_like(z), torch.ones_like(z))",
                               r"N\(0, e\^2 I\)"),
    "log_q of sigma": ("log_q", "def log_q(z, mu, log_sigma):\n"
                       "    return diag_gaussian_log_density(z, mu, log_sigma.exp())", "sigma where log_sigma belongs"),
    "log_q of the log variance": ("log_q", "def log_q(z, mu, log_sigma):\n"
                                  "    return diag_gaussian_log_density(z, mu, 2 * log_sigma)", "log of the variance"),
    "log_likelihood summed over the batch": ("log_likelihood", "def log_likelihood(x, z):\n"
                                             "    return bernoulli_log_density(x, decoder(z)).sum(dim=0)",
                                             "sum over dimension 0 .* of the values of each entry"),
    "log probabilities as logits": ("log_likelihood", "def log_likelihood(x, z):\n"
                                    "    return bernoulli_log_density(x, torch.nn.functional.logsigmoid(decoder(z))).sum(1)",
                                    "log probabilities passed"),
    "the joint as a product": ("joint_log_density", "def joint_log_density(x, z):\n"
                               "    return log_likelihood(x, z) * log_prior(z)", "product of the logs"),
    "the joint through exp": ("joint_log_density", "def joint_log_density(x, z):\n"
                              "    return torch.log(torch.exp(log_likelihood(x, z) + log_prior(z)))", "underflow"),
    "the prior in every pixel": ("joint_log_density", "def joint_log_density(x, z):\n"
                                 "    return (bernoulli_log_density(x, decoder(z)) + log_prior(z)[:, None]).sum(1)",
                                 r"log p\(z\) times 784"),
    "encode returns sigma": ("encoder", "def encode(x):\n    mu, log_sigma = encoder(x).chunk(2, dim=1)\n"
                             "    return mu, torch.exp(log_sigma)", "already are log sigma"),
    "encode split along the batch": ("encoder", "def encode(x):\n    return encoder(x).split(len(x) // 2)",
                                     "split along dimension 0"),
    "dropout in the decoder": ("decoder", "decoder = nn.Sequential(nn.Linear(2, 500), nn.Tanh(), nn.Dropout(0.1), "
                               "nn.Linear(500, 784))", "dropout"),
    "a tanh on the decoder's output": ("decoder", "decoder = nn.Sequential(nn.Linear(2, 500), nn.Tanh(), "
                                       "nn.Linear(500, 784), nn.Tanh())", "applies a tanh"),
}


def test_readme_shows_a_diagnosis_as_the_check_prints_it(nb):
    run(nb, NOTEBOOK_DIAGNOSED["log_q's constant left out"][1])
    with pytest.raises(AssertionError) as failure:
        checks.check_log_q(nb["log_q"], "cpu")
    assert f"AssertionError: {failure.value}\n" in (ROOT / "README.md").read_text()


@pytest.mark.parametrize("mistake", list(NOTEBOOK_DIAGNOSED))
def test_a_mistake_in_the_notebook_is_diagnosed(nb, mistake, tmp_path):
    part, source, words = NOTEBOOK_DIAGNOSED[mistake]
    run(nb, source)
    public = {"log_likelihood": lambda: checks.check_log_likelihood(nb["log_likelihood"], nb["decoder"], "cpu"),
              "joint_log_density": lambda: checks.check_joint_log_density(nb["joint_log_density"], nb["decoder"], "cpu"),
              "log_prior": lambda: checks.check_log_prior(nb["log_prior"], "cpu"),
              "log_q": lambda: checks.check_log_q(nb["log_q"], "cpu"),
              "encoder": lambda: checks.check_encoder(nb["encoder"], nb["encode"], "cpu"),
              "decoder": lambda: checks.check_decoder(nb["decoder"], "cpu")}[part]
    both_fail(nb, part, public, words, tmp_path)


IDENTIFIED = {  # mistakes, and the identifier of their cause, the same in another style or on another seed
    "log_q/missing-constant": [NOTEBOOK_DIAGNOSED["log_q's constant left out"][1],
                               "def log_q(z, mu, log_sigma):\n    s = log_sigma.exp()\n"
                               "    return -(((z - mu) ** 2 / (2 * s ** 2)) + torch.log(s)).sum(dim=1)"],
    "log_q/constant-counts-batch": [NOTEBOOK_DIAGNOSED["the batch size in log_q's constant"][1]],
    "log_q/raised-NotImplementedError": ["def log_q(z, mu, log_sigma):\n    raise NotImplementedError()"],
    "log_q/raised-ValueError": ["def log_q(z, mu, log_sigma):\n    return diag_gaussian_log_density(z, mu, "
                                "log_sigma.unsqueeze(0))"],
    "log_q/mu-log-sigma-swapped": ["def log_q(z, mu, log_sigma):\n"
                                   "    return diag_gaussian_log_density(z, log_sigma, mu)"],
    "log_q/no-diagnosis": ["def log_q(z, mu, log_sigma):\n    return (z * mu * log_sigma).sum(1)"],
}


@pytest.mark.parametrize("identifier", list(IDENTIFIED))
def test_a_failure_carries_the_identifier_of_its_cause_whatever_its_numbers(nb, identifier, tmp_path):
    for source in IDENTIFIED[identifier]:
        run(nb, source)
        for seed in (SEED, SEED + 1):
            why, found = graded(nb, "log_q", tmp_path, diagnosis=True, seed=seed)
            assert why and found == identifier, why
    run(nb, cell_source("log-q"))
    assert graded(nb, "log_q", tmp_path, diagnosis=True) == ("", "")


CARRIED = ("log_prior", "log_likelihood", "joint_log_density", "log_q", "elbo and loss", "train")


def judged_all(nb, folder, policy, parts=CARRIED):
    """judge.judge_all's verdicts on the results the probe saves for parts, run in the namespace nb."""
    for part in parts:
        try:
            results = grading_probe.run_part(part, nb, inputs_for(checks.PARTS[part], SEED))
        except Exception as err:
            results = grading_probe.failed(err)
        torch.save(results, grading_probe.result_file(folder, part))
    return judge.judge_all(folder, folder, SEED, policy)


@pytest.mark.parametrize("policy", [CREDIT, WITHHOLD])
def test_an_error_is_carried_forward_and_the_policy_decides_the_later_parts(nb, policy, tmp_path):
    run(nb, NOTEBOOK_DIAGNOSED["probabilities as logits"][1])
    verdicts = judged_all(nb, tmp_path, policy)
    assert verdicts["log_likelihood"]["diagnosis"] == "log_likelihood/probabilities-as-logits"
    assert verdicts["log_prior"] == verdicts["log_q"] == {"reason": "", "diagnosis": "", "inherits": ""}
    for part in ("joint_log_density", "elbo and loss", "train"):  # each uses log_likelihood, rightly
        verdict = verdicts[part]
        assert verdict["inherits"] == "log_likelihood", verdict
        if policy == CREDIT:
            assert verdict["reason"] == "" and verdict["diagnosis"] == "", verdict
        else:
            assert verdict["reason"].startswith("right given log_likelihood as written, which fails"), verdict
            assert verdict["diagnosis"] == f"{part_id(part)}/inherits-log_likelihood"


def test_a_later_part_with_a_mistake_of_its_own_is_not_credited_and_hears_of_the_earlier_one(nb, tmp_path):
    run(nb, NOTEBOOK_DIAGNOSED["probabilities as logits"][1])
    run(nb, ELBO_MISTAKES["no log q"][0])
    verdict = judged_all(nb, tmp_path, CREDIT)["elbo and loss"]
    assert verdict["inherits"] == "" and verdict["diagnosis"] == "elbo_and_loss/q-missing", verdict
    assert verdict["reason"].endswith("(taking log_likelihood as written, which fails too)")


def test_train_on_a_failing_elbo_names_it(nb, tmp_path):
    run(nb, ELBO_MISTAKES["detached draw (value right, gradients wrong)"][0])
    verdicts = judged_all(nb, tmp_path, CREDIT, parts=("elbo and loss", "train"))
    assert verdicts["elbo and loss"]["diagnosis"] == "elbo_and_loss/wrong-gradient"
    assert verdicts["train"]["reason"].endswith("(elbo and loss fails too: if this part uses it, mend that first)")
    assert verdicts["train"]["inherits"] == ""


def test_the_solution_inherits_nothing(nb, tmp_path):
    assert all(verdict == {"reason": "", "diagnosis": "", "inherits": ""}
               for verdict in judged_all(nb, tmp_path, WITHHOLD).values())


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
    "log q short of its normalising constant": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    log_q_z = (-0.5 * ((z - mu) / log_sigma.exp()) ** 2 - log_sigma).sum(1)
    return (joint_log_density(x, z) - log_q_z).mean()
""", "elbo\\(x\\): expected.*log q\\(z \\| x\\) short of its normalising constant"),
    "summed over the batch": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return (joint_log_density(x, z) - log_q(z, mu, log_sigma)).sum()
""", "elbo\\(x\\): expected.*the sum over the batch"),
    "no log q": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return joint_log_density(x, z).mean()
""", "elbo\\(x\\): expected.*is - log q\\(z \\| x\\) missing"),
    "no prior term": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return (log_likelihood(x, z) - log_q(z, mu, log_sigma)).mean()
""", "elbo\\(x\\): expected.*is log p\\(z\\) missing"),
    "the prior in place of q": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return (joint_log_density(x, z) - log_prior(z)).mean()
""", "elbo\\(x\\): expected.*the prior in place of q"),
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
    "the KL term in closed form": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    kl = (0.5 * (mu ** 2 + torch.exp(2 * log_sigma) - 1) - log_sigma).sum(1)
    return (log_likelihood(x, z) - kl).mean()
""", "elbo\\(x\\): expected.*the KL in closed form"),
    "the loss returned by elbo": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return (log_q(z, mu, log_sigma) - joint_log_density(x, z)).mean()
def loss(x):
    return elbo(x)
""", "elbo\\(x\\): expected.*the value negated"),
    "log q summed, the rest averaged": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return joint_log_density(x, z).mean() - log_q(z, mu, log_sigma).sum()
""", "elbo\\(x\\): expected.*log q\\(z \\| x\\) summed over the batch of 16 digits, the rest averaged"),
    "log q at mu": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return (joint_log_density(x, z) - log_q(mu, mu, log_sigma)).mean()
""", "elbo\\(x\\): expected.*log q at the mean mu"),
    "per pixel": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    return torch.mean(joint_log_density(x, z) - log_q(z, mu, log_sigma)) / 784
""", "elbo\\(x\\): expected.*divided by 784"),
    "the closed-form KL added": ("""
def elbo(x):
    mu, log_sigma = encode(x)
    z = sample_diag_gaussian(mu, log_sigma)
    kl = 0.5 * (mu ** 2 + log_sigma.exp() ** 2 - 1 - 2 * log_sigma).sum(1)
    return (log_likelihood(x, z) + kl).mean()
""", "elbo\\(x\\): expected.*the KL in closed form and added"),
    "the loss divided by the batch size": ("""
def loss(x):
    return -elbo(x) / len(x)
""", "loss\\(x\\): expected.*divided by the batch size"),
}


def public_elbo(nb):
    return lambda: checks.check_elbo(nb["elbo"], nb["loss"], nb["encode"], nb["joint_log_density"], nb["log_q"],
                                     nb["log_prior"], nb["encoder"], nb["decoder"], "cpu")


@pytest.mark.parametrize("style", list(ELBO_STYLES))
def test_elbo_in_other_styles_passes(nb, style, tmp_path):
    run(nb, ELBO_STYLES[style])
    both_pass(nb, "elbo and loss", public_elbo(nb), tmp_path)


@pytest.mark.parametrize("mistake", list(ELBO_MISTAKES))
def test_elbo_mistakes_fail(nb, mistake, tmp_path):
    source, words = ELBO_MISTAKES[mistake]
    run(nb, source)
    before = [p.detach().clone() for net in (nb["encoder"], nb["decoder"]) for p in net.parameters()]
    both_fail(nb, "elbo and loss", public_elbo(nb), words, tmp_path)
    for net in (nb["encoder"], nb["decoder"]):
        assert all(p.grad is None for p in net.parameters()), "the check must leave no gradients behind"
    after = [p.detach() for net in (nb["encoder"], nb["decoder"]) for p in net.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after)), "the check must put the weights back"


SOLUTION_STEP = """            batch_loss = loss(batch)
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
"""
TRAIN_STYLES = {
    "zero_grad after the step": """            batch_loss = loss(batch)
            batch_loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
""",
    "gradients by autograd.grad": """            params = [*encoder.parameters(), *decoder.parameters()]
            batch_loss = loss(batch)
            for p, g in zip(params, torch.autograd.grad(batch_loss, params)):
                p.grad = g
            optimizer.step()
""",
}
TRAIN_MISTAKES = {  # the step, and the words that name the mistake
    "wrong sign": ("""            batch_loss = loss(batch)
            optimizer.zero_grad()
            (-batch_loss).backward()
            optimizer.step()
""", "sign of the loss"),
    "gradients pile up": ("""            batch_loss = loss(batch)
            batch_loss.backward()
            optimizer.step()
""", "piled up"),
    "no update": ("""            batch_loss = loss(batch)
            optimizer.zero_grad()
            batch_loss.backward()
""", r"optimizer.step\(\) called"),
    "step before backward": ("""            batch_loss = loss(batch)
            optimizer.zero_grad()
            optimizer.step()
            batch_loss.backward()
""", r"backward\(\) called before"),
    "loss computed twice": ("""            batch_loss = loss(batch)
            optimizer.zero_grad()
            loss(batch).backward()
            optimizer.step()
""", "one evaluation of the loss per mini-batch"),
    "gradients cleared before the step": ("""            batch_loss = loss(batch)
            batch_loss.backward()
            optimizer.zero_grad()
            optimizer.step()
""", r"no gradient at the step"),
    "the loss summed over the batch": ("""            batch_loss = loss(batch) * batch.shape[0]
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
""", "the sum over the batch of 200 digits"),
    "the first batch at every step": ("""            batch_loss = loss(x_train[:len(batch)])
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
""", "the same batch at two steps"),
}
# Mistakes of the step that Adam computed by hand tells apart, which grading does (the notebook's check does not).
GRADED_TRAIN_MISTAKES = {
    "a new optimizer at every step": ("""            optimizer = torch.optim.Adam(optimizer.param_groups[0]["params"], lr=config["lr"])
            batch_loss = loss(batch)
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
""", "new optimizer made at every step"),
    "the learning rate hard-coded": ("""            optimizer.param_groups[0]["lr"] = 1e-4
            batch_loss = loss(batch)
            optimizer.zero_grad()
            batch_loss.backward()
            optimizer.step()
""", "learning rate 0.1 times config"),
}


@pytest.mark.parametrize("mistake", list(GRADED_TRAIN_MISTAKES))
def test_training_mistakes_that_grading_names(nb, mistake, tmp_path):
    step, words = GRADED_TRAIN_MISTAKES[mistake]
    train_with_step(nb, step)
    why = graded(nb, "train", tmp_path)
    assert re.search(words, why), why


# Errors the student's code raises, and the likely cause grading names beside them (judge.RAISED; the
# helpers' own argument checks): (part, the code, the words).
RAISED = {
    "keepdim missing": ("helpers.log_mean_exp", {"log_mean_exp": lambda a, dim: (
        (a - a.max(dim).values).exp().mean(dim).log() + a.max(dim).values)}, "keepdim=True missing or misplaced"),
    "keepdim misplaced": ("helpers.bernoulli_log_likelihood_table", {"bernoulli_log_likelihood_table": lambda x, y: (
        x @ y.T - F.softplus(y).sum(1, keepdim=True))}, "keepdim=True missing or misplaced"),
    "x and logits swapped": ("log_likelihood", "def log_likelihood(x, z):\n"
                             "    return bernoulli_log_density(decoder(z), x).sum(1)", "x and logits swapped"),
    "a loss without gradients": ("train", SOLUTION_STEP.replace("batch_loss = loss(batch)",
                                                                "batch_loss = loss(batch).detach()"),
                                 r"computed under torch.no_grad\(\), or detached"),
}


@pytest.mark.parametrize("mistake", list(RAISED))
def test_an_error_raised_is_told_its_likely_cause(nb, mistake, tmp_path):
    part, code, words = RAISED[mistake]
    if isinstance(code, dict):
        nb = {**code, "device": "cpu"}
    elif part == "train":
        train_with_step(nb, code)
    else:
        run(nb, code)
    why = graded(nb, part, tmp_path)
    assert re.search(words, why), why


def train_with_step(nb, step):
    source = cell_source("train-def")
    assert SOLUTION_STEP in source
    run(nb, source.replace(SOLUTION_STEP, step))


def public_train(nb):
    return lambda: checks.check_train(nb["train"], nb["loss"], nb["encoder"], nb["decoder"], nb["CONFIG"], "cpu")


@pytest.mark.parametrize("style", list(TRAIN_STYLES))
def test_training_steps_in_other_styles_pass(nb, style, tmp_path):
    train_with_step(nb, TRAIN_STYLES[style])
    both_pass(nb, "train", public_train(nb), tmp_path)


@pytest.mark.parametrize("mistake", list(TRAIN_MISTAKES))
def test_training_mistakes_fail_and_the_weights_are_put_back(nb, mistake, tmp_path):
    before = [p.detach().clone() for net in (nb["encoder"], nb["decoder"]) for p in net.parameters()]
    step, words = TRAIN_MISTAKES[mistake]
    train_with_step(nb, step)
    both_fail(nb, "train", public_train(nb), "train: .*" + words, tmp_path)
    after = [p.detach() for net in (nb["encoder"], nb["decoder"]) for p in net.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after))


# --------------------------------------------------------------------------
# The four visualizations
# --------------------------------------------------------------------------

VIZ_CHECKS = {
    "scatter": lambda nb: checks.check_scatter(nb["mu_train"], nb["encode"], nb["x_train"],
                                               nb["FIGURES"] / "latent_scatter.png"),
    "prior-samples": lambda nb: checks.check_prior_samples(nb["z_prior"], nb["prior_means"], nb["prior_samples"],
                                                           nb["decoder"], nb["FIGURES"] / "prior_samples.png"),
    "reconstructions": lambda nb: checks.check_reconstructions(
        nb["x_four"], nb["z_four"], nb["recon_means"], nb["recon_samples"], nb["encode"], nb["decoder"],
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
    "scatter in the order of the labels": ("scatter", "mu_train, _ = encode(x_train)",
                                           "mu_train, _ = encode(x_train[y_train.argsort(stable=True)])",
                                           "another order"),
    "scatter of log sigma": ("scatter", "mu_train, _ = encode(x_train)", "_, mu_train = encode(x_train)",
                             "mu_train.*log_sigma, not its mu"),
    "scatter of sampled codes": ("scatter", "mu_train, _ = encode(x_train)",
                                 "mu_train = sample_diag_gaussian(*encode(x_train))", "mu_train.*codes drawn from q"),
    "prior means at the wrong temperature": ("prior-samples", "prior_means = torch.sigmoid(decoder(z_prior))",
                                             "prior_means = torch.sigmoid(decoder(z_prior) / 2)", "prior_means"),
    "samples of one code repeated": ("prior-samples",
                                     "torch.stack([sample_bernoulli(prior_means) for _ in range(3)], dim=1)",
                                     "sample_bernoulli(prior_means).unsqueeze(1).repeat(1, 3, 1)", "independent"),
    "samples thresholded, not drawn": ("prior-samples",
                                       "torch.stack([sample_bernoulli(prior_means) for _ in range(3)], dim=1)",
                                       "(prior_means > 0.5).float().unsqueeze(1).repeat(1, 3, 1)", "prior_samples"),
    "reconstructions thresholded, not drawn": ("reconstructions",
                                               "recon_samples = sample_bernoulli(recon_means.view(8, DATA_DIM))"
                                               ".view(4, 2, DATA_DIM)",
                                               "recon_samples = (recon_means > 0.5).float()",
                                               "recon_samples.*thresholded rather than drawn"),
    "codes at mu plus and minus sigma": ("reconstructions",
                                         "torch.stack([sample_diag_gaussian(mu_four, log_sigma_four) for _ in range(2)], "
                                         "dim=1)",
                                         "torch.stack([mu_four + log_sigma_four.exp(), mu_four - log_sigma_four.exp()], "
                                         "dim=1)", "z_four.*values repeating others"),
    "prior codes on a grid": ("prior-samples", "z_prior = torch.randn(10, LATENT_DIM, device=device)",
                              "z_prior = torch.linspace(-2, 2, 20, device=device).view(10, LATENT_DIM)",
                              "z_prior.*evenly spaced"),
    "codes are the means, not draws": ("reconstructions",
                                       "torch.stack([sample_diag_gaussian(mu_four, log_sigma_four) for _ in range(2)], dim=1)",
                                       "torch.stack([mu_four, mu_four], dim=1)", "z_four"),
    "means decoded from other codes": ("reconstructions", "recon_means = torch.sigmoid(decoder(z_four.view(8, LATENT_DIM)))",
                                       "recon_means = torch.sigmoid(decoder(torch.randn(8, LATENT_DIM)))", "recon_means"),
    "lattice upside down": ("lattice", "ticks.flip(0), ticks", "ticks, ticks", "lattice_image.*upside down"),
    "lattice transposed": ("lattice", ".permute(0, 2, 1, 3)", ".permute(1, 2, 0, 3)", "lattice_image.*transposed"),
    "prior means as logits": ("prior-samples", "prior_means = torch.sigmoid(decoder(z_prior))",
                              "prior_means = decoder(z_prior).clamp(0, 1)", "prior_means"),
    "lattice PNG of 8 x 8 inches": ("lattice", 'save_image(Image.fromarray((lattice_image * 255).round().byte().numpy()), '
                                    'FIGURES / "latent_lattice.png")',
                                    'plt.imsave(FIGURES / "latent_lattice.png", lattice_image[::2, ::2], cmap="gray")',
                                    "1400 x 1400"),
    "scatter of the encoder's outputs": ("scatter", "mu_train, _ = encode(x_train)", "mu_train = encoder(x_train)",
                                         "the encoder's 4 outputs"),
    "scatter of every other output": ("scatter", "mu_train, _ = encode(x_train)",
                                      "mu_train = encoder(x_train)[:, 0::2]", "every other output"),
    "prior codes from a uniform": ("prior-samples", "z_prior = torch.randn(10, LATENT_DIM, device=device)",
                                   "z_prior = torch.rand(10, LATENT_DIM, device=device)", r"uniform draws \(torch.rand\)"),
    "codes drawn with sigma as log sigma": ("reconstructions", "sample_diag_gaussian(mu_four, log_sigma_four)",
                                            "sample_diag_gaussian(mu_four, log_sigma_four.exp())",
                                            "z_four.*sigma passed to the sampler where log_sigma belongs"),
    "codes stacked on the first dimension": ("reconstructions", "for _ in range(2)], dim=1)", "for _ in range(2)])",
                                             "the same dimensions in another order"),
    "samples of the means repeated then viewed": ("prior-samples",
                                                  "torch.stack([sample_bernoulli(prior_means) for _ in range(3)], dim=1)",
                                                  "sample_bernoulli(prior_means.repeat(3, 1)).view(10, 3, -1)",
                                                  "prior_samples.*mixes the codes"),
    "lattice of logits": ("lattice", "lattice_means = torch.sigmoid(decoder(z_lattice)).cpu()",
                          "lattice_means = decoder(z_lattice).cpu()", "is the sigmoid missing"),
    "lattice PNG stretched": ("lattice", 'save_image(Image.fromarray((lattice_image * 255).round().byte().numpy()), '
                              'FIGURES / "latent_lattice.png")',
                              'plt.imsave(FIGURES / "latent_lattice.png", lattice_image.numpy(), cmap="gray")',
                              "vmin=0, vmax=1"),
    "lattice PNG not scaled": ("lattice", "(lattice_image * 255).round().byte()", "lattice_image.byte()",
                               "not multiplied by 255"),
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


VIZ_PARTS = {"scatter": "scatter (5.1)", "prior-samples": "prior samples (5.2)",
             "reconstructions": "reconstructions (5.3)", "lattice": "lattice (5.4)"}


def graded_viz(nb, cells, tmp_path, replace=None, source=None):
    """Why grading fails each visualization cell's part: the cells run again on the networks holding
    the seed's weights (as grading runs them), then judged; the trained weights are put back."""
    grading_probe.use_weights(nb, SEED)
    try:
        run_viz(nb, cells, replace, source)
        return {cell: graded(nb, VIZ_PARTS[cell], tmp_path) for cell in cells}
    finally:
        grading_probe.restore_weights()


def test_the_solution_visualizations_pass(nb, tmp_path):
    run_viz(nb, list(VIZ_CHECKS))
    for check in VIZ_CHECKS.values():
        check(nb)
    assert graded_viz(nb, list(VIZ_CHECKS), tmp_path) == {cell: "" for cell in VIZ_CHECKS}


@pytest.mark.parametrize("cell", list(VIZ_STYLES))
def test_visualizations_in_other_styles_pass(nb, cell, tmp_path):
    run_viz(nb, [cell], source=VIZ_STYLES[cell])
    VIZ_CHECKS[cell](nb)
    assert graded_viz(nb, [cell], tmp_path, source=VIZ_STYLES[cell]) == {cell: ""}


@pytest.mark.parametrize("mistake", list(VIZ_MISTAKES))
def test_visualization_mistakes_fail(nb, mistake, tmp_path):
    cell, old, new, words = VIZ_MISTAKES[mistake]
    run_viz(nb, [cell], replace=(cell, old, new))
    with pytest.raises(AssertionError, match=words):
        VIZ_CHECKS[cell](nb)
    why = graded_viz(nb, [cell], tmp_path, replace=(cell, old, new))[cell]
    assert re.search(words, why), why


def test_the_bounds_check_allows_monte_carlo_noise_but_not_bounds_out_of_order(capsys):
    exact = torch.full((50,), -160.0)

    def bounds(elbo, *iwae):
        return {"elbo": torch.full((50,), elbo), "iwae": {k: torch.full((50,), v) for k, v in zip((1, 10, 100), iwae)}}

    # The means a correct model graded on 50 digits gave: IWAE_100 0.01 below IWAE_10.
    checks.check_bounds(bounds(-168.0, -167.78, -167.31, -167.32), exact)
    assert "IWAE_k rises with k, on average: ok" in capsys.readouterr().out
    with pytest.raises(AssertionError, match="rise with k"):
        checks.check_bounds(bounds(-168.0, -167.0, -167.5, -168.0), exact)
    with pytest.raises(AssertionError, match="<= exact log p"):
        checks.check_bounds(bounds(-168.0, -167.0, -164.0, -159.0), exact)
