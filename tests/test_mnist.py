"""Loading binarized MNIST, and the message when it is missing."""
import pytest
import torch
from torchvision.datasets import MNIST

from mnist import load_mnist


def test_test_set_is_binarized_at_one_half():
    x, labels = load_mnist(train=False)
    assert x.shape == (10_000, 784) and x.dtype == torch.float32
    assert labels.shape == (10_000,) and set(labels.unique().tolist()) == set(range(10))
    raw = MNIST(root=str(__import__("mnist").mnist_root()), train=False).data.reshape(10_000, -1)
    # Pixel 128/255 > 0.5 is on, 127/255 < 0.5 is off.
    assert torch.equal(x, (raw >= 128).float())


def test_missing_data_names_mnist_root(tmp_path, monkeypatch):
    # No mirror answers, so this holds offline and online alike.
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(FileNotFoundError, match="MNIST_ROOT.*MNIST/raw/"):
        load_mnist(train=False, root=tmp_path)


def test_bad_train_flag():
    with pytest.raises(TypeError, match="train must be True or False"):
        load_mnist(train="yes")
