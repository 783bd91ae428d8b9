"""Binarized MNIST as one tensor, for the notebook.

The raw files are checked (header, size, labels), read once, scaled to [0, 1]
(pixel / 255) and binarized with ``> 0.5``; ``torchvision.datasets.MNIST``
downloads them when they are missing (importing torchvision takes seconds, so
it is imported only then). Holding the whole set as a single (N, 784) tensor
on the training device means a mini-batch is one indexing operation, with no
per-image transform in the training loop.
"""
import os
import struct
from pathlib import Path

import torch

DEFAULT_ROOT = "data"
RAW_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
             "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")
IMAGES_MAGIC, LABELS_MAGIC = 2051, 2049  # the IDX headers: unsigned bytes, 3 or 1 dimensions


class DamagedFileError(ValueError):
    """An MNIST file that is there but not whole; the message names it and says how to replace it."""


def expected_layout(name):
    """(magic number, header fields after the magic, total size in bytes) of an MNIST raw file."""
    count = 60000 if name.startswith("train") else 10000
    if "images" in name:
        return IMAGES_MAGIC, (count, 28, 28), 16 + count * 28 * 28
    return LABELS_MAGIC, (count,), 8 + count


def check_raw_file(path):
    """Raise DamagedFileError unless the MNIST raw file at path has the right header, size and labels."""
    path = Path(path)
    magic, dims, size = expected_layout(path.name)
    replace = (f"Delete it and run again with internet access to download a fresh copy, or replace it with "
               f"the original {path.name} (uncompressed) from an MNIST mirror.")
    actual = path.stat().st_size
    with open(path, "rb") as f:
        header = f.read(4 + 4 * len(dims))
        if len(header) < 4 + 4 * len(dims):
            raise DamagedFileError(f"{path} is damaged (truncated): it has {actual} bytes, the MNIST file "
                                   f"has {size}. {replace}")
        found_magic, *found_dims = struct.unpack(f">{1 + len(dims)}I", header)
        if found_magic != magic:
            raise DamagedFileError(f"{path} is damaged: it does not start with the MNIST magic number "
                                   f"{magic} (found {found_magic}), so it is not an uncompressed MNIST "
                                   f"{'image' if magic == IMAGES_MAGIC else 'label'} file. {replace}")
        if tuple(found_dims) != dims:
            raise DamagedFileError(f"{path} is damaged: its header gives the sizes {tuple(found_dims)}, "
                                   f"MNIST's are {dims}. {replace}")
        if actual != size:
            what = "truncated" if actual < size else "longer than it should be"
            raise DamagedFileError(f"{path} is damaged ({what}): it has {actual} bytes, the MNIST file has "
                                   f"{size}. {replace}")
        if magic == LABELS_MAGIC:
            labels = f.read()
            if max(labels) > 9:
                raise DamagedFileError(f"{path} is damaged: it holds a label of {max(labels)}, MNIST's "
                                       f"labels are 0 to 9. {replace}")


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
    raises FileNotFoundError when the files are missing and cannot be downloaded,
    DamagedFileError naming a file that is there but damaged
    """
    if not isinstance(train, bool):
        raise TypeError(f"train must be True or False, got {train!r}")
    root = Path(root) if root is not None else mnist_root()
    prefix = "train" if train else "t10k"
    raw = root / "MNIST" / "raw"
    images, labels = (raw / name for name in RAW_FILES if name.startswith(prefix))
    for path in (images, labels):  # a damaged file is named, not mistaken for a missing one
        if path.is_file():
            check_raw_file(path)
    if not (images.is_file() and labels.is_file()):
        download(root)
        for path in (images, labels):
            check_raw_file(path)
    pixels = torch.frombuffer(bytearray(images.read_bytes()[16:]), dtype=torch.uint8).view(-1, 28 * 28)
    x = (pixels.float() / 255.0 > 0.5).float()
    return x.to(device), torch.frombuffer(bytearray(labels.read_bytes()[8:]), dtype=torch.uint8).long().to(device)


def download(root):
    """Download the four raw files into root/MNIST/raw (torchvision), or raise FileNotFoundError saying how
    to provide them."""
    from torchvision.datasets import MNIST
    try:
        MNIST(root=str(root), train=True, download=True)
    except Exception as err:  # torchvision raises URLError, RuntimeError, ...
        raise FileNotFoundError(
            f"MNIST is not in {root.resolve()} and could not be downloaded "
            f"({type(err).__name__}: {err}). Set MNIST_ROOT to a folder that holds "
            f"MNIST/raw/ with the files {', '.join(RAW_FILES)} "
            "(uncompressed), or connect to the internet to download them."
        ) from None
