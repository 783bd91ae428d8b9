"""Training survives real kills: SIGKILL between epochs and in the middle of a checkpoint write.

Each run is a fresh Python process executing the notebook's own cells (the
networks, the ELBO and train()) on 2000 training digits.
"""
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from vaekit.checkpoints import load_checkpoint

ROOT = Path(__file__).resolve().parents[1]
N_EPOCHS = 4

CHILD = r'''
import io, sys, time
from pathlib import Path
import torch
from tools.notebook_code import notebook_namespace
from vaekit import training

mode, path, markers = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
nb = notebook_namespace()
config = {**nb["CONFIG"], "n_epochs": int(sys.argv[4])}
real_save_checkpoint, real_torch_save = training.save_checkpoint, torch.save

def save_and_pause(checkpoint_path, state):
    """Between epochs: save, leave a marker, and wait a moment to be killed."""
    real_save_checkpoint(checkpoint_path, state)
    (markers / f"saved-{state['epoch']}").touch()
    time.sleep(1.0)

def half_write_then_hang(obj, f):
    """The third checkpoint: write half of it, leave a marker, and hang."""
    if not list(markers.glob("saved-2")):
        return real_torch_save(obj, f)
    data = io.BytesIO()
    real_torch_save(obj, data)
    f.write(data.getvalue()[: len(data.getvalue()) // 2])
    f.flush()
    (markers / "mid-write").touch()
    time.sleep(600)

if mode == "pause":
    training.save_checkpoint = save_and_pause
elif mode == "hang":
    training.save_checkpoint = save_and_pause
    torch.save = half_write_then_hang
torch.manual_seed(0)
nb["train"](nb["encoder"], nb["decoder"], nb["x_train"][:2000], config, path, show_progress=False)
'''


def start(mode, path, markers, n_epochs=N_EPOCHS):
    markers.mkdir(exist_ok=True)
    env = {**os.environ, "MNIST_ROOT": str(Path(os.environ.get("MNIST_ROOT", "data")).resolve())}
    return subprocess.Popen([sys.executable, "-c", CHILD, mode, str(path), str(markers), str(n_epochs)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)


def run(mode, path, markers, n_epochs=N_EPOCHS):
    child = start(mode, path, markers, n_epochs)
    output, _ = child.communicate(timeout=600)
    assert child.returncode == 0, output
    return load_checkpoint(path)


def kill_when(child, marker, timeout=300):
    deadline = time.monotonic() + timeout
    while not marker.exists():
        assert child.poll() is None, child.communicate()[0]
        assert time.monotonic() < deadline, f"{marker.name} never appeared"
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert child.returncode == -signal.SIGKILL


def same_weights(a, b):
    return all(torch.equal(a[net][k], b[net][k]) for net in ("encoder", "decoder") for k in a[net])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    folder = tmp_path_factory.mktemp("whole")
    return run("plain", folder / "run.pt", folder / "markers")


def test_same_seed_same_threads_gives_bitwise_identical_weights(uninterrupted, tmp_path):
    again = run("plain", tmp_path / "run.pt", tmp_path / "markers")
    assert again["loss_history"] == uninterrupted["loss_history"]
    assert same_weights(again, uninterrupted)


def test_sigkill_between_epochs_loses_at_most_one_epoch(uninterrupted, tmp_path):
    path, markers = tmp_path / "run.pt", tmp_path / "markers"
    child = start("pause", path, markers)
    kill_when(child, markers / "saved-2")
    assert load_checkpoint(path)["epoch"] == 2  # the file on disk is the last finished epoch
    resumed = run("plain", path, markers)
    assert resumed["epoch"] == N_EPOCHS
    assert resumed["loss_history"] == uninterrupted["loss_history"]
    assert same_weights(resumed, uninterrupted)


def test_sigkill_in_the_middle_of_a_write_never_loads_a_half_written_file(uninterrupted, tmp_path):
    path, markers = tmp_path / "run.pt", tmp_path / "markers"
    child = start("hang", path, markers)
    kill_when(child, markers / "mid-write")
    leftovers = list(tmp_path.glob("run.pt.*.tmp"))
    assert leftovers, "the half-written temporary file is there"
    assert load_checkpoint(path)["epoch"] == 2  # the real name still holds a whole checkpoint
    resumed = run("plain", path, markers)
    assert same_weights(resumed, uninterrupted)
    assert not list(tmp_path.glob("run.pt.*.tmp")), "the leftover is cleaned up"
