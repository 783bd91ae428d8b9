"""The checks of the model's parts in the notebook: the data, the prior, the networks, the
likelihood, the joint density and log q.

The functions are compared with values the solution computed on the public
inputs (checks_expected.pt); the networks are run holding the inputs' weights,
put into whatever parameters of the right shapes they have.
"""
import torch

from vaekit.checks.compare import describe, expect, expect_close, expect_tensor, failure, max_difference
from vaekit.checks.densities import codes_inputs, gaussian_comparison, gaussian_inputs, normal, run_gaussian
from vaekit.checks.networks import TwoLayers, Weights, on
from vaekit.checks.part import (DATA_DIM, DECODER_SIZES, ENCODER_SIZES, LATENT_DIM, Part, binary_digits,
                                network_weights, plain, public_check, report)


def check_data(x_train, x_test, first_batch):
    for name, x, n in (("x_train", x_train, 60000), ("x_test", x_test, 10000)):
        expect(tuple(x.shape) == (n, DATA_DIM) and x.dtype == torch.float32,
               f"{name}: expected a float32 tensor of shape ({n}, {DATA_DIM}), found {x.dtype} {tuple(x.shape)}",
               "wrong-shape-or-dtype")
        expect(bool(((x == 0) | (x == 1)).all()), f"{name}: expected every pixel to be 0 or 1", "not-binary")
    expect(tuple(first_batch.shape) == (200, DATA_DIM),
           f"first_batch: expected shape (200, {DATA_DIM}), found {tuple(first_batch.shape)}", "wrong-batch-shape")
    share = x_train.mean().item()
    expect(0.12 < share < 0.14, f"x_train: expected about 13 % of pixels on (MNIST > 0.5), found {share:.1%}",
           "wrong-threshold")
    report([f"training set: {tuple(x_train.shape)} {x_train.dtype}; test set: {tuple(x_test.shape)}",
           f"one mini-batch: {tuple(first_batch.shape)}",
           "every pixel is 0 or 1, and about 13 % are on: ok"])


# ---------------------------------------------------------------------------
# log_prior
# ---------------------------------------------------------------------------

def run_log_prior(inputs, device, log_prior):
    return {"out": plain(log_prior(inputs["z"].to(device)))}


def compare_log_prior(inputs, results, expected, figure=None):
    expect_close(results["out"], expected["out"], "log_prior(z)", atol=1e-4, hints=expected)
    return [f"log_prior: {tuple(results['out'].shape)}, matches N(0, I): ok"]


LOG_PRIOR = Part("log_prior", ("log_prior",), codes_inputs, run_log_prior, compare_log_prior, stored=True)


def check_log_prior(log_prior, device):
    public_check(LOG_PRIOR, device, log_prior)


# ---------------------------------------------------------------------------
# The networks: decoder and encoder
# ---------------------------------------------------------------------------

NETWORK_MISTAKES = {  # the expected values of these variants are compared when the output is wrong
    "sigmoid_output": "applies a sigmoid to its outputs; they must be the raw outputs of the last Linear "
                      "(logits), no output activation",
    "relu": "uses ReLU where tanh is expected",
    "sigmoid_hidden": "uses a sigmoid where tanh is expected",
    "no_hidden": "has no tanh between its two layers",
    "tanh_output": "applies a tanh to its outputs; they must be the raw outputs of the last Linear (logits), no "
                   "output activation",
}


def compare_network(name, sizes, found, again, expected):
    """found, again: the network's outputs on the same inputs, twice; expected: {"out", and each of
    NETWORK_MISTAKES}."""
    architecture = f"Linear({sizes[0]}, {sizes[1]}), tanh, Linear({sizes[1]}, {sizes[2]})"
    expect_tensor(found, f"{name} outputs", expected["out"].shape)
    expect(isinstance(again, torch.Tensor) and torch.allclose(found, again, atol=1e-5, rtol=1e-5),  # GPU sums may vary
           f"{name}: expected the same outputs for the same inputs, found other outputs the second time: dropout, "
           "or another random layer, in the network?", "random-outputs")
    if not torch.allclose(found.double(), expected["out"].double(), atol=1e-4, rtol=1e-4):
        cause, diagnosis = next(
            ((key.replace("_", "-"), text) for key, text in NETWORK_MISTAKES.items()
             if torch.allclose(found.double(), expected[key].double(), atol=1e-4, rtol=1e-4)),
            ("no-diagnosis", f"computes something else (largest difference "
                             f"{max_difference(found, expected['out']):.3g})"))
        raise failure(f"{name}: expected {architecture} with no output activation, i.e. "
                      f"W2 tanh(W1 u + b1) + b2 from its parameters; it {diagnosis}", cause)
    return architecture


def decoder_inputs(g):
    return {"z": normal(g, 5, LATENT_DIM), "decoder": network_weights(g, DECODER_SIZES)}


def run_decoder(inputs, device, decoder):
    layers = TwoLayers(decoder, "decoder", DECODER_SIZES)
    with Weights([(layers, inputs["decoder"])]), torch.no_grad():
        return {"out": plain(decoder(inputs["z"].to(device))), "again": plain(decoder(inputs["z"].to(device)))}


def compare_decoder(inputs, results, expected, figure=None):
    architecture = compare_network("decoder", DECODER_SIZES, results["out"], results["again"], expected)
    return [f"decoder: {architecture}, found by shape", "outputs are logits W2 tanh(W1 z + b1) + b2: ok"]


DECODER = Part("decoder", ("decoder",), decoder_inputs, run_decoder, compare_decoder, stored=True)


def check_decoder(decoder, device):
    public_check(DECODER, device, decoder)


def encoder_inputs(g):
    return {"x": binary_digits(g, 8), "encoder": network_weights(g, ENCODER_SIZES)}


def run_encoder(inputs, device, encoder, encode):
    layers = TwoLayers(encoder, "encoder", ENCODER_SIZES)
    x = inputs["x"].to(device)
    with Weights([(layers, inputs["encoder"])]), torch.no_grad():
        return {"out": plain(encoder(x)), "again": plain(encoder(x)), "pair": plain(encode(x))}


def compare_encoder(inputs, results, expected, figure=None):
    architecture = compare_network("encoder", ENCODER_SIZES, results["out"], results["again"], expected)
    pair = results["pair"]
    expect(isinstance(pair, list) and len(pair) == 2,
           f"encode(x): expected a pair (mu, log_sigma), found {describe(pair)}", "not-a-pair")
    mu, log_sigma = expected["mu"], expected["log_sigma"]
    # Outputs 0 and 2, and 1 and 3: the four outputs split as every other one.
    even, odd = torch.stack([mu[:, 0], log_sigma[:, 0]], dim=1), torch.stack([mu[:, 1], log_sigma[:, 1]], dim=1)
    half = len(expected["out"]) // 2
    expect_close(pair[0], mu, "encode(x)[0], mu (the first two outputs)", atol=1e-4,
                 hints={"mistakes": {("mu-is-log-sigma", "log_sigma, the last two outputs"): log_sigma,
                                     ("split-along-batch", "the first half of the rows of the outputs: split along "
                                                           "dimension 0, the batch, where dimension 1 belongs?"):
                                         expected["out"][:half],
                                     ("every-other-output", "outputs 0 and 2: every other output, where mu is the "
                                                            "first two"): even}})
    expect_close(pair[1], log_sigma, "encode(x)[1], log_sigma (the last two outputs)", atol=1e-4,
                 hints={"mistakes": {("log-sigma-is-mu", "mu, the first two outputs"): mu,
                                     ("sigma-not-log-sigma", "exp of the last two outputs, sigma: they already are "
                                                             "log sigma"): log_sigma.exp(),
                                     ("log-of-log-sigma", "the log of the last two outputs: they already are log "
                                                          "sigma"): log_sigma.log(),
                                     ("every-other-output", "outputs 1 and 3: every other output, where log_sigma is "
                                                            "the last two"): odd}})
    return [f"encoder: {architecture}, found by shape; outputs W2 tanh(W1 x + b1) + b2: ok",
            f"encode: mu {tuple(pair[0].shape)} = first two outputs, log_sigma {tuple(pair[1].shape)} = last two: ok"]


ENCODER = Part("encoder", ("encoder", "encode"), encoder_inputs, run_encoder, compare_encoder, stored=True)


def check_encoder(encoder, encode, device):
    public_check(ENCODER, device, encoder, encode)


# ---------------------------------------------------------------------------
# log_likelihood and joint_log_density
# ---------------------------------------------------------------------------

def likelihood_inputs(g):
    return {"x": binary_digits(g, 8), "z": normal(g, 8, LATENT_DIM), "decoder": network_weights(g, DECODER_SIZES)}


def run_likelihood(inputs, device, function, decoder):
    """function(x, z) (log_likelihood or joint_log_density) with the decoder holding the given weights."""
    layers = TwoLayers(decoder, "decoder", DECODER_SIZES)
    with Weights([(layers, inputs["decoder"])]), torch.no_grad():
        return {"out": plain(function(*on(device, (inputs["x"], inputs["z"]))))}


def compare_log_likelihood(inputs, results, expected, figure=None):
    expect_close(results["out"], expected["out"], "log_likelihood(x, z)", atol=1e-3, hints=expected)
    return [f"log_likelihood: {tuple(results['out'].shape)}, sums log Ber(x_d | mu_d(z)) over the 784 pixels: ok"]


LOG_LIKELIHOOD = Part("log_likelihood", ("log_likelihood", "decoder"), likelihood_inputs, run_likelihood,
                      compare_log_likelihood, stored=True, uses_networks=True)


def check_log_likelihood(log_likelihood, decoder, device):
    public_check(LOG_LIKELIHOOD, device, log_likelihood, decoder)


def compare_joint(inputs, results, expected, figure=None):
    expect_close(results["out"], expected["out"], "joint_log_density(x, z)", atol=1e-3, hints=expected)
    return [f"joint_log_density: {tuple(results['out'].shape)}, = log p(z) + log p(x | z): ok"]


JOINT_LOG_DENSITY = Part("joint_log_density", ("joint_log_density", "decoder"), likelihood_inputs,
                         run_likelihood, compare_joint, stored=True, uses_networks=True)


def check_joint_log_density(joint_log_density, decoder, device):
    public_check(JOINT_LOG_DENSITY, device, joint_log_density, decoder)


# ---------------------------------------------------------------------------
# log_q
# ---------------------------------------------------------------------------

LOG_Q = Part("log_q", ("log_q",), gaussian_inputs, run_gaussian, gaussian_comparison("log_q"), stored=True)


def check_log_q(log_q, device):
    public_check(LOG_Q, device, log_q)
