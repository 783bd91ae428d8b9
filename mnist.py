"""Binarized MNIST as one tensor, for the notebook, the tools and the tests.

The images are read once through ``torchvision.datasets.MNIST``, scaled to
[0, 1] (pixel / 255) and binarized with ``> 0.5``. Holding the whole set as a
single (N, 784) tensor on the training device means a mini-batch is one
indexing operation, with no per-image transform in the training loop.
"""
import os
from pathlib import Path

import torch
from torchvision.datasets import MNIST

DEFAULT_ROOT = "data"
RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def mnist_root():
    """The data folder: $MNIST_ROOT if set, else ``data/``."""
    return Path(os.environ.get("MNIST_ROOT", DEFAULT_ROOT))


def load_mnist(train=True, root=None, device="cpu"):
    """Load MNIST, binarized.

    train:  True for the 60 000 training images, False for the 10 000 test ones
    root:   folder holding ``MNIST/raw/*-ubyte``; default :func:`mnist_root`.
            Missing files are downloaded there when the network allows.
    device: where the returned tensors live
    returns x: (N, 784) float32 of 0. and 1., labels: (N,) int64 in 0..9
    """
    if not isinstance(train, bool):
        raise TypeError(f"train must be True or False, got {train!r}")
    root = Path(root) if root is not None else mnist_root()
    try:
        dataset = MNIST(root=str(root), train=train, download=True)
    except Exception as err:  # torchvision raises URLError, RuntimeError, ...
        raise FileNotFoundError(
            f"MNIST is not in {root.resolve()} and could not be downloaded "
            f"({type(err).__name__}: {err}). Set MNIST_ROOT to a folder that holds "
            f"MNIST/raw/ with the files {', '.join(RAW_FILES)} "
            "(uncompressed), or connect to the internet to download them."
        ) from None
    greyscale = dataset.data.reshape(len(dataset), -1).float() / 255.0
    x = (greyscale > 0.5).float()
    return x.to(device), dataset.targets.to(device)
