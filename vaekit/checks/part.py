"""What a part of the assignment is to its check, and how the notebook's check runs it.

A part (a function of helpers.py, of the model, the ELBO, training or a
visualization) is one Part record: how its inputs are drawn, what runs the
student's code on them, and how the results are compared. Its check runs in
three steps, so that the same code serves a student's run of the notebook and
a grading:

1. draw_inputs: the inputs, drawn on the CPU from a seed (PUBLIC_SEED for the
   notebook's checks; a secret one for each grading).
2. run(inputs, device, *the notebook's objects named by takes): calls the
   student's functions and networks and returns plain results (tensors,
   numbers, strings). When grading, this is all that runs in the student's
   kernel.
3. compare(inputs, results, expected, figure): raises AssertionError saying
   what was expected, what was found and what the mistake most likely is, or
   returns the lines that say what passed.

A check that passes prints only lines that cannot drift across machines,
thread counts or CPU/GPU, so the solution notebook's saved outputs are the
reference that nbval compares with.
"""
import functools
import hashlib
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import torch

DATA_DIM, HIDDEN_DIM, LATENT_DIM = 784, 500, 2
ENCODER_SIZES, DECODER_SIZES = (DATA_DIM, HIDDEN_DIM, 2 * LATENT_DIM), (LATENT_DIM, HIDDEN_DIM, DATA_DIM)
PUBLIC_SEED = 0
EXPECTED_FILE = Path(__file__).resolve().parents[1] / "checks_expected.pt"


@dataclass(frozen=True)
class Part:
    """One part of the assignment, as its check sees it.

    name:        the part's name, as the check cell and the grade name it ("log_prior",
                 "helpers.log_mean_exp", "scatter (5.1)")
    takes:       the names, in the notebook, of the objects that run takes after inputs and device
    draw_inputs: generator -> {name: CPU tensor or number}, the inputs of the check
    run:         (inputs, device, *objects) -> {name: plain result}
    compare:     (inputs, results, expected, figure) -> lines that say what passed
    figure:      the file in figures/ the part saves, or None
    stored:      the notebook's check compares with values stored in checks_expected.pt (else with
                 values it computes with the student's own functions, already checked)
    uses_networks: its functions reach the encoder and decoder through the notebook's globals
    visualization: a figure of section 5: it reads the trained networks, and takes no inputs of its own
    """
    name: str
    takes: tuple
    draw_inputs: Callable
    run: Callable
    compare: Callable
    figure: Optional[str] = None
    stored: bool = False
    uses_networks: bool = False
    visualization: bool = False


def no_inputs(generator):
    return {}


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


def networks_inputs(generator, n):
    """n binary digits and the weights of both networks: the inputs of the ELBO and training."""
    return {"x": binary_digits(generator, n), "encoder": network_weights(generator, ENCODER_SIZES),
            "decoder": network_weights(generator, DECODER_SIZES)}


def inputs_for(part, seed):
    """The inputs of part (a Part) for seed, the same for the same seed."""
    return part.draw_inputs(generator_for(part.name, seed))


def seed_weights(seed):
    """The weights that grading puts into the student's networks for the visualizations."""
    return networks_inputs(generator_for("weights", seed), 0)


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


def report(lines):
    for line in lines:
        print(line)


@functools.cache
def stored_expected():
    """{part: expected values} of vaekit/checks_expected.pt, read once."""
    return torch.load(EXPECTED_FILE, weights_only=True)


def public_check(part, device, *objects, expected=None, figure=None):
    """The notebook's check of part (a Part): run it on the public inputs, compare, print what passed.

    expected: (inputs, results) -> the expected values, for a part that is not stored
    """
    inputs = inputs_for(part, PUBLIC_SEED)
    results = part.run(inputs, device, *objects)
    if part.stored:
        wanted = stored_expected()[part.name]
    else:
        wanted = expected(inputs, results) if expected else None
    report(part.compare(inputs, results, wanted, figure))
