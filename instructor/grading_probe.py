"""What the student's kernel runs when grading: the student's code on secret inputs, nothing judged.

instructor/grade.py copies this module into the grading folder, and instructor/merge.py
puts, in place of each check cell that carries points,

    from instructor import grading_probe; grading_probe.report(PART, globals())

which runs the part's run (vaekit/checks/) on the inputs of the seed in
grading_seed and saves its plain results (tensors, numbers, strings) to grading_results/,
for instructor/judge.py to compare in the grader's own process. An error in the
student's code is saved as the part's reason. Nothing here decides a grade:
whatever a student's cell does to this module or to vaekit/checks/, the judge
compares the numbers with its own references on inputs drawn from the seed.

The functions that use the networks through the notebook's globals
(log_likelihood, joint_log_density, elbo, loss, train) run with the
assignment's networks in place of the student's, holding the inputs' weights,
so that each part is graded on its own. Before section 5, use_weights() puts
the seed's weights into the student's own networks for the visualizations;
restore_weights() puts the trained ones back before section 6.
"""
from pathlib import Path

import torch

from instructor.reference_model import build_networks
from vaekit.checks import PARTS
from vaekit.checks.networks import TwoLayers, Weights
from vaekit.checks.part import DATA_DIM, DECODER_SIZES, ENCODER_SIZES, HIDDEN_DIM, LATENT_DIM, inputs_for, seed_weights

SEED_FILE = Path("grading_seed")
RESULTS = Path("grading_results")
SIZES = {"data_dim": DATA_DIM, "hidden_dim": HIDDEN_DIM, "latent_dim": LATENT_DIM}
TRAINED = {}  # the student's trained weights while use_weights() has replaced them


def seed():
    return int(SEED_FILE.read_text())


def reason(err):
    """One line that says what the student's code raised."""
    text = str(err) if isinstance(err, AssertionError) else f"{type(err).__name__}: {err}"
    return text.strip().splitlines()[0][:500] if text.strip() else type(err).__name__


def not_defined(names):
    """The NameError of a part whose objects, names, the notebook does not hold, with its cause for failed()."""
    err = NameError(f"{', '.join(names)} is not defined (the cell that defines it did not run, or failed)")
    err.cause = "not-defined"
    return err


def failed(err):
    """The results of a part whose run raised err: its reason, and its cause (vaekit/checks/compare.py): the
    check's own where a check inside the run failed, else what was raised (e.g. raised-NotImplementedError)."""
    return {"error": reason(err), "cause": getattr(err, "cause", None) or f"raised-{type(err).__name__}"}


def result_file(folder, part):
    """Where a grading saves a part's results (here) and reads them (instructor/judge.py)."""
    return Path(folder) / f"{list(PARTS).index(part)}.pt"


def code_for(part, namespace):
    """The notebook's objects that the part's run takes, by the names its record gives. A part that uses
    the networks runs with the assignment's (run_part): the student's need not be there (None)."""
    swapped = ("encoder", "decoder") if part.uses_networks else ()
    missing = [name for name in part.takes if name not in namespace and name not in swapped]
    if missing:
        raise not_defined(missing)
    return [namespace.get(name) for name in part.takes]


def run_part(name, namespace, inputs):
    """The run of the part called name on inputs, in the notebook's namespace; returns its results."""
    part = PARTS[name]
    device = namespace.get("device", "cpu")
    code = code_for(part, namespace)
    if not part.uses_networks:
        return part.run(inputs, device, *code)
    encoder, decoder = (net.to(device) for net in build_networks(SIZES))
    swapped = {"encoder": encoder, "decoder": decoder}
    code = [swapped.get(name, value) for name, value in zip(part.takes, code)]
    saved = {name: namespace[name] for name in swapped if name in namespace}
    namespace.update(swapped)
    try:
        return part.run(inputs, device, *code)
    finally:  # the student's networks back, and none where there was none
        for name in swapped:
            namespace.pop(name)
        namespace.update(saved)


def save(name, results):
    RESULTS.mkdir(exist_ok=True)
    torch.save(results, result_file(RESULTS, name))


def report(name, namespace):
    """Run the part called name on the secret inputs and save what it gave (or the error it raised)."""
    if PARTS[name].visualization and "error" in TRAINED:  # the seed's weights could not be put in place
        save(name, TRAINED["error"])
        return
    try:
        results = run_part(name, namespace, inputs_for(PARTS[name], seed()))
    except Exception as err:  # the student's code failed: that is the part's reason
        results = failed(err)
    save(name, results)


def use_weights(namespace, seed_value=None):
    """Put the seed's weights into the student's encoder and decoder, keeping the trained ones."""
    TRAINED.clear()
    weights = seed_weights(seed() if seed_value is None else seed_value)
    missing = [name for name in ("encoder", "decoder") if name not in namespace]
    if missing:
        TRAINED["error"] = failed(not_defined(missing))
        return
    try:
        layers = [TwoLayers(namespace.get(name), name, sizes)
                  for name, sizes in (("encoder", ENCODER_SIZES), ("decoder", DECODER_SIZES))]
        TRAINED["weights"] = Weights([(layers[0], weights["encoder"]), (layers[1], weights["decoder"])])
        TRAINED["weights"].put()
    except Exception as err:
        TRAINED["error"] = failed(err)


def restore_weights():
    """Put the trained weights back into the student's networks."""
    if "weights" in TRAINED:
        TRAINED.pop("weights").restore()
