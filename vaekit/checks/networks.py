"""The student's networks as a check uses them: found by the shapes of their parameters.

Any module works (nn.Sequential or a class of the student's own, weights
stored as (out, in) like Linear or transposed): TwoLayers finds the four
parameters of Linear, tanh, Linear by their shapes, Weights puts given
weights into them and the trained ones back, and CallRecorder records what a
network was called on.
"""
import torch

from vaekit.checks.compare import expect


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
               f"{name} must be a torch.nn.Module ({self.architecture}), found {type(network).__name__}",
               "not-a-module")
        found = list(network.parameters())
        shapes = [tuple(p.shape) for p in found]
        wanted = [((n_hidden, n_in), (n_in, n_hidden)), ((n_hidden,),),
                  ((n_out, n_hidden), (n_hidden, n_out)), ((n_out,),)]
        self.params, self.transposed = [], []
        for options in wanted:
            match = [p for p in found if tuple(p.shape) in options]
            expect(len(found) == 4 and len(match) == 1,
                   f"{name}: expected {self.architecture}, i.e. 4 parameters: weights of {n_hidden}x{n_in} and "
                   f"{n_out}x{n_hidden} and biases of {n_hidden} and {n_out}; found parameters of shapes {shapes}",
                   "wrong-architecture")
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
    """Given weights in the networks, their own put back after, with no gradients left behind.

    pairs: [(TwoLayers, [W1, b1, W2, b2] in Linear's layout)]
    Use it as a context manager (with Weights(pairs): ...) or call put() and restore().
    """

    def __init__(self, pairs):
        self.pairs = pairs
        self.saved = [[p.detach().clone() for p in layers.params] for layers, _ in pairs]

    def put(self):
        for layers, weights in self.pairs:
            layers.load(weights)

    def restore(self):
        with torch.no_grad():
            for (layers, _), saved in zip(self.pairs, self.saved):
                for p, s in zip(layers.params, saved):
                    p.copy_(s)
                    p.grad = None

    def __enter__(self):
        self.put()
        return self

    def __exit__(self, *exc):
        self.restore()
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
