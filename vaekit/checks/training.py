"""The checks of the ELBO and of training.

These two compare with the student's own functions, not with stored values:
the ELBO is random, and training depends on it. check_elbo reads off the
noise elbo drew (from the codes it handed to the decoder) and redoes the
computation with the student's joint_log_density and log_q, already checked,
at the same noise: z is rebuilt as mu + sigma * eps, so the gradients through
it can be compared too. check_train runs a few steps of train() from fixed
weights and compares each step with the student's own loss. When grading,
the references are the grader's own, computed in float64.
"""
import math
import tempfile
from pathlib import Path

import torch
from torch.optim.optimizer import register_optimizer_step_pre_hook

from vaekit.checks.compare import describe, expect, max_difference
from vaekit.checks.networks import CallRecorder, TwoLayers, Weights
from vaekit.checks.part import (DATA_DIM, DECODER_SIZES, ENCODER_SIZES, LATENT_DIM, Part, networks_inputs, plain,
                                public_check, report)

NOISE_DRAWS = 4000  # codes drawn for one digit, to test that elbo's noise is standard normal
TRAIN_STEPS, BATCH_SIZE, LEARNING_RATE = 3, 200, 1e-3
PARAMETER_NAMES = [f"{net} {what}" for net in ("encoder", "decoder")
                   for what in ("first weight", "first bias", "second weight", "second bias")]


# ---------------------------------------------------------------------------
# elbo and loss
# ---------------------------------------------------------------------------

def elbo_inputs(g):
    return networks_inputs(g, 16)


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


def single_call(codes, n, what):
    """The codes of the one call of the decoder that what made, one code per digit."""
    shapes = [tuple(z.shape) if isinstance(z, torch.Tensor) else describe(z) for z in codes]
    expect(shapes == [(n, LATENT_DIM)],
           f"{what}: expected one call of decoder with one code per digit, shape {(n, LATENT_DIM)}; "
           f"found {len(shapes)} call(s) with shapes {shapes}", "not-one-decoder-call")
    return codes[0]


def elbo_codes(inputs, results):
    """The codes that elbo(x), loss(x) and elbo of one digit repeated decoded (checked: one call each)."""
    n = len(inputs["x"])
    estimate = results["estimate"]
    expect(isinstance(estimate, torch.Tensor) and estimate.dim() == 0,
           "elbo(x): expected one number (a 0-d tensor), the mean over the batch; found "
           f"{tuple(estimate.shape) if isinstance(estimate, torch.Tensor) else describe(estimate)}",
           "not-one-number")
    expect(results["requires_grad"], "elbo(x): expected a result that gradients can flow through, found one "
                                     "detached from the networks", "detached")
    return (single_call(results["codes"], n, "elbo(x)"), single_call(results["loss_codes"], n, "loss(x)"),
            single_call(results["noise_codes"], NOISE_DRAWS, "elbo(x)"))


def closed_form_kl(mu, log_sigma):
    """The batch mean of KL(q(z | x) || N(0, I)) in closed form, for the diagnosis of an ELBO computed
    with it: the assignment asks for the one-draw estimate of both terms."""
    return (0.5 * (mu ** 2 + (2 * log_sigma).exp() - 1) - log_sigma).sum(1).mean().item()


def scalings(batch):
    """What a result off by a factor most likely is: {factor: (cause, text)}."""
    return {-1.0: ("negated", "the value negated: the loss (-ELBO) where the ELBO belongs, or the other way round?"),
            float(batch): ("sum-over-batch", f"the sum over the batch of {batch} digits, not the mean"),
            1 / batch: ("divided-by-batch", f"the value divided by the batch size, {batch}, once more: the mean is "
                                            "already over the batch"),
            1 / DATA_DIM: ("divided-by-pixels", f"the value divided by {DATA_DIM}: per pixel where the whole digit "
                                                "belongs?")}


def elbo_diagnosis(estimate, terms, batch):
    """What an ELBO estimate is, as a combination of its terms at the codes drawn (batch means: log p(x | z),
    log p(z), log q(z | x), the closed-form KL, log q(mu | x), the density of q at its mean, and log p(0),
    the prior's normalising constant, - log(2 pi)): the
    likelihood as a mean over pixels or not, what stands beside it where log p(z) - log q(z | x) belongs,
    and the whole scaled (scalings). The simplest combination within the tolerance, of one or two of these
    mistakes, is named: (cause, text), or ("no-diagnosis", None)."""
    likelihood, prior, q, kl, q_at_mu, prior_at_zero = terms
    log_2pi = -prior_at_zero  # the normalising constant of a 2-D Gaussian's log density, negated
    rests = {  # what stands where log p(z) - log q(z | x) belongs: (cause, text) or None, and its value
        None: prior - q,
        ("prior-missing", "log p(x | z) - log q(z | x): is log p(z) missing?"): -q,
        ("q-missing", "log p(x, z) alone: is - log q(z | x) missing?"): prior,
        ("prior-in-place-of-q", "log p(x, z) - log p(z): the prior in place of q?"): 0.0,
        ("q-sign-flipped", "log p(x, z) + log q(z | x): the sign of log q flipped?"): prior + q,
        ("prior-subtracted", "log p(x | z) - log p(z) - log q(z | x): the sign of log p(z) flipped?"): -prior - q,
        ("q-summed", f"log q(z | x) summed over the batch of {batch} digits, the rest averaged"): prior - batch * q,
        ("q-at-mu", "log q(mu | x): log q at the mean mu rather than at the code z drawn?"): prior - q_at_mu,
        ("closed-form-kl", "log p(x | z) - KL(q || p) with the KL in closed form: elbo must be the one-draw "
                           "estimate log p(x, z) - log q(z | x) at the code it drew"): -kl,
        ("closed-form-kl-added", "log p(x | z) + KL(q || p), the KL in closed form and added: its sign flipped, "
                                 "and the one-draw estimate log p(x, z) - log q(z | x) belongs"): kl,
        ("q-constant-missing", "the ELBO with log q(z | x) short of its normalising constant, - log(2 pi)"):
            prior - q - log_2pi,
        ("prior-constant-missing", "the ELBO with log p(z) short of its normalising constant, - log(2 pi)"):
            prior - q + log_2pi,
        ("q-constant-halved", "the ELBO with log q(z | x)'s normalising constant that of one dimension, "
                              "- log(2 pi) / 2"): prior - q - log_2pi / 2,
        ("prior-constant-halved", "the ELBO with log p(z)'s normalising constant that of one dimension, "
                                  "- log(2 pi) / 2"): prior - q + log_2pi / 2}
    likelihoods = {None: likelihood, ("mean-over-pixels", "log p(x | z) averaged over the 784 pixels: a mean where "
                                                          "a sum belongs?"): likelihood / DATA_DIM}
    scales = {1.0: None, **scalings(batch)}
    candidates = sorted(((sum(key is not None for key in keys), keys, scale * (value + rest))
                         for scale, scaled in scales.items()
                         for named, value in likelihoods.items() for rest_named, rest in rests.items()
                         for keys in [(scaled, named, rest_named)]), key=lambda candidate: candidate[0])
    for changes, keys, value in candidates:
        if 0 < changes <= 2 and abs(estimate - value) < 2e-3 + 1e-5 * abs(value):
            named = [key for key in keys if key is not None]
            return "-and-".join(cause for cause, _ in named), "; and ".join(text for _, text in named)
    return "no-diagnosis", None


def compare_elbo(inputs, results, expected, figure=None):
    """expected: "estimate" and "grads" (Linear's layout) at the codes elbo(x) decoded, "terms" there (the
    batch means of log p(x | z), log p(z), log q(z | x), the closed-form KL, log q(mu | x), and log p(0), for
    the diagnoses: elbo_diagnosis), "loss" at the codes loss(x) decoded, "noise": the standard normal draws
    behind the codes of one digit repeated."""
    elbo_codes(inputs, results)
    estimate, wanted = results["estimate"].item(), expected["estimate"]
    cause, matched = elbo_diagnosis(estimate, expected["terms"], len(inputs["x"]))
    expect(abs(estimate - wanted) < 2e-3 + 1e-5 * abs(wanted),
           f"elbo(x): expected {wanted:.4f}, the mean over the batch of log p(x, z) - log q(z | x) at the codes "
           f"it drew, found {estimate:.4f}" + (f"; it matches {matched}" if matched else
                                               f"; off by {estimate - wanted:+.4g}"), cause)
    for name, grad, want in zip(PARAMETER_NAMES, results["grads"], expected["grads"]):
        scale = want.abs().max().item()
        expect(isinstance(grad, torch.Tensor) and grad.abs().max().item() > 0,
               f"elbo(x): no gradient reaches the {name}; expected gradients of size up to {scale:.3g}",
               "no-gradient")
        difference = max_difference(grad, want)
        expect(difference <= 1e-3 * scale + 1e-6,
               f"elbo(x): expected the gradient with respect to the {name} of the reparameterized estimate, found "
               f"one off by up to {difference:.3g} (the gradient is up to {scale:.3g}); z must be mu + sigma * eps "
               "so that gradients flow through it", "wrong-gradient")
    value, wanted = results["loss"], expected["loss"]
    number = value.item() if isinstance(value, torch.Tensor) and value.numel() == 1 else None
    cause, scaled = next(((cause, f"; it is {text}") for factor, (cause, text) in scalings(len(inputs["x"])).items()
                          if number is not None and abs(number - factor * wanted) < 2e-3 + 1e-5 * abs(wanted)),
                         ("not-negative-elbo", ""))
    expect(number is not None and value.dim() == 0 and results["loss_requires_grad"]
           and abs(number - wanted) < 2e-3 + 1e-5 * abs(wanted),
           f"loss(x): expected -elbo(x) = {wanted:.4f} as a 0-d tensor with gradients, found "
           f"{describe(value) if number is None else number}" + scaled, "loss-" + cause)
    mean, sd = expected["noise"].mean(0), expected["noise"].std(0)
    expect(bool((mean.abs() < 0.1).all() and ((sd - 1).abs() < 0.1).all()),
           f"elbo(x): expected codes z = mu + sigma * eps with eps ~ N(0, I); over {NOISE_DRAWS} draws the noise "
           f"(z - mu) / sigma has mean {[round(v, 3) for v in mean.tolist()]} and sd {[round(v, 3) for v in sd.tolist()]}",
           "noise-not-standard-normal")
    return ["elbo is one number: the mean over the batch of log p(x, z) - log q(z | x), one draw per digit",
            "its gradients with respect to both networks match the reparameterized estimate: ok",
            "the noise is standard normal, and loss = -elbo: ok"]


ELBO_AND_LOSS = Part("elbo and loss", ("elbo", "loss", "encoder", "decoder"), elbo_inputs, run_elbo,
                     compare_elbo, uses_networks=True)


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
                         log_q(z_drawn, mu, log_sigma).mean().item(), closed_form_kl(mu, log_sigma),
                         log_q(mu, mu, log_sigma).mean().item(), log_prior(torch.zeros_like(mu[:1])).item()]
                loss_value = -mean_elbo(loss_codes).item()
                mu, log_sigma = encode(x[:1])
                noise = ((noise_codes - mu) / log_sigma.exp()).double().cpu()
        return {"estimate": estimate.item(), "grads": grads, "terms": terms, "loss": loss_value, "noise": noise}
    public_check(ELBO_AND_LOSS, device, elbo, loss, encoder, decoder, expected=own)


# ---------------------------------------------------------------------------
# train
# ---------------------------------------------------------------------------

def train_inputs(g):
    return networks_inputs(g, TRAIN_STEPS * BATCH_SIZE)


class StepWatcher:
    """Watches every optimizer step while open: whether the gradient of one parameter (the decoder's
    last bias) at the step is the one the latest backward pass computed, or none at all (None or zero), how
    many passes ran since the last step, and the weights the step starts from (layers: the TwoLayers of
    both networks)."""

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
        cleared = grad is None or not bool(grad.any())
        self.steps.append([self.passes, fresh, cleared])
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


def compare_train(inputs, results, expected, figure=None):
    """expected: "losses", the loss of each step, within "loss_tolerance"; then either "after" (the
    weights after Adam's steps, [W1, b1, W2, b2] of both networks, and "variants", {(cause, text): the
    weights after a wrong training loop}, for the diagnoses) or, where Adam is not computed by
    hand (the notebook's check), "first_step": the sign of Adam's first step of the decoder's last bias."""
    batches, codes, history = results["batches"], results["codes"], results["history"]
    expect(len(batches) == TRAIN_STEPS and len(codes) == TRAIN_STEPS,
           f"train: expected one evaluation of the loss per mini-batch ({TRAIN_STEPS} batches of {BATCH_SIZE}), "
           f"found {len(batches)} calls of the encoder and {len(codes)} of the decoder", "not-one-loss-per-batch")
    expect(not any(torch.equal(a, b) for i, a in enumerate(batches) for b in batches[i + 1:]),
           f"train: expected {TRAIN_STEPS} different mini-batches of x, one per step, found the same batch at two "
           "steps: is the loss computed on a fixed batch (e.g. x[:batch_size]) rather than the loop's batch?",
           "same-batch-every-step")
    expect(isinstance(history, list) and len(history) == 1 and isinstance(history[0], float),
           f"train: expected a list with one mean loss per epoch (1 epoch), found {describe(history)}",
           "history-not-per-epoch")
    steps = results["steps"]
    expect(len(steps) == TRAIN_STEPS, f"train: expected one optimizer step per mini-batch ({TRAIN_STEPS}), "
                                      f"found {len(steps)} (is optimizer.step() called?)", "not-one-step-per-batch")
    for number, (passes, fresh, cleared) in enumerate(steps, start=1):
        piled, emptied = passes == 1 and not fresh and not cleared, passes == 1 and cleared
        expect(passes == 1 and fresh,
               f"train: at step {number}, expected the gradients of this batch's loss, from one backward pass "
               f"since the last step; found {passes} pass(es)"
               + (", and gradients piled up from earlier steps (reset them: optimizer.zero_grad())" if piled else
                  ", and no gradient at the step (is optimizer.zero_grad() called between loss.backward() and "
                  "optimizer.step()?)" if emptied else
                  " (is loss.backward() called before optimizer.step()?)" if passes == 0 else ""),
               "gradients-not-reset" if piled else "gradients-cleared-before-step" if emptied else
               "no-backward" if passes == 0 else "several-backward-passes")
    start = inputs["encoder"] + inputs["decoder"]
    mean_loss = sum(expected["losses"]) / len(expected["losses"])

    def expect_mean_loss():  # after the steps' checks, which name a wrong step better than its loss does
        cause, scaled = next(((cause, f"; it is {text}") for factor, (cause, text) in scalings(BATCH_SIZE).items()
                              if abs(history[0] - factor * mean_loss) <= abs(factor) * expected["loss_tolerance"]),
                             ("wrong-mean-loss", ""))
        expect(abs(history[0] - mean_loss) <= expected["loss_tolerance"],
               f"train: expected the epoch's mean loss {mean_loss:.3f} (the negative ELBO of each batch, "
               f"averaged), found {history[0]:.3f}" + scaled, cause)

    expect(results["written"], "train: expected a checkpoint to be written after the epoch", "no-checkpoint")
    if expected.get("after") is not None:
        def off(found, reference, index):  # the size of the difference of two weights' changes, relative
            step_found, step_expected = (found - start[index]).double(), (reference - start[index]).double()
            return (step_found - step_expected).norm().item() / step_expected.norm().item()

        for index, (name, after, reference) in enumerate(zip(PARAMETER_NAMES, results["after"], expected["after"])):
            error = off(after, reference, index)
            cosine = torch.nn.functional.cosine_similarity((after - start[index]).double().flatten(),
                                                           (reference - start[index]).double().flatten(), dim=0)
            opposite = cosine.item() < -0.9  # each weight moved against Adam's step
            cause, text = next(((cause, f"; it matches {text}") for (cause, text), weights
                                in expected.get("variants", {}).items() if off(after, weights[index], index) < 0.02),
                               ("ascends-the-loss", "; it is Adam's change reversed: is the sign of the loss flipped?")
                               if opposite else
                               ("not-adam-steps", " (wrong sign, no update, or gradients not reset between steps?)"))
            expect(error < 0.02, f"train: expected {TRAIN_STEPS} steps from the same weights to change the {name} "
                                 f"as Adam on the negative ELBO does, found a change off by {error:.0%} of its size"
                                 + text, cause)
        expect_mean_loss()
        return [f"train: {TRAIN_STEPS} steps from fixed weights match Adam on the negative ELBO: ok",
                "one mean loss per epoch, and a checkpoint written: ok"]
    moved = results["after"][7] - start[7]
    agree = (moved.sign() == expected["first_step"]).double().mean().item()
    expect(agree > 0.9, "train: expected the steps to go down the gradient of loss(x), found the decoder's last "
                        f"bias moving that way in {agree:.0%} of its entries (is the sign of the loss right?)",
           "ascends-the-loss")
    size = moved.abs().max().item()
    expect(0.5 * LEARNING_RATE < size <= 1.5 * TRAIN_STEPS * LEARNING_RATE,
           f"train: expected {TRAIN_STEPS} Adam steps, each moving a weight by about the learning rate "
           f"{LEARNING_RATE:g}; found the decoder's last bias moved by up to {size:.3g}", "wrong-step-size")
    expect_mean_loss()
    return [f"train: {TRAIN_STEPS} steps from fixed weights: one loss, one backward pass and one Adam step per "
            "mini-batch, down the gradient: ok", "one mean loss per epoch, and a checkpoint written: ok"]


TRAIN = Part("train", ("train", "encoder", "decoder", "CONFIG"), train_inputs, run_train, compare_train,
             uses_networks=True)


def check_train(train, loss, encoder, decoder, config, device):
    """Steps of train() from fixed weights: one loss, one backward pass and one optimizer step per
    mini-batch, with fresh gradients, going down the gradient of the student's own loss (checked above)
    by Adam's step size. The loss of each step is the student's on the same batch with fresh noise."""
    def own(inputs, results):
        batches = results["batches"]
        expect(len(batches) == TRAIN_STEPS, f"train: expected one evaluation of the loss per mini-batch "
                                            f"({TRAIN_STEPS} batches of {BATCH_SIZE}), found {len(batches)}",
               "not-one-loss-per-batch")
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
    public_check(TRAIN, device, train, encoder, decoder, config, expected=own)


def check_training_run(loss_history, config, checkpoint):
    """One loss per epoch, falling from the first epoch to the last (when there are two or more), and the
    checkpoint on disk."""
    expect(len(loss_history) == config["n_epochs"],
           f"loss_history: expected one loss per epoch ({config['n_epochs']}), found {len(loss_history)}",
           "history-not-per-epoch")
    expect(Path(checkpoint).is_file(), f"expected a checkpoint at {checkpoint}", "no-checkpoint")
    if len(loss_history) == 1:
        report(["one loss for the one epoch, and the checkpoint is on disk: ok"])
        return
    expect(loss_history[-1] < loss_history[0],
           f"loss_history: expected the loss to fall, found {loss_history[0]:.2f} then {loss_history[-1]:.2f}",
           "loss-not-falling")
    report(["one loss per epoch, the loss went down, and the checkpoint is on disk: ok"])
