"""Loading binarized MNIST, and the message when it is missing or damaged."""
import shutil
import struct

import pytest
import torch
from torchvision.datasets import MNIST

from vaekit.mnist import DamagedFileError, load_mnist, mnist_root


def test_test_set_is_binarized_at_one_half():
    x, labels = load_mnist(train=False)
    assert x.shape == (10_000, 784) and x.dtype == torch.float32
    assert labels.shape == (10_000,) and set(labels.unique().tolist()) == set(range(10))
    reference = MNIST(root=str(mnist_root()), train=False)  # torchvision's own reading
    # Pixel 128/255 > 0.5 is on, 127/255 < 0.5 is off.
    assert torch.equal(x, (reference.data.reshape(10_000, -1) >= 128).float())
    assert torch.equal(labels, reference.targets)


def test_missing_data_names_mnist_root(tmp_path, monkeypatch):
    # No mirror answers, so this holds offline and online alike.
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])
    with pytest.raises(FileNotFoundError, match="MNIST_ROOT.*MNIST/raw/"):
        load_mnist(train=False, root=tmp_path)


def test_bad_train_flag():
    with pytest.raises(TypeError, match="train must be True or False"):
        load_mnist(train="yes")


# --------------------------------------------------------------------------
# Damaged files are named, each with what is wrong with it
# --------------------------------------------------------------------------

def copy_of_test_files(folder):
    """MNIST in folder: copies of the test files (to damage), links to the training files."""
    raw = folder / "MNIST" / "raw"
    raw.mkdir(parents=True)
    source = mnist_root() / "MNIST" / "raw"
    for name in ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        shutil.copy(source / name, raw / name)
    for name in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"):  # torchvision wants all four
        (raw / name).symlink_to((source / name).resolve())
    return raw


def damage(data, how):
    if how == "truncated":
        return data[: len(data) // 2]
    if how == "magic number":
        return b"\x00\x00\x08\x04" + data[4:]  # an int32 IDX header instead of unsigned bytes
    if how == "header sizes":
        return data[:4] + struct.pack(">I", 9999) + data[8:]
    if how == "too long":
        return data + b"\x00" * 10
    if how == "empty":
        return b""
    raise ValueError(how)


@pytest.mark.parametrize("name", ["t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"])
@pytest.mark.parametrize("how, words", [
    ("truncated", "\\(truncated\\)"),
    ("magic number", "magic number"),
    ("header sizes", "header gives the sizes"),
    ("too long", "longer than it should be"),
    ("empty", "\\(truncated\\): it has 0 bytes"),
])
def test_a_damaged_file_is_named_with_what_is_wrong(tmp_path, monkeypatch, name, how, words):
    monkeypatch.setattr(MNIST, "mirrors", ["http://127.0.0.1:9/"])
    raw = copy_of_test_files(tmp_path)
    (raw / name).write_bytes(damage((raw / name).read_bytes(), how))
    with pytest.raises(DamagedFileError, match=f"{name} is damaged.*{words}.*Delete it"):
        load_mnist(train=False, root=tmp_path)


def test_a_label_out_of_range_is_named(tmp_path):
    raw = copy_of_test_files(tmp_path)
    labels = bytearray((raw / "t10k-labels-idx1-ubyte").read_bytes())
    labels[100] = 42
    (raw / "t10k-labels-idx1-ubyte").write_bytes(bytes(labels))
    with pytest.raises(DamagedFileError, match="t10k-labels-idx1-ubyte is damaged: it holds a label of 42"):
        load_mnist(train=False, root=tmp_path)


def test_whole_copies_load(tmp_path):
    copy_of_test_files(tmp_path)
    x, labels = load_mnist(train=False, root=tmp_path)
    assert x.shape == (10_000, 784) and labels.max().item() == 9
