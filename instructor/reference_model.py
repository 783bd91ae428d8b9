"""The assignment's networks, built outside the notebook: for the instructors' tools and the tests only.

This is the architecture that the student's TODOs ask for, so it is not part of
the student edition (instructor/make_student.py ships nothing of instructor/; a
grading copies this module beside the student's notebook, for the probes).
"""
from torch import nn

from helpers import bernoulli_log_density, diag_gaussian_log_density, std_normal_log_density
from vaekit.checkpoints import CheckpointError
from vaekit.evaluation import Model


def build_networks(config):
    """The notebook's architecture, for the tools that work outside it.

    returns (encoder, decoder): nn.Sequential(Linear, Tanh, Linear) modules;
    the encoder maps (B, data_dim) to (B, 2 * latent_dim), i.e. (mu, log_sigma),
    the decoder maps (B, latent_dim) to (B, data_dim) Bernoulli logits
    """
    c = config
    encoder = nn.Sequential(nn.Linear(c["data_dim"], c["hidden_dim"]), nn.Tanh(),
                            nn.Linear(c["hidden_dim"], 2 * c["latent_dim"]))
    decoder = nn.Sequential(nn.Linear(c["latent_dim"], c["hidden_dim"]), nn.Tanh(),
                            nn.Linear(c["hidden_dim"], c["data_dim"]))
    return encoder, decoder


def networks_from_checkpoint(checkpoint, device="cpu"):
    """The trained encoder and decoder of a checkpoint, in eval mode on ``device``."""
    encoder, decoder = build_networks(checkpoint["config"])
    try:
        encoder.load_state_dict(checkpoint["encoder"])
        decoder.load_state_dict(checkpoint["decoder"])
    except RuntimeError as err:
        raise CheckpointError(f"the checkpoint's weights do not match its configuration: {err}") from None
    return encoder.to(device).eval(), decoder.to(device).eval()


def reference_model(encoder, decoder):
    """The evaluation's Model of the two networks, with the solution's densities (helpers.py)."""
    return Model(encode=lambda x: encoder(x).chunk(2, dim=1), decoder=decoder,
                 log_likelihood=lambda x, z: bernoulli_log_density(x, decoder(z)).sum(dim=1),
                 log_prior=std_normal_log_density, log_q=diag_gaussian_log_density)
