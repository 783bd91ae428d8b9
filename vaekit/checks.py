"""The notebook's checks: one per part of the assignment.

A part is checked in three steps, so that the same code serves a student's run
of the notebook and a grading:

1. inputs_for(part, seed): the inputs, drawn on the CPU from a seed. The
   notebook's checks use PUBLIC_SEED; instructor/grade.py draws a secret seed for
   each grading.
2. its run (PARTS[part][0]; inputs, device, the student's code): calls the
   student's functions and networks on those inputs and returns plain results
   (tensors, numbers, strings). This is all that runs in the student's kernel
   when grading.
3. its comparison (PARTS[part][2]; inputs, results, expected, figure): raises
   AssertionError saying what was expected, what was found and what the
   mistake most likely is, or returns the lines that say what passed.

In the notebook, the expected values are those the solution computed on the
public inputs (vaekit/checks_expected.pt, written by instructor/judge.py), or, where the
result is random or uses the trained networks, what the student's own
functions give once their checks have passed. When grading, instructor/judge.py
computes them in the grader's own process. This module holds no formula of the
model and builds no network: it is handed out with the notebook.

A check that passes prints only lines that cannot drift across machines,
thread counts or CPU/GPU, so the notebook's saved outputs are the reference
that nbval compares with.
"""
import functools
import hashlib
import math
import tempfile
from pathlib import Path

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook
from PIL import Image

DATA_DIM, HIDDEN_DIM, LATENT_DIM = 784, 500, 2
ENCODER_SIZES, DECODER_SIZES = (DATA_DIM, HIDDEN_DIM, 2 * LATENT_DIM), (LATENT_DIM, HIDDEN_DIM, DATA_DIM)
PUBLIC_SEED = 0
EXPECTED_FILE = Path(__file__).with_name("checks_expected.pt")
TRAIN_STEPS, BATCH_SIZE, LEARNING_RATE = 3, 200, 1e-3
NOISE_DRAWS = 4000  # codes drawn for one digit, to test that elbo's noise is standard normal
LATTICE_SIZE, LATTICE_RANGE = 50, 3.0
LATTICE_PICKED = range(0, LATTICE_SIZE, 7)  # the tile rows and columns compared: 0, 7, ..., 49
SCATTER_ROWS = 97  # every 97th training digit is compared


def expect(condition, message):
    """Raise AssertionError(message) unless condition holds (unlike assert, never switched off)."""
    if not condition:
        raise AssertionError(message)


def plain(value):
    """value as the kernel reports it: tensors detached on the CPU, containers of them, numbers and
    strings as they are, anything else as a string that names its type."""
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().clone()
    if isinstance(value, (tuple, list)):
        return [plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return f"a {type(value).__name__}"


def describe(found):
    if isinstance(found, torch.Tensor):
        return f"a {found.dtype} tensor of shape {tuple(found.shape)}"
    return found if isinstance(found, str) else f"a {type(found).__name__}"


def shape_diagnosis(found, expected):
    """What a wrong shape most likely means, or ""."""
    found, expected = tuple(found), tuple(expected)
    if len(found) == len(expected) + 1 and found[:len(expected)] == expected:
        return f": one value per entry of the last dimension ({found[-1]}); is a sum over it missing?"
    if found == expected[::-1] and len(found) == 2:
        return ": the transpose of the expected shape"
    if not found and expected:
        return ": one number where one value per row belongs; summed or averaged over the batch?"
    return ""


def expect_tensor(value, name, shape):
    expect(isinstance(value, torch.Tensor), f"{name}: expected a tensor of shape {shape}, found {describe(value)}")
    expect(tuple(value.shape) == tuple(shape), f"{name}: expected shape {tuple(shape)}, found {tuple(value.shape)}"
                                               + shape_diagnosis(value.shape, shape))
    if not bool(torch.isfinite(value).all()):
        raise AssertionError(f"{name}: expected finite values, found " + (
            "inf: did exp overflow (exp(1000) is inf)?" if bool(torch.isinf(value).any()) else "nan"))


def max_difference(found, expected):
    return (found.double() - expected.double()).abs().max().item()


# Factors a result can be off by, and what each most likely means.
FACTORS = {-1.0: "the sign is flipped", 1 / DATA_DIM: "a mean over the 784 pixels where a sum belongs?",
           0.5: "a mean over the 2 latent dimensions where a sum belongs, or a factor 2 missing?",
           2.0: "a factor 1/2 missing?"}


def diagnosis(found, expected, atol, hints=None):
    """What a wrong result most likely is, in the student's terms, from the numbers alone.

    hints: {"mistakes": {what the mistake is: the result it gives}, "offsets": {what the mistake is: the
    constant it adds}} for the part, where the references know the mistakes students make; then what
    holds between found and expected: off by a constant, by a factor, or only in some entries.
    """
    hints = hints or {}
    close = lambda a, b: bool(torch.allclose(a, b.double(), atol=atol, rtol=1e-4))  # noqa: E731
    for text, result in hints.get("mistakes", {}).items():
        if tuple(result.shape) == tuple(found.shape) and close(found, result):
            return f"it matches {text}"
    difference = found - expected
    if bool((difference - difference.mean()).abs().max() <= atol):
        offset = difference.mean().item()
        named = next((text for text, value in hints.get("offsets", {}).items() if abs(offset - float(value)) < 1e-3),
                     None)
        if named or found.numel() > 1:
            return f"it is off by the same {offset:+.4g} everywhere" + (f": {named}" if named else "")
    if bool((expected.abs() > 1e-6).all()):
        ratio = found / expected
        mean_ratio = ratio.mean().item()
        if found.numel() > 1 and bool((ratio - mean_ratio).abs().max() <= 1e-3 * abs(mean_ratio)):
            named = next((text for factor, text in FACTORS.items() if abs(mean_ratio - factor) < 1e-3 * abs(factor)),
                         None)
            return f"it is {mean_ratio:.4g} times the expected value" + (f": {named}" if named else "")
    bad = (difference.abs() > atol).flatten()
    if int(bad.sum()) < bad.numel():
        return f"only {int(bad.sum())} of {bad.numel()} values are off"
    same_sign = (torch.sign(found) == torch.sign(expected)).double().mean().item()
    return ("the signs are right, the sizes are not" if same_sign == 1 else
            f"{same_sign:.0%} of the values have the expected sign")


def expect_close(found, expected, what, atol, rtol=0.0, hints=None):
    """found and expected agree within atol + rtol * |expected|, entry by entry; if not, say what the
    difference most likely means (diagnosis, with the part's hints)."""
    expect_tensor(found, what, expected.shape)
    found, expected = found.double(), expected.double()
    bad = (found - expected).abs() > atol + rtol * expected.abs()
    expect(not bool(bad.any()),
           f"{what}: expected the values of an independent computation within {atol:g}, found "
           f"{int(bad.sum())} of {bad.numel()} values off (largest difference {max_difference(found, expected):.3g}); "
           + diagnosis(found, expected, atol + rtol * expected.abs().max().item(), hints))


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------

def generator_for(part, seed):
    """A CPU generator of its own for each part and seed."""
    digest = hashlib.sha256(f"{seed}:{part}".encode()).digest()
    return torch.Generator().manual_seed(int.from_bytes(digest[:8], "little") >> 1)


def binary_digits(generator, n):
    return (torch.rand(n, DATA_DIM, generator=generator) < 0.3).float()


def network_weights(generator, sizes):
    """[W1, b1, W2, b2] in Linear's (out, in) layout, scaled as Linear's own initialisation."""
    n_in, n_hidden, n_out = sizes
    weights = []
    for fan_in, shape in ((n_in, (n_hidden, n_in)), (n_in, (n_hidden,)),
                          (n_hidden, (n_out, n_hidden)), (n_hidden, (n_out,))):
        weights.append((2 * torch.rand(shape, generator=generator) - 1) / math.sqrt(fan_in))
    return weights


def inputs_for(part, seed):
    """The inputs of a part's check, a dict of CPU tensors and numbers, the same for the same seed."""
    g = generator_for(part, seed)
    normal = lambda *shape: torch.randn(*shape, generator=g)  # noqa: E731
    if part in ("helpers.bernoulli_log_density", "helpers.bernoulli_log_likelihood_table"):
        n_logits = 8 if part == "helpers.bernoulli_log_density" else 6
        return {"x": binary_digits(g, 8 if n_logits == 8 else 4), "logits": 4 * normal(n_logits, DATA_DIM)}
    if part in ("helpers.std_normal_log_density", "log_prior"):
        return {"z": normal(5, LATENT_DIM)}
    if part in ("helpers.diag_gaussian_log_density", "log_q"):
        return {"z": normal(5, LATENT_DIM), "mu": normal(5, LATENT_DIM), "log_sigma": normal(5, LATENT_DIM)}
    if part == "helpers.sample_diag_gaussian":
        return {"mu": normal(5, LATENT_DIM), "log_sigma": normal(5, LATENT_DIM),
                "seed": int(torch.randint(2 ** 31, (), generator=g)),
                "many_mu": float(normal(())), "many_log_sigma": float(-1 + 0.5 * normal(()))}
    if part == "helpers.sample_bernoulli":
        inside = (0.05 + 0.9 * torch.rand(3, generator=g)).sort().values
        return {"probs": torch.cat([torch.zeros(1), inside, torch.ones(1)]),
                "seed": int(torch.randint(2 ** 31, (), generator=g))}
    if part == "helpers.log_mean_exp":
        values = 2 * normal(2, 3)
        values[1] += 1000  # no overflow: exp(1000) is inf in float32 and float64
        return {"values": values}
    if part == "decoder":
        return {"z": normal(5, LATENT_DIM), "decoder": network_weights(g, DECODER_SIZES)}
    if part == "encoder":
        return {"x": binary_digits(g, 8), "encoder": network_weights(g, ENCODER_SIZES)}
    if part in ("log_likelihood", "joint_log_density"):
        return {"x": binary_digits(g, 8), "z": normal(8, LATENT_DIM), "decoder": network_weights(g, DECODER_SIZES)}
    if part in ("elbo and loss", "train", "weights"):
        n = {"elbo and loss": 16, "train": TRAIN_STEPS * BATCH_SIZE, "weights": 0}[part]
        return {"x": binary_digits(g, n), "encoder": network_weights(g, ENCODER_SIZES),
                "decoder": network_weights(g, DECODER_SIZES)}
    return {}  # the visualizations: their inputs are the networks' weights ("weights")


# ---------------------------------------------------------------------------
# Networks, found by the shapes of their parameters
# ---------------------------------------------------------------------------

class TwoLayers:
    """The parameters of Linear(n_in, n_hidden), tanh, Linear(n_hidden, n_out) in a module.

    params: [W1, b1, W2, b2], the module's own Parameter objects
    transposed: for each, whether it is stored as (in, out) rather than Linear's (out, in)
    """

    def __init__(self, network, name, sizes):
        n_in, n_hidden, n_out = sizes
        self.name = name
        self.architecture = f"Linear({n_in}, {n_hidden}), tanh, Linear({n_hidden}, {n_out})"
        expect(isinstance(network, torch.nn.Module),
               f"{name} must be a torch.nn.Module ({self.architecture}), found {type(network).__name__}")
        found = list(network.parameters())
        shapes = [tuple(p.shape) for p in found]
        wanted = [((n_hidden, n_in), (n_in, n_hidden)), ((n_hidden,),),
                  ((n_out, n_hidden), (n_hidden, n_out)), ((n_out,),)]
        self.params, self.transposed = [], []
        for options in wanted:
            match = [p for p in found if tuple(p.shape) in options]
            expect(len(found) == 4 and len(match) == 1,
                   f"{name}: expected {self.architecture}, i.e. 4 parameters: weights of {n_hidden}x{n_in} and "
                   f"{n_out}x{n_hidden} and biases of {n_hidden} and {n_out}; found parameters of shapes {shapes}")
            self.params.append(match[0])
            self.transposed.append(tuple(match[0].shape) != options[0])

    def as_linear(self, tensors):
        """tensors in the module's layout, in Linear's (out, in) layout: [W1, b1, W2, b2]."""
        return [t if t is None or not flip else t.T for t, flip in zip(tensors, self.transposed)]

    def load(self, weights):
        """Copy weights ([W1, b1, W2, b2], Linear's layout) into the module's parameters."""
        with torch.no_grad():
            for p, w in zip(self.params, self.as_linear(weights)):
                p.copy_(w.to(p.device, p.dtype))

    def grads(self):
        return self.as_linear([None if p.grad is None else p.grad.detach().cpu().clone() for p in self.params])


class Weights:
    """Inside the block, the networks hold the given weights; their own come back after, with no
    gradients left behind. pairs: [(TwoLayers, [W1, b1, W2, b2])]"""

    def __init__(self, pairs):
        self.pairs = pairs
        self.saved = [[p.detach().clone() for p in layers.params] for layers, _ in pairs]

    def __enter__(self):
        for layers, weights in self.pairs:
            layers.load(weights)
        return self

    def __exit__(self, *exc):
        with torch.no_grad():
            for (layers, _), saved in zip(self.pairs, self.saved):
                for p, s in zip(layers.params, saved):
                    p.copy_(s)
                    p.grad = None
        return False


class CallRecorder:
    """Records the first input of every call of a module (forward hook), until closed."""

    def __init__(self, module):
        self.inputs = []
        self.handle = module.register_forward_hook(lambda m, args, out: self.inputs.append(args[0].detach()))

    def close(self):
        self.handle.remove()


def on(device, tensors):
    return [t.to(device) for t in tensors]


# ---------------------------------------------------------------------------
# Step 2: run the student's code (in the student's kernel)
# ---------------------------------------------------------------------------

def run_bernoulli(inputs, device, bernoulli_log_density):
    x, logits = on(device, (inputs["x"], inputs["logits"]))
    out = bernoulli_log_density(x, logits)
    huge = torch.tensor([[1e4, 1e4, -1e4, -1e4]], device=device, requires_grad=True)
    extreme = bernoulli_log_density(torch.tensor([[0., 1., 0., 1.]], device=device), huge)
    extreme.sum().backward()
    return {"out": plain(out), "extreme": plain(extreme), "extreme_grad": plain(huge.grad)}


def run_std_normal(inputs, device, std_normal_log_density):
    return {"out": plain(std_normal_log_density(inputs["z"].to(device))),
            "at_zero": plain(std_normal_log_density(torch.zeros(1, 1, device=device)))}


def run_log_prior(inputs, device, log_prior):
    return {"out": plain(log_prior(inputs["z"].to(device)))}


def run_gaussian(inputs, device, density):
    return {"out": plain(density(*on(device, (inputs["z"], inputs["mu"], inputs["log_sigma"]))))}


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


def run_sample_bernoulli(inputs, device, sample_bernoulli):
    probs = inputs["probs"].to(device).expand(20_000, len(inputs["probs"]))
    return {"draws": plain(sample_bernoulli(probs, generator=torch.Generator(device).manual_seed(inputs["seed"]))),
            "again": plain(sample_bernoulli(probs, generator=torch.Generator(device).manual_seed(inputs["seed"])))}


def run_table(inputs, device, bernoulli_log_likelihood_table):
    return {"out": plain(bernoulli_log_likelihood_table(*on(device, (inputs["x"], inputs["logits"]))))}


def run_log_mean_exp(inputs, device, log_mean_exp):
    values = inputs["values"].to(device)
    return {"out": plain(log_mean_exp(values, dim=1)), "by_column": plain(log_mean_exp(values[:1].T, dim=0))}


def run_decoder(inputs, device, decoder):
    layers = TwoLayers(decoder, "decoder", DECODER_SIZES)
    with Weights([(layers, inputs["decoder"])]), torch.no_grad():
        return {"out": plain(decoder(inputs["z"].to(device)))}


def run_encoder(inputs, device, encoder, encode):
    layers = TwoLayers(encoder, "encoder", ENCODER_SIZES)
    x = inputs["x"].to(device)
    with Weights([(layers, inputs["encoder"])]), torch.no_grad():
        return {"out": plain(encoder(x)), "pair": plain(encode(x))}


def run_likelihood(inputs, device, function, decoder):
    """function(x, z) (log_likelihood or joint_log_density) with the decoder holding the given weights."""
    layers = TwoLayers(decoder, "decoder", DECODER_SIZES)
    with Weights([(layers, inputs["decoder"])]), torch.no_grad():
        return {"out": plain(function(*on(device, (inputs["x"], inputs["z"]))))}


def run_elbo(inputs, device, elbo, loss, encoder, decoder):
    """elbo(x) with its gradients, loss(x), and elbo on one digit repeated; the codes each decoded."""
    enc, dec = TwoLayers(encoder, "encoder", ENCODER_SIZES), TwoLayers(decoder, "decoder", DECODER_SIZES)
    x = inputs["x"].to(device)
    recorder = CallRecorder(decoder)
    try:
        with Weights([(enc, inputs["encoder"]), (dec, inputs["decoder"])]):
            estimate = elbo(x)
            requires_grad = isinstance(estimate, torch.Tensor) and estimate.requires_grad
            codes = list(recorder.inputs)
            if requires_grad and estimate.dim() == 0:
                estimate.backward()
            grads = enc.grads() + dec.grads()
            recorder.inputs.clear()
            value = loss(x)
            loss_codes = list(recorder.inputs)
            loss_requires_grad = isinstance(value, torch.Tensor) and value.requires_grad
            recorder.inputs.clear()
            with torch.no_grad():
                elbo(x[:1].expand(NOISE_DRAWS, -1))
            noise_codes = list(recorder.inputs)
    finally:
        recorder.close()
    return {"estimate": plain(estimate), "requires_grad": requires_grad, "codes": plain(codes),
            "grads": grads, "loss": plain(value), "loss_requires_grad": loss_requires_grad,
            "loss_codes": plain(loss_codes), "noise_codes": plain(noise_codes)}


class StepWatcher:
    """Watches every optimizer step while open: whether the gradient of one parameter (the decoder's
    last bias) at the step is the one the latest backward pass computed, how many passes ran since the
    last step, and the weights the step starts from (layers: the TwoLayers of both networks)."""

    def __init__(self, parameter, layers):
        self.parameter, self.layers, self.latest, self.passes = parameter, layers, None, 0
        self.steps, self.weights = [], []
        self.handles = [parameter.register_hook(self.saw_gradient),
                        register_optimizer_step_pre_hook(self.saw_step)]

    def saw_gradient(self, grad):
        self.latest, self.passes = grad.detach().clone(), self.passes + 1

    def saw_step(self, optimizer, args, kwargs):
        grad = self.parameter.grad
        fresh = grad is not None and self.latest is not None and torch.allclose(grad, self.latest)
        self.steps.append([self.passes, fresh])
        self.weights.append([p.detach().cpu().clone() for layers in self.layers for p in layers.as_linear(layers.params)])
        self.passes = 0

    def close(self):
        for handle in self.handles:
            handle.remove()


def run_train(inputs, device, train, encoder, decoder, config):
    """TRAIN_STEPS steps of train() from the given weights; the networks' own weights are put back."""
    enc, dec = TwoLayers(encoder, "encoder", ENCODER_SIZES), TwoLayers(decoder, "decoder", DECODER_SIZES)
    x = inputs["x"].to(device)
    batches, codes = CallRecorder(encoder), CallRecorder(decoder)
    watcher = StepWatcher(dec.params[3], (enc, dec))
    try:
        with Weights([(enc, inputs["encoder"]), (dec, inputs["decoder"])]):
            with tempfile.TemporaryDirectory() as scratch:
                history = train(encoder, decoder, x,
                                {**config, "n_epochs": 1, "batch_size": BATCH_SIZE, "lr": LEARNING_RATE},
                                Path(scratch) / "check.pt", show_progress=False)
                written = (Path(scratch) / "check.pt").is_file()
            after = [p.detach().cpu().clone() for p in enc.as_linear(enc.params) + dec.as_linear(dec.params)]
    finally:
        for closable in (batches, codes, watcher):
            closable.close()
    return {"history": plain(history), "written": written, "after": after, "batches": plain(batches.inputs),
            "codes": plain(codes.inputs), "steps": watcher.steps, "weights_at_steps": watcher.weights}


def run_scatter(inputs, device, mu_train):
    return {"mu_train": plain(mu_train)}


def run_prior_samples(inputs, device, z_prior, prior_means, prior_samples):
    return {"z_prior": plain(z_prior), "prior_means": plain(prior_means), "prior_samples": plain(prior_samples)}


def run_reconstructions(inputs, device, x_four, z_four, recon_means, recon_samples):
    return {"x_four": plain(x_four), "z_four": plain(z_four), "recon_means": plain(recon_means),
            "recon_samples": plain(recon_samples)}


def run_lattice(inputs, device, lattice_image):
    return {"lattice_image": plain(lattice_image)}


# Where tile row r and column c of the lattice sit in z: as asked (z_1 to the right, z_2 upwards), and as
# two mistakes place them.
LATTICE_LAYOUTS = {"tiles": lambda row, column: (column, LATTICE_SIZE - 1 - row),
                   "upside down": lambda row, column: (column, row),
                   "transposed": lambda row, column: (row, LATTICE_SIZE - 1 - column)}


def lattice_codes(layout="tiles"):
    """The codes of the compared lattice tiles, row by row: (len(LATTICE_PICKED) ** 2, 2)."""
    ticks = torch.linspace(-LATTICE_RANGE, LATTICE_RANGE, LATTICE_SIZE, dtype=torch.float64)
    place = LATTICE_LAYOUTS[layout]
    return torch.tensor([[ticks[i] for i in place(row, column)] for row in LATTICE_PICKED for column in LATTICE_PICKED])


# ---------------------------------------------------------------------------
# Step 3: compare (in the kernel for the notebook's checks, in the grader when grading)
# ---------------------------------------------------------------------------

def compare_bernoulli(inputs, results, expected, figure=None):
    found = results["out"]
    expect_close(found, expected["out"], "bernoulli_log_density(x, logits)", atol=1e-4, hints=expected)
    extreme = results["extreme"]
    expect(isinstance(extreme, torch.Tensor) and torch.equal(extreme, torch.tensor([[-1e4, 0., 0., -1e4]])),
           "bernoulli_log_density at logits of +-1e4: expected exactly [-1e4, 0, 0, -1e4] for x = [0, 1, 0, 1], "
           f"found {extreme.tolist()[0] if isinstance(extreme, torch.Tensor) else describe(extreme)} "
           "(compute it from the logits, not from sigmoid then log)")
    grad = results["extreme_grad"]
    expect(isinstance(grad, torch.Tensor) and bool(torch.isfinite(grad).all()),
           "bernoulli_log_density at logits of +-1e4: expected finite gradients, found "
           f"{grad.tolist()[0] if isinstance(grad, torch.Tensor) else describe(grad)}")
    return [f"bernoulli_log_density: {tuple(found.shape)}, matches log(mu) and log(1 - mu)",
            "exact, with finite gradients, at logits of +-1e4: ok"]


def compare_std_normal(inputs, results, expected, figure=None):
    found = results["out"]
    expect_close(found, expected["out"], "std_normal_log_density(z)", atol=1e-4, hints=expected)
    at_zero, wanted = results["at_zero"], float(expected["at_zero"])
    expect(isinstance(at_zero, torch.Tensor) and at_zero.numel() == 1
           and math.isclose(at_zero.item(), wanted, abs_tol=1e-6),
           f"std_normal_log_density of a 1-D zero: expected log(1 / sqrt(2 pi)) = {wanted:.6f}, found "
           f"{at_zero.flatten()[0].item() if isinstance(at_zero, torch.Tensor) and at_zero.numel() else describe(at_zero)}")
    return [f"std_normal_log_density: {tuple(found.shape)}, matches -|z|^2 / 2 - (K / 2) log(2 pi): ok"]


def compare_log_prior(inputs, results, expected, figure=None):
    expect_close(results["out"], expected["out"], "log_prior(z)", atol=1e-4, hints=expected)
    return [f"log_prior: {tuple(results['out'].shape)}, matches N(0, I): ok"]


def gaussian_comparison(name):
    def compare(inputs, results, expected, figure=None):
        expect_close(results["out"], expected["out"], f"{name}(z, mu, log_sigma)", atol=1e-4, hints=expected)
        return [f"{name}: {tuple(results['out'].shape)}, matches the Gaussian formula: ok"]
    return compare


def compare_sample_diag_gaussian(inputs, results, expected=None, figure=None):
    mu, z = inputs["mu"].double(), results["z"]
    expect(isinstance(z, torch.Tensor) and tuple(z.shape) == tuple(mu.shape),
           f"sample_diag_gaussian: expected z of shape {tuple(mu.shape)}, found {describe(z)}")
    expect(isinstance(results["again"], torch.Tensor) and torch.equal(z, results["again"]),
           "sample_diag_gaussian: expected the same draws from two generators with the same seed (draw the "
           "noise with the generator argument)")
    expect(results["requires_grad"], "sample_diag_gaussian: expected z to carry gradients back to mu and "
                                     "log_sigma (z = mu + exp(log_sigma) * eps); found a result detached from them")
    grad_mu, grad_log_sigma = results["grad_mu"], results["grad_log_sigma"]
    expect(isinstance(grad_mu, torch.Tensor) and torch.allclose(grad_mu.double(), torch.ones_like(mu)),
           "sample_diag_gaussian: expected dz/dmu = 1 (z = mu + exp(log_sigma) * eps), found "
           f"{grad_mu[0].tolist() if isinstance(grad_mu, torch.Tensor) else grad_mu} in the first row")
    expect(isinstance(grad_log_sigma, torch.Tensor)
           and torch.allclose(grad_log_sigma.double(), z.double() - mu, atol=1e-5, rtol=1e-4),
           "sample_diag_gaussian: expected dz/dlog_sigma = exp(log_sigma) * eps = z - mu, found otherwise "
           "(is log_sigma used as the log of the standard deviation?)")
    many, want_mean, want_sd = results["many"], inputs["many_mu"], math.exp(inputs["many_log_sigma"])
    expect_tensor(many, "sample_diag_gaussian(mu, log_sigma) of 100000 x 2", (100_000, 2))
    mean, sd = many.double().mean(0), many.double().std(0)
    near = lambda found, value: bool((found / value - 1).abs().max() < 0.02)  # noqa: E731
    named = ("; it is exp(log_sigma) squared: the variance used as the standard deviation?" if near(sd, want_sd ** 2)
             else "; it is exp(log_sigma / 2): log_sigma used as the log of the variance?" if near(sd, want_sd ** 0.5)
             else "; it is log_sigma itself: is exp missing?" if near(sd, abs(inputs["many_log_sigma"])) else "")
    expect(bool((mean - want_mean).abs().max() < 0.02 * max(1.0, want_sd) and (sd / want_sd - 1).abs().max() < 0.02),
           f"sample_diag_gaussian(mu={want_mean:.3f}, log_sigma={inputs['many_log_sigma']:.3f}), {len(many)} draws: "
           f"expected mean {want_mean:.3f} and standard deviation exp(log_sigma) = {want_sd:.3f} within 2 %, found "
           f"mean {[round(v, 3) for v in mean.tolist()]} and sd {[round(v, 3) for v in sd.tolist()]}"
           + (named if near(mean, want_mean) or abs(want_mean) < 0.05 else ""))
    return ["sample_diag_gaussian: reparameterized, dz/dmu = 1 and dz/dlog_sigma = z - mu: ok",
            "repeats with a seeded generator; mean and standard deviation within 2 %: ok"]


def compare_sample_bernoulli(inputs, results, expected=None, figure=None):
    probs, draws = inputs["probs"], results["draws"]
    shape = (20_000, len(probs))
    expect(isinstance(draws, torch.Tensor) and tuple(draws.shape) == shape and draws.dtype == probs.dtype,
           f"sample_bernoulli: expected a {probs.dtype} tensor of shape {shape}, found {describe(draws)}")
    expect(bool(((draws == 0) | (draws == 1)).all()), "sample_bernoulli: expected every draw to be 0 or 1")
    expect(isinstance(results["again"], torch.Tensor) and torch.equal(draws, results["again"]),
           "sample_bernoulli: expected the same draws from two generators with the same seed (draw the uniforms "
           "with the generator argument)")
    # A correct sampler's frequency is within 5 standard errors of p but once in millions of gradings
    # (0.01 was 3 at p = 1/2: a correct sampler failed about one grading in a hundred, on secret inputs).
    frequencies, probs64 = draws.double().mean(0), probs.double()
    tolerance = 5 * (probs64 * (1 - probs64) / len(draws)).sqrt() + 1e-12  # exact at p = 0 and p = 1
    flipped = bool(((frequencies - (1 - probs64)).abs() < tolerance).all())
    expect(bool(((frequencies - probs64).abs() < tolerance).all()),
           f"sample_bernoulli: expected P(x = 1) = p for p = {[round(p, 3) for p in probs.tolist()]}, found "
           f"frequencies {[round(f, 3) for f in frequencies.tolist()]}"
           + ("; they are 1 - p: is the comparison with the uniform draws the wrong way round?" if flipped else ""))
    return [f"sample_bernoulli: {shape} {draws.dtype}, binary, repeats with a seeded generator",
            "frequencies within 5 standard errors of p, for p = 0, three between, and 1: ok"]


def compare_table(inputs, results, expected, figure=None):
    expect_close(results["out"], expected["out"], "bernoulli_log_likelihood_table(x, logits)", atol=1e-3,
                 hints=expected)
    return [f"bernoulli_log_likelihood_table: {tuple(results['out'].shape)}, entry (i, j) = log p(x_i | logits_j): ok"]


def compare_log_mean_exp(inputs, results, expected, figure=None):
    expect_close(results["out"], expected["out"], "log_mean_exp(a, dim=1)", atol=1e-3, hints=expected)
    expect_close(results["by_column"], expected["by_column"], "log_mean_exp(a, dim=0)", atol=1e-3,
                 hints=expected)
    return [f"log_mean_exp: {tuple(results['out'].shape)}, matches log(mean(exp(a))), no overflow at 1000: ok"]


NETWORK_MISTAKES = {  # the expected values of these variants are compared when the output is wrong
    "sigmoid_output": "applies a sigmoid to its outputs; they must be the raw outputs of the last Linear "
                      "(logits), no output activation",
    "relu": "uses ReLU where tanh is expected",
    "sigmoid_hidden": "uses a sigmoid where tanh is expected",
    "no_hidden": "has no tanh between its two layers",
}


def compare_network(name, sizes, found, expected):
    """found: the network's outputs; expected: {"out", and each of NETWORK_MISTAKES}."""
    architecture = f"Linear({sizes[0]}, {sizes[1]}), tanh, Linear({sizes[1]}, {sizes[2]})"
    expect_tensor(found, f"{name} outputs", expected["out"].shape)
    if not torch.allclose(found.double(), expected["out"].double(), atol=1e-4, rtol=1e-4):
        diagnosis = next((text for key, text in NETWORK_MISTAKES.items()
                          if torch.allclose(found.double(), expected[key].double(), atol=1e-4, rtol=1e-4)),
                         f"computes something else (largest difference {max_difference(found, expected['out']):.3g})")
        raise AssertionError(f"{name}: expected {architecture} with no output activation, i.e. "
                             f"W2 tanh(W1 u + b1) + b2 from its parameters; it {diagnosis}")
    return architecture


def compare_decoder(inputs, results, expected, figure=None):
    architecture = compare_network("decoder", DECODER_SIZES, results["out"], expected)
    return [f"decoder: {architecture}, found by shape", "outputs are logits W2 tanh(W1 z + b1) + b2: ok"]


def compare_encoder(inputs, results, expected, figure=None):
    architecture = compare_network("encoder", ENCODER_SIZES, results["out"], expected)
    pair = results["pair"]
    expect(isinstance(pair, list) and len(pair) == 2,
           f"encode(x): expected a pair (mu, log_sigma), found {describe(pair)}")
    expect_close(pair[0], expected["mu"], "encode(x)[0], mu (the first two outputs)", atol=1e-4,
                 hints={"mistakes": {"log_sigma, the last two outputs": expected["log_sigma"]}})
    expect_close(pair[1], expected["log_sigma"], "encode(x)[1], log_sigma (the last two outputs)", atol=1e-4,
                 hints={"mistakes": {"mu, the first two outputs": expected["mu"]}})
    return [f"encoder: {architecture}, found by shape; outputs W2 tanh(W1 x + b1) + b2: ok",
            f"encode: mu {tuple(pair[0].shape)} = first two outputs, log_sigma {tuple(pair[1].shape)} = last two: ok"]


def compare_log_likelihood(inputs, results, expected, figure=None):
    expect_close(results["out"], expected["out"], "log_likelihood(x, z)", atol=1e-3, hints=expected)
    return [f"log_likelihood: {tuple(results['out'].shape)}, sums log Ber(x_d | mu_d(z)) over the 784 pixels: ok"]


def compare_joint(inputs, results, expected, figure=None):
    expect_close(results["out"], expected["out"], "joint_log_density(x, z)", atol=1e-3, hints=expected)
    return [f"joint_log_density: {tuple(results['out'].shape)}, = log p(z) + log p(x | z): ok"]


def single_call(codes, n, what):
    """The codes of the one call of the decoder that what made, one code per digit."""
    shapes = [tuple(z.shape) if isinstance(z, torch.Tensor) else describe(z) for z in codes]
    expect(shapes == [(n, LATENT_DIM)],
           f"{what}: expected one call of decoder with one code per digit, shape {(n, LATENT_DIM)}; "
           f"found {len(shapes)} call(s) with shapes {shapes}")
    return codes[0]


def elbo_codes(inputs, results):
    """The codes that elbo(x), loss(x) and elbo of one digit repeated decoded (checked: one call each)."""
    n = len(inputs["x"])
    estimate = results["estimate"]
    expect(isinstance(estimate, torch.Tensor) and estimate.dim() == 0,
           "elbo(x): expected one number (a 0-d tensor), the mean over the batch; found "
           f"{tuple(estimate.shape) if isinstance(estimate, torch.Tensor) else describe(estimate)}")
    expect(results["requires_grad"], "elbo(x): expected a result that gradients can flow through, found one "
                                     "detached from the networks")
    return (single_call(results["codes"], n, "elbo(x)"), single_call(results["loss_codes"], n, "loss(x)"),
            single_call(results["noise_codes"], NOISE_DRAWS, "elbo(x)"))


PARAMETER_NAMES = [f"{net} {what}" for net in ("encoder", "decoder")
                   for what in ("first weight", "first bias", "second weight", "second bias")]


def compare_elbo(inputs, results, expected, figure=None):
    """expected: "estimate" and "grads" (Linear's layout) at the codes elbo(x) decoded, "terms" there (the
    batch means of log p(x | z), log p(z) and log q(z | x), for the diagnoses), "loss" at the codes loss(x)
    decoded, "noise": the standard normal draws behind the codes of one digit repeated."""
    elbo_codes(inputs, results)
    estimate, wanted = results["estimate"].item(), expected["estimate"]
    terms = expected["terms"]  # the batch means of log p(x | z), log p(z) and log q(z | x) at the codes drawn
    mistakes = {"log p(x | z) - log q(z | x): is log p(z) missing?": terms[0] - terms[2],
                "log p(x, z) alone: is - log q(z | x) missing?": terms[0] + terms[1],
                "log p(x, z) - log p(z): the prior in place of q?": terms[0],
                "log p(x, z) + log q(z | x): the sign of log q flipped?": terms[0] + terms[1] + terms[2],
                f"the sum over the batch of {len(inputs['x'])} digits, not the mean": len(inputs["x"]) * wanted}
    matched = next((text for text, value in mistakes.items() if abs(estimate - value) < 2e-3 + 1e-5 * abs(value)),
                   None)
    expect(abs(estimate - wanted) < 2e-3 + 1e-5 * abs(wanted),
           f"elbo(x): expected {wanted:.4f}, the mean over the batch of log p(x, z) - log q(z | x) at the codes "
           f"it drew, found {estimate:.4f}" + (f"; it matches {matched}" if matched else
                                               f"; off by {estimate - wanted:+.4g}"))
    for name, grad, want in zip(PARAMETER_NAMES, results["grads"], expected["grads"]):
        scale = want.abs().max().item()
        expect(isinstance(grad, torch.Tensor) and grad.abs().max().item() > 0,
               f"elbo(x): no gradient reaches the {name}; expected gradients of size up to {scale:.3g}")
        difference = max_difference(grad, want)
        expect(difference <= 1e-3 * scale + 1e-6,
               f"elbo(x): expected the gradient with respect to the {name} of the reparameterized estimate, found "
               f"one off by up to {difference:.3g} (the gradient is up to {scale:.3g}); z must be mu + sigma * eps "
               "so that gradients flow through it")
    value, wanted = results["loss"], expected["loss"]
    expect(isinstance(value, torch.Tensor) and value.dim() == 0 and results["loss_requires_grad"]
           and abs(value.item() - wanted) < 2e-3 + 1e-5 * abs(wanted),
           f"loss(x): expected -elbo(x) = {wanted:.4f} as a 0-d tensor with gradients, found "
           f"{value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else describe(value)}")
    mean, sd = expected["noise"].mean(0), expected["noise"].std(0)
    expect(bool((mean.abs() < 0.1).all() and ((sd - 1).abs() < 0.1).all()),
           f"elbo(x): expected codes z = mu + sigma * eps with eps ~ N(0, I); over {NOISE_DRAWS} draws the noise "
           f"(z - mu) / sigma has mean {[round(v, 3) for v in mean.tolist()]} and sd {[round(v, 3) for v in sd.tolist()]}")
    return ["elbo is one number: the mean over the batch of log p(x, z) - log q(z | x), one draw per digit",
            "its gradients with respect to both networks match the reparameterized estimate: ok",
            "the noise is standard normal, and loss = -elbo: ok"]


def compare_train(inputs, results, expected, figure=None):
    """expected: "losses", the loss of each step, within "loss_tolerance"; then either "after" (the
    weights after Adam's steps, [W1, b1, W2, b2] of both networks) or, where Adam is not computed by
    hand (the notebook's check), "first_step": the sign of Adam's first step of the decoder's last bias."""
    batches, codes, history = results["batches"], results["codes"], results["history"]
    expect(len(batches) == TRAIN_STEPS and len(codes) == TRAIN_STEPS,
           f"train: expected one evaluation of the loss per mini-batch ({TRAIN_STEPS} batches of {BATCH_SIZE}), "
           f"found {len(batches)} calls of the encoder and {len(codes)} of the decoder")
    expect(isinstance(history, list) and len(history) == 1 and isinstance(history[0], float),
           f"train: expected a list with one mean loss per epoch (1 epoch), found {describe(history)}")
    steps = results["steps"]
    expect(len(steps) == TRAIN_STEPS, f"train: expected one optimizer step per mini-batch ({TRAIN_STEPS}), "
                                      f"found {len(steps)} (is optimizer.step() called?)")
    for number, (passes, fresh) in enumerate(steps, start=1):
        piled = passes == 1 and not fresh
        expect(passes == 1 and fresh,
               f"train: at step {number}, expected the gradients of this batch's loss, from one backward pass "
               f"since the last step; found {passes} pass(es)"
               + (", and gradients piled up from earlier steps (reset them: optimizer.zero_grad())" if piled else
                  " (is loss.backward() called before optimizer.step()?)" if passes == 0 else ""))
    start = inputs["encoder"] + inputs["decoder"]
    mean_loss = sum(expected["losses"]) / len(expected["losses"])

    def expect_mean_loss():  # after the steps' checks, which name a wrong step better than its loss does
        expect(abs(history[0] - mean_loss) <= expected["loss_tolerance"],
               f"train: expected the epoch's mean loss {mean_loss:.3f} (the negative ELBO of each batch, "
               f"averaged), found {history[0]:.3f}")

    expect(results["written"], "train: expected a checkpoint to be written after the epoch")
    if expected.get("after") is not None:
        for name, before, after, reference in zip(PARAMETER_NAMES, start, results["after"], expected["after"]):
            step_found, step_expected = (after - before).double(), (reference - before).double()
            error = (step_found - step_expected).norm().item() / step_expected.norm().item()
            cosine = torch.nn.functional.cosine_similarity(step_found.flatten(), step_expected.flatten(), dim=0)
            opposite = cosine.item() < -0.9  # each weight moved against Adam's step
            expect(error < 0.02, f"train: expected {TRAIN_STEPS} steps from the same weights to change the {name} "
                                 f"as Adam on the negative ELBO does, found a change off by {error:.0%} of its size"
                                 + ("; it is Adam's change reversed: is the sign of the loss flipped?"
                                    if opposite else " (wrong sign, no update, or gradients not reset between steps?)"))
        expect_mean_loss()
        return [f"train: {TRAIN_STEPS} steps from fixed weights match Adam on the negative ELBO: ok",
                "one mean loss per epoch, and a checkpoint written: ok"]
    moved = results["after"][7] - start[7]
    agree = (moved.sign() == expected["first_step"]).double().mean().item()
    expect(agree > 0.9, "train: expected the steps to go down the gradient of loss(x), found the decoder's last "
                        f"bias moving that way in {agree:.0%} of its entries (is the sign of the loss right?)")
    size = moved.abs().max().item()
    expect(0.5 * LEARNING_RATE < size <= 1.5 * TRAIN_STEPS * LEARNING_RATE,
           f"train: expected {TRAIN_STEPS} Adam steps, each moving a weight by about the learning rate "
           f"{LEARNING_RATE:g}; found the decoder's last bias moved by up to {size:.3g}")
    expect_mean_loss()
    return [f"train: {TRAIN_STEPS} steps from fixed weights: one loss, one backward pass and one Adam step per "
            "mini-batch, down the gradient: ok", "one mean loss per epoch, and a checkpoint written: ok"]


def expect_png(path, size=None):
    expect(Path(path).is_file(), f"expected the figure {Path(path).name}, found no such file")
    try:
        with Image.open(path) as image:
            image.load()
            expect(image.format == "PNG", f"{Path(path).name}: expected a PNG, found {image.format}")
            if size is not None:
                expect(image.size == size, f"{Path(path).name}: expected {size[0]} x {size[1]} pixels, "
                                           f"found {image.size[0]} x {image.size[1]}")
            return image.convert("L")
    except OSError as err:
        raise AssertionError(f"{Path(path).name}: expected a PNG image, found a file that cannot be read "
                             f"({err})") from None


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


def scatter_rows(n):
    return torch.arange(0, n, SCATTER_ROWS)


def compare_scatter(inputs, results, expected, figure):
    """expected: "mu" and "log_sigma" of q(z | x) for the training digits scatter_rows(60000)."""
    mu_train = results["mu_train"]
    expect_tensor(mu_train, "mu_train", (60000, LATENT_DIM))
    found = mu_train[scatter_rows(len(mu_train))]
    if not torch.allclose(found.double(), expected["mu"].double(), atol=1e-4):
        # The right means at other rows: each compared row's mean is somewhere in mu_train.
        nearest = torch.cdist(expected["mu"].double(), mu_train.double()).min(dim=1).values
        expect(not bool((nearest <= 1e-4).all()),
               "mu_train: expected the encoder means of the training digits in x_train's order; it holds the "
               "right means in another order (shuffled, or sorted?): keep x_train's order")
    expect_close(found, expected["mu"], "mu_train, the encoder means of the training digits (in x_train's order)",
                 atol=1e-4, hints={"mistakes": {"the encoder's log_sigma, not its mu": expected["log_sigma"]}})
    expect_png(figure)
    return [f"mu_train: {tuple(mu_train.shape)}, the encoder means of the training digits: ok",
            f"figure saved: {Path(figure).name}"]


def compare_prior_samples(inputs, results, expected, figure):
    """expected: "means" sigmoid(decoder(z_prior)) and "logits" decoder(z_prior) at the reported z_prior."""
    z_prior, prior_means, prior_samples = results["z_prior"], results["prior_means"], results["prior_samples"]
    expect_tensor(z_prior, "z_prior", (10, LATENT_DIM))
    expect_tensor(prior_means, "prior_means", (10, DATA_DIM))
    expect_tensor(prior_samples, "prior_samples", (10, 3, DATA_DIM))
    expect(len(set(map(tuple, z_prior.tolist()))) == 10 and bool((z_prior.abs() < 6).all()),
           "z_prior: expected 10 different draws from N(0, I)")
    expect_close(prior_means, expected["means"], "prior_means, sigmoid(decoder(z_prior))", atol=1e-5,
                 hints={"mistakes": {"decoder(z_prior), the logits: is the sigmoid missing?": expected["logits"]}})
    expect_binary_draws(prior_samples, prior_means.unsqueeze(1).expand_as(prior_samples), "prior_samples")
    expect(not bool((prior_samples[:, 0] == prior_samples[:, 1]).all() and
                    (prior_samples[:, 1] == prior_samples[:, 2]).all()),
           "prior_samples: expected 3 independent samples per code, found 3 identical ones")
    expect_png(figure)
    return [f"z_prior {tuple(z_prior.shape)}, prior_means {tuple(prior_means.shape)} = sigmoid(decoder(z)), "
            f"prior_samples {tuple(prior_samples.shape)}: ok",
            "the samples are binary and as frequent as the means say: ok",
            f"figure saved: {Path(figure).name}"]


def compare_reconstructions(inputs, results, expected, figure):
    """expected: "in_train" (4 bools: each row of x_four is a training digit), "mu" and "sigma" of
    q(z | x) for x_four, "means" sigmoid(decoder(z_four)) at the reported codes."""
    x_four, z_four = results["x_four"], results["z_four"]
    recon_means, recon_samples = results["recon_means"], results["recon_samples"]
    expect_tensor(x_four, "x_four", (4, DATA_DIM))
    expect_tensor(z_four, "z_four", (4, 2, LATENT_DIM))
    expect_tensor(recon_means, "recon_means", (4, 2, DATA_DIM))
    expect_tensor(recon_samples, "recon_samples", (4, 2, DATA_DIM))
    expect(all(expected["in_train"]), "x_four: expected 4 digits taken from x_train, found rows that are not in it")
    standardised = (z_four.double() - expected["mu"].unsqueeze(1)) / expected["sigma"].unsqueeze(1)
    expect(bool((standardised.abs() < 6).all()) and not bool((z_four[:, 0] == z_four[:, 1]).all()),
           "z_four: expected two different draws from q(z | x) of each digit, i.e. mu + sigma * eps with the "
           f"encoder's mu and sigma; found codes up to {standardised.abs().max().item():.1f} sigmas away from mu")
    expect_close(recon_means, expected["means"], "recon_means, sigmoid(decoder(z_four))", atol=1e-5)
    expect_binary_draws(recon_samples, recon_means, "recon_samples")
    expect_png(figure)
    return [f"x_four {tuple(x_four.shape)} from the training set; z_four {tuple(z_four.shape)} drawn from q(z | x)",
            f"recon_means {tuple(recon_means.shape)} = sigmoid(decoder(z)); recon_samples binary draws: ok",
            f"figure saved: {Path(figure).name}"]


def compare_lattice(inputs, results, expected, figure):
    """expected: for each layout of LATTICE_LAYOUTS, sigmoid(decoder(lattice_codes(layout))) as (n, 28, 28)."""
    side = LATTICE_SIZE * 28
    image = results["lattice_image"]
    expect_tensor(image, "lattice_image", (side, side))
    tiles = torch.stack([image[28 * row:28 * row + 28, 28 * column:28 * column + 28]
                         for row in LATTICE_PICKED for column in LATTICE_PICKED])
    mistakes = {"the lattice upside down: z_2 must grow upwards, row 0 at the top holding z_2 = 3":
                expected["upside down"],
                "the lattice transposed: z_1 must grow to the right, along a row": expected["transposed"]}
    expect_close(tiles, expected["tiles"], "lattice_image: the tile in tile row r and column c is the decoder's "
                                           "means at z = (z1[c], z2[49 - r]) over [-3, 3]^2, z_1 to the right and "
                                           "z_2 upwards", atol=1e-4, hints={"mistakes": mistakes})
    saved = expect_png(figure, size=(side, side))
    grey = torch.frombuffer(bytearray(saved.tobytes()), dtype=torch.uint8).view(side, side)
    worst = (grey.double() / 255 - image.double()).abs().max().item()
    expect(worst <= 2.5 / 255, f"{Path(figure).name}: expected the lattice image's means as grey levels (0 black, "
                               f"255 white), found pixels {worst * 255:.0f} grey levels away")
    return [f"lattice_image: {tuple(image.shape)}, the decoder's means tiled with z_1 to the right and z_2 "
            "upwards: ok", f"{Path(figure).name}: {saved.size[0]} x {saved.size[1]} greyscale pixels, the same image: ok"]


# part: (run, the notebook names it takes after inputs and device, compare, figure file or None)
PARTS = {
    "helpers.bernoulli_log_density": (run_bernoulli, ("bernoulli_log_density",), compare_bernoulli, None),
    "helpers.std_normal_log_density": (run_std_normal, ("std_normal_log_density",), compare_std_normal, None),
    "log_prior": (run_log_prior, ("log_prior",), compare_log_prior, None),
    "decoder": (run_decoder, ("decoder",), compare_decoder, None),
    "log_likelihood": (run_likelihood, ("log_likelihood", "decoder"), compare_log_likelihood, None),
    "joint_log_density": (run_likelihood, ("joint_log_density", "decoder"), compare_joint, None),
    "helpers.diag_gaussian_log_density": (run_gaussian, ("diag_gaussian_log_density",),
                                          gaussian_comparison("diag_gaussian_log_density"), None),
    "helpers.sample_diag_gaussian": (run_sample_diag_gaussian, ("sample_diag_gaussian",),
                                     compare_sample_diag_gaussian, None),
    "encoder": (run_encoder, ("encoder", "encode"), compare_encoder, None),
    "log_q": (run_gaussian, ("log_q",), gaussian_comparison("log_q"), None),
    "elbo and loss": (run_elbo, ("elbo", "loss", "encoder", "decoder"), compare_elbo, None),
    "train": (run_train, ("train", "encoder", "decoder", "CONFIG"), compare_train, None),
    "scatter (5.1)": (run_scatter, ("mu_train",), compare_scatter, "latent_scatter.png"),
    "helpers.sample_bernoulli": (run_sample_bernoulli, ("sample_bernoulli",), compare_sample_bernoulli, None),
    "prior samples (5.2)": (run_prior_samples, ("z_prior", "prior_means", "prior_samples"),
                            compare_prior_samples, "prior_samples.png"),
    "reconstructions (5.3)": (run_reconstructions, ("x_four", "z_four", "recon_means", "recon_samples"),
                              compare_reconstructions, "reconstructions.png"),
    "lattice (5.4)": (run_lattice, ("lattice_image",), compare_lattice, "latent_lattice.png"),
    "helpers.bernoulli_log_likelihood_table": (run_table, ("bernoulli_log_likelihood_table",), compare_table, None),
    "helpers.log_mean_exp": (run_log_mean_exp, ("log_mean_exp",), compare_log_mean_exp, None),
}
# Their inputs are the networks' weights: grading puts those of the seed ("weights") into the student's networks.
VISUALIZATIONS = ("scatter (5.1)", "prior samples (5.2)", "reconstructions (5.3)", "lattice (5.4)")
STORED = ("helpers.bernoulli_log_density", "helpers.std_normal_log_density", "log_prior", "decoder",
          "log_likelihood", "joint_log_density", "helpers.diag_gaussian_log_density", "encoder", "log_q",
          "helpers.bernoulli_log_likelihood_table", "helpers.log_mean_exp")  # expected values in EXPECTED_FILE


# ---------------------------------------------------------------------------
# The notebook's checks, on the public inputs
# ---------------------------------------------------------------------------

def report(lines):
    for line in lines:
        print(line)


@functools.cache
def stored_expected():
    """{part: expected values} of vaekit/checks_expected.pt, read once."""
    return torch.load(EXPECTED_FILE, weights_only=True)


def result_file(folder, part):
    """Where a grading saves a part's results (the probe) and reads them (the judge)."""
    return Path(folder) / f"{list(PARTS).index(part)}.pt"


def public_check(part, device, *code, expected=None, figure=None):
    """Run a part on the public inputs and compare; print what passed."""
    run, _, compare, _ = PARTS[part]
    inputs = inputs_for(part, PUBLIC_SEED)
    results = run(inputs, device, *code)
    report(compare(inputs, results, stored_expected()[part] if expected is None else expected(inputs, results),
                   figure))


def check_data(x_train, x_test, first_batch):
    for name, x, n in (("x_train", x_train, 60000), ("x_test", x_test, 10000)):
        expect(tuple(x.shape) == (n, DATA_DIM) and x.dtype == torch.float32,
               f"{name}: expected a float32 tensor of shape ({n}, {DATA_DIM}), found {x.dtype} {tuple(x.shape)}")
        expect(bool(((x == 0) | (x == 1)).all()), f"{name}: expected every pixel to be 0 or 1")
    expect(tuple(first_batch.shape) == (200, DATA_DIM),
           f"first_batch: expected shape (200, {DATA_DIM}), found {tuple(first_batch.shape)}")
    share = x_train.mean().item()
    expect(0.12 < share < 0.14, f"x_train: expected about 13 % of pixels on (MNIST > 0.5), found {share:.1%}")
    report([f"training set: {tuple(x_train.shape)} {x_train.dtype}; test set: {tuple(x_test.shape)}",
           f"one mini-batch: {tuple(first_batch.shape)}",
           "every pixel is 0 or 1, and about 13 % are on: ok"])


def check_bernoulli_log_density(bernoulli_log_density, device):
    public_check("helpers.bernoulli_log_density", device, bernoulli_log_density)


def check_std_normal_log_density(std_normal_log_density, device):
    public_check("helpers.std_normal_log_density", device, std_normal_log_density)


def check_diag_gaussian_log_density(diag_gaussian_log_density, device):
    public_check("helpers.diag_gaussian_log_density", device, diag_gaussian_log_density)


def check_sample_diag_gaussian(sample_diag_gaussian, device):
    public_check("helpers.sample_diag_gaussian", device, sample_diag_gaussian, expected=lambda i, r: None)


def check_sample_bernoulli(sample_bernoulli, device):
    public_check("helpers.sample_bernoulli", device, sample_bernoulli, expected=lambda i, r: None)


def check_likelihood_table(bernoulli_log_likelihood_table, device):
    public_check("helpers.bernoulli_log_likelihood_table", device, bernoulli_log_likelihood_table)


def check_log_mean_exp(log_mean_exp, device="cpu"):
    public_check("helpers.log_mean_exp", device, log_mean_exp)


def check_log_prior(log_prior, device):
    public_check("log_prior", device, log_prior)


def check_decoder(decoder, device):
    public_check("decoder", device, decoder)


def check_log_likelihood(log_likelihood, decoder, device):
    public_check("log_likelihood", device, log_likelihood, decoder)


def check_joint_log_density(joint_log_density, decoder, device):
    public_check("joint_log_density", device, joint_log_density, decoder)


def check_encoder(encoder, encode, device):
    public_check("encoder", device, encoder, encode)


def check_log_q(log_q, device):
    public_check("log_q", device, log_q)


def check_elbo(elbo, loss, encode, joint_log_density, log_q, log_prior, encoder, decoder, device):
    """elbo and loss against the student's own joint_log_density and log_q (checked above) at the codes
    elbo decoded; the gradients against autograd through z = mu + sigma * eps with the same noise."""
    def own(inputs, results):
        x = inputs["x"].to(device)
        z_drawn, loss_codes, noise_codes = (z.to(device) for z in elbo_codes(inputs, results))
        enc, dec = TwoLayers(encoder, "encoder", ENCODER_SIZES), TwoLayers(decoder, "decoder", DECODER_SIZES)
        with Weights([(enc, inputs["encoder"]), (dec, inputs["decoder"])]):
            def mean_elbo(codes):
                mu, log_sigma = encode(x)
                z = mu + log_sigma.exp() * ((codes - mu) / log_sigma.exp()).detach()
                return (joint_log_density(x, z) - log_q(z, mu, log_sigma)).mean()
            estimate = mean_elbo(z_drawn)
            estimate.backward()
            grads = enc.grads() + dec.grads()
            with torch.no_grad():
                mu, log_sigma = encode(x)
                prior = log_prior(z_drawn)
                terms = [(joint_log_density(x, z_drawn) - prior).mean().item(), prior.mean().item(),
                         log_q(z_drawn, mu, log_sigma).mean().item()]
                loss_value = -mean_elbo(loss_codes).item()
                mu, log_sigma = encode(x[:1])
                noise = ((noise_codes - mu) / log_sigma.exp()).double().cpu()
        return {"estimate": estimate.item(), "grads": grads, "terms": terms, "loss": loss_value, "noise": noise}
    public_check("elbo and loss", device, elbo, loss, encoder, decoder, expected=own)


def check_train(train, loss, encoder, decoder, config, device):
    """Steps of train() from fixed weights: one loss, one backward pass and one optimizer step per
    mini-batch, with fresh gradients, going down the gradient of the student's own loss (checked above)
    by Adam's step size. The loss of each step is the student's on the same batch with fresh noise."""
    def own(inputs, results):
        batches = results["batches"]
        expect(len(batches) == TRAIN_STEPS, f"train: expected one evaluation of the loss per mini-batch "
                                            f"({TRAIN_STEPS} batches of {BATCH_SIZE}), found {len(batches)}")
        enc, dec = TwoLayers(encoder, "encoder", ENCODER_SIZES), TwoLayers(decoder, "decoder", DECODER_SIZES)
        with Weights([(enc, inputs["encoder"]), (dec, inputs["decoder"])]):
            loss(batches[0].to(device)).backward()
            first_grad = dec.grads()[3]
        losses = []  # each batch's loss at the weights its step started from
        for batch, weights in zip(batches, results["weights_at_steps"]):
            with Weights([(enc, weights[:4]), (dec, weights[4:])]), torch.no_grad():
                losses.append(loss(batch.to(device)).item())
        # One draw of noise per digit: the batch mean moves by far less than 2 % between draws.
        return {"losses": losses or [math.nan], "loss_tolerance": 0.02 * abs(sum(losses) / max(len(losses), 1)),
                "first_step": -first_grad.sign()}
    public_check("train", device, train, encoder, decoder, config, expected=own)


def check_training_run(loss_history, config, checkpoint):
    expect(len(loss_history) == config["n_epochs"],
           f"loss_history: expected one loss per epoch ({config['n_epochs']}), found {len(loss_history)}")
    expect(loss_history[-1] < loss_history[0],
           f"loss_history: expected the loss to fall, found {loss_history[0]:.2f} then {loss_history[-1]:.2f}")
    expect(Path(checkpoint).is_file(), f"expected a checkpoint at {checkpoint}")
    report(["one loss per epoch, the loss went down, and the checkpoint is on disk: ok"])


def check_scatter(mu_train, encode, x_train, figure):
    def own(inputs, results):
        with torch.no_grad():
            mu, log_sigma = encode(x_train[scatter_rows(len(x_train)).to(x_train.device)])
        return {"mu": mu.cpu(), "log_sigma": log_sigma.cpu()}
    public_check("scatter (5.1)", x_train.device, mu_train, expected=own, figure=figure)


def check_prior_samples(z_prior, prior_means, prior_samples, decoder, figure):
    def own(inputs, results):
        device = next(decoder.parameters()).device
        with torch.no_grad():
            logits = decoder(results["z_prior"].to(device)).cpu()
        return {"means": torch.sigmoid(logits), "logits": logits}
    public_check("prior samples (5.2)", "cpu", z_prior, prior_means, prior_samples, expected=own, figure=figure)


def check_reconstructions(x_four, z_four, recon_means, recon_samples, encode, decoder, x_train, figure):
    def own(inputs, results):
        x = results["x_four"].to(x_train.device)
        with torch.no_grad():
            mu, log_sigma = encode(x)
            means = torch.sigmoid(decoder(results["z_four"].reshape(8, LATENT_DIM).to(x.device))).view(4, 2, DATA_DIM)
        return {"in_train": [bool((x_train == row).all(1).any()) for row in x], "mu": mu.double().cpu(),
                "sigma": log_sigma.exp().double().cpu(), "means": means.cpu()}
    public_check("reconstructions (5.3)", "cpu", x_four, z_four, recon_means, recon_samples, expected=own,
                 figure=figure)


def check_lattice(lattice_image, decoder, figure):
    def own(inputs, results):
        device = next(decoder.parameters()).device
        with torch.no_grad():
            return {layout: torch.sigmoid(decoder(lattice_codes(layout).float().to(device))).view(-1, 28, 28).cpu()
                    for layout in LATTICE_LAYOUTS}
    public_check("lattice (5.4)", "cpu", lattice_image, expected=own, figure=figure)


def check_figures(folder, names):
    for name in names:
        expect_png(Path(folder) / f"{name}.png")
    report([f"figures saved: {', '.join(names)}"])


# ---------------------------------------------------------------------------
# Section 6: the evaluation (no points: properties of the given code's results)
# ---------------------------------------------------------------------------

# The bounds hold in expectation; their means over a few test digits may cross by Monte Carlo noise
# where they are close (a q near the posterior: IWAE_100 and IWAE_10 of a correct model graded on 50
# digits after 2 epochs were seen 0.01 nats apart the wrong way).
BOUNDS_NOISE = 0.05


def check_bounds(bounds, log_px):
    """ELBO <= IWAE_k <= exact on average, and IWAE_k rises with k, within BOUNDS_NOISE nats."""
    elbo_mean, exact_mean = bounds["elbo"].mean().item(), log_px.mean().item()
    ks = sorted(bounds["iwae"])
    iwae_means = [bounds["iwae"][k].mean().item() for k in ks]
    expect(elbo_mean <= iwae_means[-1] + BOUNDS_NOISE and iwae_means[-1] <= exact_mean + BOUNDS_NOISE,
           f"expected ELBO <= IWAE_{ks[-1]} <= exact log p(x) on average, found {elbo_mean:.2f}, "
           f"{iwae_means[-1]:.2f} and {exact_mean:.2f}")
    expect(all(a < b + BOUNDS_NOISE for a, b in zip(iwae_means, iwae_means[1:])),
           f"expected IWAE_k to rise with k on average, found {[round(m, 2) for m in iwae_means]} for k = {ks}")
    report([f"ELBO <= IWAE_{ks[-1]} <= exact log p(x), on average: ok", "IWAE_k rises with k, on average: ok"])


def check_posterior(log_posterior_on_grid, latent_grid, model, x, half_width):
    """The exact posterior of a few digits integrates to 1 on the grid."""
    with torch.no_grad():
        z_grid, log_cell = latent_grid(half_width, 241, device=x.device)
        mass = (log_posterior_on_grid(model, x, z_grid, log_cell).exp().sum(1) * math.exp(log_cell)).cpu()
    expect(torch.allclose(mass, torch.ones(len(x), dtype=mass.dtype), atol=1e-4),
           f"expected posterior densities that integrate to 1 on the grid, found {mass.tolist()}")
    report(["posterior densities integrate to 1 on the grid: ok"])
