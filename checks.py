"""The notebook's checks: one function per part of the assignment.

Each check calls the student's functions and networks on fixed inputs and
compares what they do with an independent computation: the formulas written
out again in float64, and each network evaluated by hand from its parameters,
which are found by their shapes (any ``nn.Module`` with the assignment's layer
sizes passes, ``nn.Sequential`` or not). Random parts are judged by their
properties: binary values, frequencies, and means equal to the sigmoid of the
decoder at the codes that were drawn.

A check that finds a mistake raises ``AssertionError`` saying what it expected
and what it found. A check that passes prints only lines that cannot drift
across machines, thread counts or CPU/GPU, so the notebook's saved outputs
are the reference that grading compares with.
"""
import copy
import math
import tempfile
from pathlib import Path

import torch
from PIL import Image

DATA_DIM, HIDDEN_DIM, LATENT_DIM = 784, 500, 2
LOG_2PI = math.log(2 * math.pi)
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


def expect(condition, message):
    """Raise AssertionError(message) unless condition holds (unlike assert, never switched off)."""
    if not condition:
        raise AssertionError(message)


def report(*lines):
    for line in lines:
        print(line)


def max_difference(found, expected):
    return (found.double() - expected.double()).abs().max().item()


def expect_close(found, expected, what, atol, rtol=0.0):
    """found and expected agree within atol + rtol * |expected|, entry by entry."""
    expect(isinstance(found, torch.Tensor), f"{what}: expected a tensor, found {type(found).__name__}")
    expect(tuple(found.shape) == tuple(expected.shape),
           f"{what}: expected shape {tuple(expected.shape)}, found {tuple(found.shape)}")
    expect(bool(torch.isfinite(found).all()), f"{what}: expected finite values, found nan or inf")
    found, expected = found.detach().double(), expected.detach().double().to(found.device)
    bad = (found - expected).abs() > atol + rtol * expected.abs()
    expect(not bool(bad.any()),
           f"{what}: expected the values of an independent computation within {atol:g}, found "
           f"{int(bad.sum())} of {bad.numel()} values off (largest difference {max_difference(found, expected):.3g})")


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


# ---------------------------------------------------------------------------
# Networks, found by the shapes of their parameters
# ---------------------------------------------------------------------------

class TwoLayers:
    """The parameters of Linear(n_in, n_hidden), tanh, Linear(n_hidden, n_out) in a module.

    params: [W1, b1, W2, b2], the module's own Parameter objects
    transposed: for each, whether it is stored as (in, out) rather than Linear's (out, in)
    """

    def __init__(self, network, name, n_in, n_hidden, n_out):
        self.name, self.sizes = name, (n_in, n_hidden, n_out)
        architecture = f"Linear({n_in}, {n_hidden}), tanh, Linear({n_hidden}, {n_out})"
        expect(isinstance(network, torch.nn.Module),
               f"{name} must be a torch.nn.Module ({architecture}), found {type(network).__name__}")
        found = list(network.parameters())
        shapes = [tuple(p.shape) for p in found]
        wanted = [((n_hidden, n_in), (n_in, n_hidden)), ((n_hidden,),),
                  ((n_out, n_hidden), (n_hidden, n_out)), ((n_out,),)]
        self.params, self.transposed = [], []
        for options in wanted:
            match = [p for p in found if tuple(p.shape) in options]
            expect(len(found) == 4 and len(match) == 1,
                   f"{name}: expected {architecture}, i.e. 4 parameters: weights of {n_hidden}x{n_in} and "
                   f"{n_out}x{n_hidden} and biases of {n_hidden} and {n_out}; found parameters of shapes "
                   f"{shapes}")
            self.params.append(match[0])
            self.transposed.append(tuple(match[0].shape) != options[0])
        self.architecture = architecture

    def as_linear(self, tensors):
        """The parameters in Linear's (out, in) layout: [W1, b1, W2, b2]."""
        return [t.T if flip else t for t, flip in zip(tensors, self.transposed)]

    def leaves64(self):
        """float64 copies of the parameters that record gradients, in the module's layout."""
        return [p.detach().double().clone().requires_grad_() for p in self.params]

    def forward64(self, inputs, tensors=None, hidden=torch.tanh):
        """W2 hidden(W1 u + b1) + b2 in float64, from the given (or the module's) parameters."""
        w1, b1, w2, b2 = self.as_linear(tensors if tensors is not None
                                        else [p.detach().double() for p in self.params])
        return hidden(inputs.double() @ w1.T + b1) @ w2.T + b2


def encoder_layers(encoder):
    return TwoLayers(encoder, "encoder", DATA_DIM, HIDDEN_DIM, 2 * LATENT_DIM)


def decoder_layers(decoder):
    return TwoLayers(decoder, "decoder", LATENT_DIM, HIDDEN_DIM, DATA_DIM)


# The parameters of both networks, in the order of TwoLayers.params (encoder, then decoder).
PARAMETER_NAMES = [f"{net} {what}" for net in ("encoder", "decoder")
                   for what in ("first weight", "first bias", "second weight", "second bias")]


def check_network(network, name, n_in, n_hidden, n_out, inputs):
    """The module computes W2 tanh(W1 u + b1) + b2 with its own parameters; returns the TwoLayers."""
    layers = TwoLayers(network, name, n_in, n_hidden, n_out)
    with torch.no_grad():
        out = network(inputs)
        expect(isinstance(out, torch.Tensor) and tuple(out.shape) == (len(inputs), n_out),
               f"{name}: expected outputs of shape {(len(inputs), n_out)}, found "
               f"{tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__}")
        by_hand = layers.forward64(inputs)
        if not torch.allclose(out.double(), by_hand, atol=1e-4, rtol=1e-4):
            diagnoses = [(torch.sigmoid(by_hand), "applies a sigmoid to its outputs; they must be the raw "
                                                  "outputs of the last Linear (logits), no output activation"),
                         (layers.forward64(inputs, hidden=torch.relu), "uses ReLU where tanh is expected"),
                         (layers.forward64(inputs, hidden=torch.sigmoid), "uses a sigmoid where tanh is expected"),
                         (layers.forward64(inputs, hidden=lambda h: h), "has no tanh between its two layers")]
            diagnosis = next((text for candidate, text in diagnoses
                              if torch.allclose(out.double(), candidate, atol=1e-4, rtol=1e-4)),
                             f"computes something else (largest difference {max_difference(out, by_hand):.3g})")
            raise AssertionError(f"{name}: expected {layers.architecture} with no output activation, "
                                 f"i.e. W2 tanh(W1 u + b1) + b2 from its parameters; it {diagnosis}")
    return layers


# ---------------------------------------------------------------------------
# Data
# ---------------------------------------------------------------------------

def check_data(x_train, x_test, first_batch):
    for name, x, n in (("x_train", x_train, 60000), ("x_test", x_test, 10000)):
        expect(tuple(x.shape) == (n, DATA_DIM) and x.dtype == torch.float32,
               f"{name}: expected a float32 tensor of shape ({n}, {DATA_DIM}), found {x.dtype} {tuple(x.shape)}")
        expect(bool(((x == 0) | (x == 1)).all()), f"{name}: expected every pixel to be 0 or 1")
    expect(tuple(first_batch.shape) == (200, DATA_DIM),
           f"first_batch: expected shape (200, {DATA_DIM}), found {tuple(first_batch.shape)}")
    share = x_train.mean().item()
    expect(0.12 < share < 0.14, f"x_train: expected about 13 % of pixels on (MNIST > 0.5), found {share:.1%}")
    report(f"training set: {tuple(x_train.shape)} {x_train.dtype}; test set: {tuple(x_test.shape)}",
           f"one mini-batch: {tuple(first_batch.shape)}",
           "every pixel is 0 or 1, and about 13 % are on: ok")


# ---------------------------------------------------------------------------
# helpers.py
# ---------------------------------------------------------------------------

def check_bernoulli_log_density(bernoulli_log_density, x, device):
    torch.manual_seed(1)
    logits = 4 * torch.randn(len(x), DATA_DIM, device=device)
    found = bernoulli_log_density(x, logits)
    expect_close(found, bernoulli64(x, logits), "bernoulli_log_density(x, logits)", atol=1e-4)
    huge = torch.tensor([[1e4, 1e4, -1e4, -1e4]], requires_grad=True)
    extreme = bernoulli_log_density(torch.tensor([[0., 1., 0., 1.]]), huge)
    expect(torch.equal(extreme.detach(), torch.tensor([[-1e4, 0., 0., -1e4]])),
           f"bernoulli_log_density at logits of +-1e4: expected exactly [-1e4, 0, 0, -1e4] for x = [0, 1, 0, 1], "
           f"found {extreme.detach().tolist()[0]} (compute it from the logits, not from sigmoid then log)")
    extreme.sum().backward()
    expect(bool(torch.isfinite(huge.grad).all()),
           f"bernoulli_log_density at logits of +-1e4: expected finite gradients, found {huge.grad.tolist()[0]}")
    report(f"bernoulli_log_density: {tuple(found.shape)}, matches log(mu) and log(1 - mu)",
           "exact, with finite gradients, at logits of +-1e4: ok")


def check_std_normal_log_density(std_normal_log_density, device):
    z = torch.randn(5, LATENT_DIM, generator=torch.Generator().manual_seed(2)).to(device)
    found = std_normal_log_density(z)
    expect_close(found, std_normal64(z), "std_normal_log_density(z)", atol=1e-4)
    at_zero = std_normal_log_density(torch.zeros(1, 1)).item()
    expect(math.isclose(at_zero, -0.5 * LOG_2PI, abs_tol=1e-6),
           f"std_normal_log_density of a 1-D zero: expected log(1 / sqrt(2 pi)) = {-0.5 * LOG_2PI:.6f}, "
           f"found {at_zero:.6f}")
    report(f"std_normal_log_density: {tuple(found.shape)}, matches -|z|^2 / 2 - (K / 2) log(2 pi): ok")


def check_gaussian_density(density, name, device, seed):
    """density(z, mu, log_sigma) against the factorized Gaussian formula in float64."""
    generator = torch.Generator().manual_seed(seed)
    z, mu, log_sigma = (torch.randn(5, LATENT_DIM, generator=generator).to(device) for _ in range(3))
    found = density(z, mu, log_sigma)
    expect_close(found, gaussian64(z, mu, log_sigma), f"{name}(z, mu, log_sigma)", atol=1e-4)
    report(f"{name}: {tuple(found.shape)}, matches the Gaussian formula: ok")


def check_diag_gaussian_log_density(diag_gaussian_log_density, device):
    check_gaussian_density(diag_gaussian_log_density, "diag_gaussian_log_density", device, seed=3)


def check_sample_diag_gaussian(sample_diag_gaussian, device):
    generator = torch.Generator().manual_seed(4)
    mu, log_sigma = (torch.randn(5, LATENT_DIM, generator=generator).to(device).requires_grad_()
                     for _ in range(2))
    z = sample_diag_gaussian(mu, log_sigma, generator=torch.Generator(device).manual_seed(5))
    expect(isinstance(z, torch.Tensor) and z.shape == mu.shape,
           f"sample_diag_gaussian: expected z of shape {tuple(mu.shape)}, found "
           f"{tuple(z.shape) if isinstance(z, torch.Tensor) else type(z).__name__}")
    again = sample_diag_gaussian(mu, log_sigma, generator=torch.Generator(device).manual_seed(5))
    expect(torch.equal(z, again), "sample_diag_gaussian: expected the same draws from two generators with "
                                  "the same seed (draw the noise with the generator argument)")
    expect(z.requires_grad, "sample_diag_gaussian: expected z to carry gradients back to mu and log_sigma "
                            "(z = mu + exp(log_sigma) * eps); found a result detached from them")
    z.sum().backward()
    expect(mu.grad is not None and torch.allclose(mu.grad, torch.ones_like(mu)),
           "sample_diag_gaussian: expected dz/dmu = 1 (z = mu + exp(log_sigma) * eps), found "
           f"{None if mu.grad is None else mu.grad[0].tolist()} in the first row")
    expect(log_sigma.grad is not None and torch.allclose(log_sigma.grad, (z - mu).detach(), atol=1e-5),
           "sample_diag_gaussian: expected dz/dlog_sigma = exp(log_sigma) * eps = z - mu, found otherwise "
           "(is log_sigma used as the log of the standard deviation?)")
    n = 100_000
    many = sample_diag_gaussian(torch.full((n, 2), 1.0, device=device), torch.full((n, 2), -1.0, device=device))
    mean, sd = many.mean(0), many.std(0)
    expect(bool((mean - 1).abs().max() < 0.02 and (sd / math.exp(-1) - 1).abs().max() < 0.02),
           f"sample_diag_gaussian(mu=1, log_sigma=-1), {n} draws: expected mean 1 and standard deviation "
           f"exp(-1) = 0.368 within 2 %, found mean {mean.tolist()} and sd {sd.tolist()}")
    report("sample_diag_gaussian: reparameterized, dz/dmu = 1 and dz/dlog_sigma = z - mu: ok",
           "repeats with a seeded generator; mean and standard deviation within 2 %: ok")


def check_sample_bernoulli(sample_bernoulli, device):
    probs = torch.tensor([0.0, 0.1, 0.5, 0.9, 1.0], device=device).expand(20_000, 5)
    draws = sample_bernoulli(probs, generator=torch.Generator(device).manual_seed(6))
    expect(isinstance(draws, torch.Tensor) and draws.shape == probs.shape and draws.dtype == probs.dtype,
           f"sample_bernoulli: expected a {probs.dtype} tensor of shape {tuple(probs.shape)}, found "
           f"{(draws.dtype, tuple(draws.shape)) if isinstance(draws, torch.Tensor) else type(draws).__name__}")
    expect(bool(((draws == 0) | (draws == 1)).all()), "sample_bernoulli: expected every draw to be 0 or 1")
    again = sample_bernoulli(probs, generator=torch.Generator(device).manual_seed(6))
    expect(torch.equal(draws, again), "sample_bernoulli: expected the same draws from two generators with "
                                      "the same seed (draw the uniforms with the generator argument)")
    frequencies = draws.mean(0)
    expect(bool((frequencies - probs[0]).abs().max() < 0.01),
           f"sample_bernoulli: expected P(x = 1) = p for p = {probs[0].tolist()}, found frequencies "
           f"{[round(f, 3) for f in frequencies.tolist()]}")
    report(f"sample_bernoulli: {tuple(draws.shape)} {draws.dtype}, binary, repeats with a seeded generator",
           "frequencies within 0.01 of p, for p = 0, 0.1, 0.5, 0.9 and 1: ok")


def check_likelihood_table(bernoulli_log_likelihood_table, x_rows, device):
    logits = 3 * torch.randn(6, DATA_DIM, generator=torch.Generator().manual_seed(7)).to(device)
    table = bernoulli_log_likelihood_table(x_rows, logits)
    by_hand = torch.stack([bernoulli64(x.expand_as(logits), logits).sum(1) for x in x_rows])
    expect_close(table, by_hand, "bernoulli_log_likelihood_table(x, logits)", atol=1e-3)
    report(f"bernoulli_log_likelihood_table: {tuple(table.shape)}, entry (i, j) = log p(x_i | logits_j): ok")


def check_log_mean_exp(log_mean_exp):
    values = torch.tensor([[0.5, -1.0, 2.0], [1000.0, 1000.0, 1000.0 + math.log(4)]])
    found = log_mean_exp(values, dim=1)
    expected = torch.tensor([math.log((math.exp(0.5) + math.exp(-1) + math.exp(2)) / 3), 1000 + math.log(2)])
    expect_close(found, expected, "log_mean_exp(a, dim=1)", atol=1e-3)
    by_column = log_mean_exp(values[:1].T, dim=0)
    expect_close(by_column, expected[:1], "log_mean_exp(a, dim=0)", atol=1e-5)
    report(f"log_mean_exp: {tuple(found.shape)}, matches log(mean(exp(a))), no overflow at 1000: ok")


# ---------------------------------------------------------------------------
# The model
# ---------------------------------------------------------------------------

def check_log_prior(log_prior, device):
    z = torch.randn(5, LATENT_DIM, generator=torch.Generator().manual_seed(8)).to(device)
    found = log_prior(z)
    expect_close(found, std_normal64(z), "log_prior(z)", atol=1e-4)
    report(f"log_prior: {tuple(found.shape)}, matches N(0, I): ok")


def check_decoder(decoder, device):
    z = torch.randn(5, LATENT_DIM, generator=torch.Generator().manual_seed(9)).to(device)
    layers = check_network(decoder, "decoder", LATENT_DIM, HIDDEN_DIM, DATA_DIM, z)
    report(f"decoder: {layers.architecture}, found by shape",
           "outputs are logits W2 tanh(W1 z + b1) + b2: ok")


def check_log_likelihood(log_likelihood, decoder, x):
    z = torch.randn(len(x), LATENT_DIM, generator=torch.Generator().manual_seed(10)).to(x.device)
    with torch.no_grad():
        found = log_likelihood(x, z)
        by_hand = bernoulli64(x, decoder(z)).sum(1)
    expect_close(found, by_hand, "log_likelihood(x, z)", atol=1e-3)
    report(f"log_likelihood: {tuple(found.shape)}, sums log Ber(x_d | mu_d(z)) over the 784 pixels: ok")


def check_joint_log_density(joint_log_density, decoder, x):
    z = torch.randn(len(x), LATENT_DIM, generator=torch.Generator().manual_seed(11)).to(x.device)
    with torch.no_grad():
        found = joint_log_density(x, z)
        by_hand = bernoulli64(x, decoder(z)).sum(1) + std_normal64(z)
    expect_close(found, by_hand, "joint_log_density(x, z)", atol=1e-3)
    report(f"joint_log_density: {tuple(found.shape)}, = log p(z) + log p(x | z): ok")


def check_encoder(encoder, encode, x):
    layers = check_network(encoder, "encoder", DATA_DIM, HIDDEN_DIM, 2 * LATENT_DIM, x)
    with torch.no_grad():
        found = encode(x)
        by_hand = layers.forward64(x)
    expect(isinstance(found, (tuple, list)) and len(found) == 2,
           f"encode(x): expected a pair (mu, log_sigma), found {type(found).__name__}")
    expect_close(found[0], by_hand[:, :LATENT_DIM], "encode(x)[0], mu (the first two outputs)", atol=1e-4)
    expect_close(found[1], by_hand[:, LATENT_DIM:], "encode(x)[1], log_sigma (the last two outputs)", atol=1e-4)
    report(f"encoder: {layers.architecture}, found by shape; outputs W2 tanh(W1 x + b1) + b2: ok",
           f"encode: mu {tuple(found[0].shape)} = first two outputs, log_sigma {tuple(found[1].shape)} = last two: ok")


def check_log_q(log_q, device):
    check_gaussian_density(log_q, "log_q", device, seed=12)


class CallRecorder:
    """Records the first input of every call of a module (forward hook), until closed."""

    def __init__(self, module):
        self.inputs = []
        self.handle = module.register_forward_hook(lambda m, args, out: self.inputs.append(args[0].detach()))

    def close(self):
        self.handle.remove()


def elbo64(x, z_drawn, enc, dec, enc_params, dec_params):
    """The one-draw ELBO of each digit in float64, as a function of the networks' parameters.

    The noise is read off the codes the student's code decoded, eps = (z - mu) / sigma, and z is
    rebuilt as mu + sigma * eps so that gradients flow through it (the reparameterization).
    returns (ELBO of each digit (B,), eps (B, 2))
    """
    out = enc.forward64(x, enc_params)
    mu, log_sigma = out[:, :LATENT_DIM], out[:, LATENT_DIM:]
    eps = (z_drawn.double() - mu.detach()) / log_sigma.detach().exp()
    z = mu + log_sigma.exp() * eps
    log_joint = bernoulli64(x, dec.forward64(z, dec_params)).sum(1) + std_normal64(z)
    return log_joint - gaussian64(z, mu, log_sigma), eps


def single_decoded_codes(recorder, n, what):
    shapes = [tuple(z.shape) for z in recorder.inputs]
    expect(shapes == [(n, LATENT_DIM)],
           f"{what}: expected one call of decoder with one code per digit, shape {(n, LATENT_DIM)}; "
           f"found {len(shapes)} call(s) with shapes {shapes}")
    return recorder.inputs[0]


def check_elbo(elbo, loss, encoder, decoder, x):
    """Value and gradients of elbo(x) against a float64 computation with the same noise."""
    enc = encoder_layers(encoder)
    dec = decoder_layers(decoder)
    params = enc.params + dec.params
    recorder = CallRecorder(decoder)
    try:
        for p in params:
            p.grad = None
        torch.manual_seed(4)
        estimate = elbo(x)
        expect(isinstance(estimate, torch.Tensor) and estimate.dim() == 0,
               "elbo(x): expected one number (a 0-d tensor), the mean over the batch; found "
               f"{tuple(estimate.shape) if isinstance(estimate, torch.Tensor) else type(estimate).__name__}")
        expect(estimate.requires_grad, "elbo(x): expected a result that gradients can flow through, found "
                                       "one detached from the networks")
        z_drawn = single_decoded_codes(recorder, len(x), "elbo(x)")
        estimate.backward()
        found_grads = [p.grad for p in params]

        enc_params, dec_params = enc.leaves64(), dec.leaves64()
        per_digit, _ = elbo64(x, z_drawn, enc, dec, enc_params, dec_params)
        by_hand = per_digit.mean()
        expect(abs(estimate.item() - by_hand.item()) < 2e-3 + 1e-5 * abs(by_hand.item()),
               f"elbo(x): expected {by_hand.item():.4f}, the mean over the batch of log p(x, z) - log q(z | x) "
               f"at the codes it drew, found {estimate.item():.4f}")
        by_hand.backward()
        for name, grad, leaf in zip(PARAMETER_NAMES, found_grads, enc_params + dec_params):
            expected = leaf.grad
            scale = expected.abs().max().item()
            expect(grad is not None and grad.abs().max().item() > 0,
                   f"elbo(x): no gradient reaches the {name}; expected gradients of size up to {scale:.3g}")
            difference = max_difference(grad, expected)
            expect(difference <= 1e-3 * scale + 1e-6,
                   f"elbo(x): expected the gradient with respect to the {name} of the reparameterized "
                   f"estimate, found one off by up to {difference:.3g} (the gradient is up to {scale:.3g}); "
                   "z must be mu + sigma * eps so that gradients flow through it")

        recorder.inputs.clear()
        value = loss(x)
        z_drawn = single_decoded_codes(recorder, len(x), "loss(x)")
        with torch.no_grad():
            expected_loss = -elbo64(x, z_drawn, enc, dec, None, None)[0].mean().item()
        expect(isinstance(value, torch.Tensor) and value.dim() == 0 and value.requires_grad
               and abs(value.item() - expected_loss) < 2e-3 + 1e-5 * abs(expected_loss),
               f"loss(x): expected -elbo(x) = {expected_loss:.4f} as a 0-d tensor with gradients, found "
               f"{value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else value}")

        # The draws follow q: the noise read off 4000 codes is standard normal.
        recorder.inputs.clear()
        with torch.no_grad():
            elbo(x[:1].expand(4000, -1))
            eps = elbo64(x[:1].expand(4000, -1), single_decoded_codes(recorder, 4000, "elbo(x)"),
                         enc, dec, None, None)[1]
        mean, sd = eps.mean(0), eps.std(0)
        expect(bool((mean.abs() < 0.1).all() and ((sd - 1).abs() < 0.1).all()),
               "elbo(x): expected codes z = mu + sigma * eps with eps ~ N(0, I); over 4000 draws the noise "
               f"(z - mu) / sigma has mean {[round(v, 3) for v in mean.tolist()]} and sd "
               f"{[round(v, 3) for v in sd.tolist()]}")
    finally:
        recorder.close()
        for p in params:
            p.grad = None
    report("elbo is one number: the mean over the batch of log p(x, z) - log q(z | x), one draw per digit",
           "its gradients with respect to both networks match the reparameterized estimate: ok",
           "the noise is standard normal, and loss = -elbo: ok")


def adam64(x_batches, z_batches, enc, dec, lr):
    """Adam on the negative one-draw ELBO in float64, from the networks' current weights.

    Follows Kingma and Ba's algorithm with PyTorch's defaults (betas 0.9 and 0.999, eps 1e-8).
    returns the parameters after the steps (module layout) and the loss of each step
    """
    enc_params, dec_params = enc.leaves64(), dec.leaves64()
    params = enc_params + dec_params
    first = [torch.zeros_like(p) for p in params]
    second = [torch.zeros_like(p) for p in params]
    (beta1, beta2), losses = ADAM_BETAS, []
    for step, (x, z) in enumerate(zip(x_batches, z_batches), start=1):
        batch_loss = -elbo64(x, z, enc, dec, enc_params, dec_params)[0].mean()
        grads = torch.autograd.grad(batch_loss, params)
        losses.append(batch_loss.item())
        with torch.no_grad():
            for p, g, m, v in zip(params, grads, first, second):
                m.mul_(beta1).add_((1 - beta1) * g)
                v.mul_(beta2).add_((1 - beta2) * g * g)
                m_hat, v_hat = m / (1 - beta1 ** step), v / (1 - beta2 ** step)
                p.sub_(lr * m_hat / (v_hat.sqrt() + ADAM_EPS))
    return [p.detach() for p in params], losses


def check_train(train, encoder, decoder, x_train, config):
    """Three Adam steps of train() against Adam computed by hand; the weights are put back after."""
    enc = encoder_layers(encoder)
    dec = decoder_layers(decoder)
    weights_before = [copy.deepcopy(net.state_dict()) for net in (encoder, decoder)]
    start = [p.detach().clone() for p in enc.params + dec.params]
    n_steps, batch_size = 3, config["batch_size"]
    batches_seen, codes_seen = CallRecorder(encoder), CallRecorder(decoder)
    try:
        with tempfile.TemporaryDirectory() as scratch:
            history = train(encoder, decoder, x_train[:n_steps * batch_size], {**config, "n_epochs": 1},
                            Path(scratch) / "check.pt", show_progress=False)
            written = (Path(scratch) / "check.pt").is_file()
        batches_seen.close()
        codes_seen.close()
        found = [p.detach().clone() for p in enc.params + dec.params]
        x_batches, z_batches = batches_seen.inputs, codes_seen.inputs
        expect(len(x_batches) == n_steps and len(z_batches) == n_steps,
               f"train: expected one evaluation of the loss per mini-batch ({n_steps} batches of {batch_size}), "
               f"found {len(x_batches)} calls of the encoder and {len(z_batches)} of the decoder")
        for p, weights in zip(enc.params + dec.params, start):  # Adam by hand starts where train started
            p.data.copy_(weights)
        expected, losses = adam64(x_batches, z_batches, enc, dec, config["lr"])
        expect(isinstance(history, list) and len(history) == 1,
               f"train: expected a list with one mean loss per epoch (1 epoch), found {history!r}")
        for name, before, after, reference in zip(PARAMETER_NAMES, start, found, expected):
            step_found, step_expected = (after - before).double(), reference.to(before.device) - before.double()
            error = (step_found - step_expected).norm().item() / step_expected.norm().item()
            expect(error < 0.02,
                   f"train: expected {n_steps} steps from the same weights to change the {name} as Adam on "
                   f"the negative ELBO does, found a change off by {error:.0%} of its size (wrong sign, no "
                   "update, or gradients not reset between steps?)")
        mean_loss = sum(losses) / len(losses)
        expect(abs(history[0] - mean_loss) < 1e-2,
               f"train: expected the epoch's mean loss {mean_loss:.3f} (the negative ELBO of each batch, "
               f"averaged), found {history[0]:.3f}")
        expect(written, "train: expected a checkpoint to be written after the epoch")
    finally:
        batches_seen.close()
        codes_seen.close()
        for net, weights in zip((encoder, decoder), weights_before):
            net.load_state_dict(weights)
    report(f"train: {n_steps} steps from fixed weights match Adam on the negative ELBO, computed by hand: ok",
           "one mean loss per epoch, and a checkpoint written: ok")


def check_training_run(loss_history, config, checkpoint):
    expect(len(loss_history) == config["n_epochs"],
           f"loss_history: expected one loss per epoch ({config['n_epochs']}), found {len(loss_history)}")
    expect(loss_history[-1] < loss_history[0],
           f"loss_history: expected the loss to fall, found {loss_history[0]:.2f} then {loss_history[-1]:.2f}")
    expect(Path(checkpoint).is_file(), f"expected a checkpoint at {checkpoint}")
    report("one loss per epoch, the loss went down, and the checkpoint is on disk: ok")


# ---------------------------------------------------------------------------
# The visualizations
# ---------------------------------------------------------------------------

def expect_png(path, size=None):
    expect(Path(path).is_file(), f"expected the figure {path}, found no such file")
    try:
        with Image.open(path) as image:
            image.load()
            expect(image.format == "PNG", f"{path}: expected a PNG, found {image.format}")
            if size is not None:
                expect(image.size == size, f"{path}: expected {size[0]} x {size[1]} pixels, "
                                           f"found {image.size[0]} x {image.size[1]}")
            return image.convert("L")
    except OSError as err:
        raise AssertionError(f"{path}: expected a PNG image, found a file that cannot be read ({err})") from None


def expect_binary_draws(samples, means, what):
    """samples are 0/1 draws with P(1) = means: binary, impossible where means is 0 or 1, and the
    number of ones within 5 standard deviations of its expectation."""
    expect(bool(((samples == 0) | (samples == 1)).all()), f"{what}: expected binary values, 0 or 1")
    means = means.double()
    expect(not bool(((samples == 1) & (means == 0)).any() or ((samples == 0) & (means == 1)).any()),
           f"{what}: expected no 1 where the mean is 0 and no 0 where it is 1")
    spread = (means * (1 - means)).sum().sqrt().item()
    surplus = (samples.double() - means).sum().item()
    expect(abs(surplus) <= 5 * spread + 1e-6,
           f"{what}: expected about {means.sum().item():.0f} ones (the sum of the means), found "
           f"{samples.sum().item():.0f}; each pixel must be 1 with probability equal to its mean")


def expect_tensor(value, name, shape):
    expect(isinstance(value, torch.Tensor), f"{name}: expected a tensor of shape {shape}, found "
                                            f"{type(value).__name__}")
    expect(tuple(value.shape) == shape, f"{name}: expected shape {shape}, found {tuple(value.shape)}")
    expect(bool(torch.isfinite(value).all()), f"{name}: expected finite values")


def check_scatter(mu_train, encoder, x_train, figure):
    enc = encoder_layers(encoder)
    expect_tensor(mu_train, "mu_train", (len(x_train), LATENT_DIM))
    rows = torch.arange(0, len(x_train), 97, device=x_train.device)
    with torch.no_grad():
        by_hand = enc.forward64(x_train[rows])[:, :LATENT_DIM]
    expect_close(mu_train[rows.to(mu_train.device)], by_hand,
                 "mu_train, the encoder means of the training digits (in x_train's order)", atol=1e-4)
    expect_png(figure)
    report(f"mu_train: {tuple(mu_train.shape)}, the encoder means of the training digits: ok",
           f"figure saved: {Path(figure).name}")


def check_prior_samples(z_prior, prior_means, prior_samples, decoder, figure):
    dec = decoder_layers(decoder)
    expect_tensor(z_prior, "z_prior", (10, LATENT_DIM))
    expect_tensor(prior_means, "prior_means", (10, DATA_DIM))
    expect_tensor(prior_samples, "prior_samples", (10, 3, DATA_DIM))
    expect(len(set(map(tuple, z_prior.tolist()))) == 10 and bool((z_prior.abs() < 6).all()),
           "z_prior: expected 10 different draws from N(0, I)")
    with torch.no_grad():
        by_hand = torch.sigmoid(dec.forward64(z_prior.to(dec.params[0].device)))
    expect_close(prior_means, by_hand, "prior_means, sigmoid(decoder(z_prior))", atol=1e-5)
    expect_binary_draws(prior_samples, prior_means.unsqueeze(1).expand_as(prior_samples), "prior_samples")
    expect(not bool((prior_samples[:, 0] == prior_samples[:, 1]).all() and
                    (prior_samples[:, 1] == prior_samples[:, 2]).all()),
           "prior_samples: expected 3 independent samples per code, found 3 identical ones")
    expect_png(figure)
    report(f"z_prior {tuple(z_prior.shape)}, prior_means {tuple(prior_means.shape)} = sigmoid(decoder(z)), "
           f"prior_samples {tuple(prior_samples.shape)}: ok",
           "the samples are binary and as frequent as the means say: ok",
           f"figure saved: {Path(figure).name}")


def check_reconstructions(x_four, z_four, recon_means, recon_samples, encoder, decoder, x_train, figure):
    enc = encoder_layers(encoder)
    dec = decoder_layers(decoder)
    expect_tensor(x_four, "x_four", (4, DATA_DIM))
    expect_tensor(z_four, "z_four", (4, 2, LATENT_DIM))
    expect_tensor(recon_means, "recon_means", (4, 2, DATA_DIM))
    expect_tensor(recon_samples, "recon_samples", (4, 2, DATA_DIM))
    x_four = x_four.to(x_train.device)
    expect(all(bool((x_train == x).all(1).any()) for x in x_four),
           "x_four: expected 4 digits taken from x_train, found rows that are not in it")
    with torch.no_grad():
        out = enc.forward64(x_four)
        mu, sigma = out[:, :LATENT_DIM], out[:, LATENT_DIM:].exp()
        standardised = (z_four.double().to(mu.device) - mu.unsqueeze(1)) / sigma.unsqueeze(1)
        by_hand = torch.sigmoid(dec.forward64(z_four.reshape(8, LATENT_DIM).to(mu.device))).view(4, 2, DATA_DIM)
    expect(bool((standardised.abs() < 6).all()) and not bool((z_four[:, 0] == z_four[:, 1]).all()),
           "z_four: expected two different draws from q(z | x) of each digit, i.e. mu + sigma * eps with the "
           f"encoder's mu and sigma; found codes up to {standardised.abs().max().item():.1f} sigmas away from mu")
    expect_close(recon_means, by_hand, "recon_means, sigmoid(decoder(z_four))", atol=1e-5)
    expect_binary_draws(recon_samples, recon_means, "recon_samples")
    expect_png(figure)
    report(f"x_four {tuple(x_four.shape)} from the training set; z_four {tuple(z_four.shape)} drawn from q(z | x)",
           f"recon_means {tuple(recon_means.shape)} = sigmoid(decoder(z)); recon_samples binary draws: ok",
           f"figure saved: {Path(figure).name}")


def check_lattice(lattice_image, decoder, png):
    dec = decoder_layers(decoder)
    size, lattice_range = 50, 3.0
    expect_tensor(lattice_image, "lattice_image", (size * 28, size * 28))
    ticks = torch.linspace(-lattice_range, lattice_range, size, dtype=torch.float64)
    picked = range(0, size, 7)  # tile rows and columns 0, 7, ..., 49
    codes = torch.tensor([[ticks[column], ticks[size - 1 - row]] for row in picked for column in picked])
    with torch.no_grad():
        by_hand = torch.sigmoid(dec.forward64(codes.to(dec.params[0].device))).view(-1, 28, 28).cpu()
    image = lattice_image.detach().cpu()
    tiles = torch.stack([image[28 * row:28 * row + 28, 28 * column:28 * column + 28]
                         for row in picked for column in picked])
    expect_close(tiles, by_hand, "lattice_image: the tile in tile row r and column c is the decoder's means at "
                                 "z = (z1[c], z2[49 - r]) over [-3, 3]^2, z_1 to the right and z_2 upwards", atol=1e-4)
    saved = expect_png(png, size=(size * 28, size * 28))
    grey = torch.frombuffer(bytearray(saved.tobytes()), dtype=torch.uint8).view(size * 28, size * 28)
    worst = (grey.double() / 255 - image.double()).abs().max().item()
    expect(worst <= 2.5 / 255, f"{png}: expected the lattice image's means as grey levels (0 black, 255 white), "
                               f"found pixels {worst * 255:.0f} grey levels away")
    report(f"lattice_image: {tuple(lattice_image.shape)}, the decoder's means tiled with z_1 to the right "
           "and z_2 upwards: ok",
           f"{Path(png).name}: {saved.size[0]} x {saved.size[1]} greyscale pixels, the same image: ok")


def check_figures(folder, names):
    for name in names:
        expect_png(Path(folder) / f"{name}.png")
    report(f"figures saved: {', '.join(names)}")


# ---------------------------------------------------------------------------
# Section 6: the evaluation
# ---------------------------------------------------------------------------

def check_bounds(bounds, log_px):
    """ELBO <= IWAE_k <= exact on average, and IWAE_k rises with k."""
    elbo_mean, exact_mean = bounds["elbo"].mean().item(), log_px.mean().item()
    ks = sorted(bounds["iwae"])
    iwae_means = [bounds["iwae"][k].mean().item() for k in ks]
    expect(elbo_mean <= iwae_means[-1] <= exact_mean,
           f"expected ELBO <= IWAE_{ks[-1]} <= exact log p(x) on average, found {elbo_mean:.2f}, "
           f"{iwae_means[-1]:.2f} and {exact_mean:.2f}")
    expect(all(a < b for a, b in zip(iwae_means, iwae_means[1:])),
           f"expected IWAE_k to rise with k on average, found {[round(m, 2) for m in iwae_means]} for k = {ks}")
    report(f"ELBO <= IWAE_{ks[-1]} <= exact log p(x), on average: ok",
           "IWAE_k rises with k, on average: ok")


def check_posterior(log_posterior_on_grid, latent_grid, decoder, x, half_width):
    """The exact posterior of a few digits integrates to 1 on the grid."""
    with torch.no_grad():
        z_grid, log_cell = latent_grid(half_width, 241, device=x.device)
        mass = (log_posterior_on_grid(decoder, x, z_grid, log_cell).exp().sum(1) * math.exp(log_cell)).cpu()
    expect(torch.allclose(mass, torch.ones(len(x), dtype=mass.dtype), atol=1e-4),
           f"expected posterior densities that integrate to 1 on the grid, found {mass.tolist()}")
    report("posterior densities integrate to 1 on the grid: ok")
