"""The benchmark's reference loops compute the loss they claim to."""
import torch

from instructor.reference_model import build_networks
from tools.benchmark import bare_loss, tutorial_loss


def test_bare_and_tutorial_loss_are_the_same_estimate_by_other_formulas():
    """The bare loop's loss (helpers.py's densities) and the tutorial's (log q from eps, constants
    dropped, which cancel) give the same value and gradients for the same draw: the two loops
    train on the same objective, so their ratio is a cost of the formulas only."""
    torch.manual_seed(0)
    encoder, decoder = build_networks({"data_dim": 784, "hidden_dim": 50, "latent_dim": 2})
    x = (torch.rand(16, 784) < 0.3).float()

    losses, gradients = [], []
    for loss in (bare_loss, tutorial_loss):
        torch.manual_seed(1)  # the same eps for both
        value = loss(encoder, decoder, x)
        parameters = [*encoder.parameters(), *decoder.parameters()]
        losses.append(value)
        gradients.append(torch.autograd.grad(value, parameters))

    assert losses[0].shape == ()
    torch.testing.assert_close(losses[0], losses[1], rtol=1e-5, atol=1e-4)
    for bare, tutorial in zip(*gradients):
        torch.testing.assert_close(bare, tutorial, rtol=1e-4, atol=1e-5)

    torch.manual_seed(2)  # another draw gives another estimate: the draw is not fixed inside
    assert not torch.isclose(bare_loss(encoder, decoder, x), losses[0])
